"""A built oracle exported as standard benchmark items: the harness (check_candidate, `evaluate`) must judge a
translation as the oracle itself does, with no C++ compiled at scoring time for functions."""
from __future__ import annotations

import json
import shutil

import pytest

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")
pytest.importorskip("tree_sitter_cpp")

from cpp2py.execution.checks import check_candidate  # noqa: E402
from cpp2py.execution.oracle import build_oracle  # noqa: E402
from cpp2py.execution.oracle.export import benchmark_items  # noqa: E402
from cpp2py.jobs.evaluate import EvaluateConfig, evaluate  # noqa: E402

CPP = r"""
#include <vector>
using namespace std;

class Solution {
public:
    int maxWindowSum(vector<int>& nums, int k) {
        int best = 0, cur = 0;
        for (int i = 0; i < (int)nums.size(); ++i) {
            cur += nums[i];
            if (i >= k) cur -= nums[i - k];
            best = max(best, cur);
        }
        return best;
    }
};

void doubleAll(vector<int>& v, int& count) {
    for (auto& x : v) x *= 2;
    count = v.size();
}
"""

RIGHT = """
class Solution:
    def maxWindowSum(self, nums, k):
        best = cur = 0
        for i in range(len(nums)):
            cur += nums[i]
            if i >= k:
                cur -= nums[i - k]
            best = max(best, cur)
        return best


def double_all(v):
    for i in range(len(v)):
        v[i] *= 2
    return len(v)
"""
# Right except on windows longer than the array: the generated cases include such k.
WRONG = RIGHT.replace("if i >= k:", "if i >= min(k, 2):")
CRASHES = RIGHT.replace("return len(v)", "return len(v) // 0")


@pytest.fixture(scope="module")
def oracle():
    built = build_oracle(CPP)
    assert built.kind == "function" and len(built.targets) == 2
    return built


@pytest.fixture(scope="module")
def item(oracle):
    (it,) = benchmark_items("fixture/window", CPP, oracle)
    assert it.test and not it.compare_stdout and it.python is None
    return it


def test_right_and_wrong_translations_score_through_evaluate(tmp_path, item):
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps(item.to_dict()) + "\n")
    preds = []
    for name, code in (("right", RIGHT), ("wrong", WRONG), ("crashes", CRASHES)):
        preds.append(tmp_path / f"{name}.jsonl")
        preds[-1].write_text(json.dumps({"id": item.id, "prediction": code}) + "\n")
    res = evaluate(EvaluateConfig(benchmark=str(bench), predictions=[str(p) for p in preds], out=str(tmp_path / "out"),
                                  allow_exec=True, progress=False, plots=False, bootstrap=50))
    assert res["right"]["ca@1"] == 1.0
    assert res["wrong"]["ca@1"] == 0.0 and res["wrong"]["failures"] == {"wrong_answer": 1}
    assert res["crashes"]["ca@1"] == 0.0 and res["crashes"]["failures"] == {"runtime_error": 1}


def test_the_item_judges_as_the_oracle_does(oracle, item):
    for code, passes in ((RIGHT, True), (WRONG, False), (CRASHES, False)):
        assert oracle.check(code).passed is passes
        assert check_candidate(code, item).passed is passes
    wrong = check_candidate(WRONG, item)
    assert "AssertionError: case" in wrong.detail and "maxWindowSum" in wrong.detail


def test_candidate_globals_named_like_the_oracles_helpers_are_left_alone(item):
    # The oracle's code runs in a namespace of its own: a candidate's `normalize` or `key` is not replaced.
    shadowing = RIGHT.replace("class Solution:", "def normalize(x):\n    return x\n\n\nkey = 0\n\n\nclass Solution:") \
        .replace("best = max(best, cur)", "best = normalize(max(best, cur + key))")
    assert check_candidate(shadowing, item).passed


def test_a_missing_function_fails(item):
    verdict = check_candidate(RIGHT.replace("def double_all", "def triple_all"), item)
    assert not verdict.passed and "doubleAll" in verdict.detail


def test_program_oracle_gives_compare_stdout_items():
    cpp = "#include <iostream>\nint main() { int n; std::cin >> n; std::cout << n * n + 1 << std::endl; }\n"
    oracle = build_oracle(cpp)
    items = benchmark_items("fixture/square", cpp, oracle)
    assert len(items) == oracle.cases_total >= 2
    assert [it.id for it in items] == [f"fixture/square#{k}" for k in range(len(items))]
    assert all(it.compare_stdout and it.stdin and it.std == oracle.std and not it.test for it in items)
    for it in items:
        assert check_candidate("n = int(input())\nprint(n * n + 1)\n", it).passed
    assert not all(check_candidate("n = int(input())\nprint(n * n)\n", it).passed for it in items)


def test_the_exported_item_allows_a_scratch_array_as_the_oracle_does():
    # The C++ sorts its array only to compute the result: the oracle accepts a Python that leaves it alone,
    # and so must the exported test, which needs the array as it was before the call to tell.
    cpp = ("#include <bits/stdc++.h>\nusing namespace std;\n"
           "int smallest(int arr[], int n) { sort(arr, arr + n); return arr[0]; }\n")
    oracle = build_oracle(cpp, budget=8)
    (it,) = benchmark_items("fixture/scratch", cpp, oracle)
    untouched = "def smallest(arr, n):\n    return min(arr[:n])\n"
    changed = "def smallest(arr, n):\n    arr.reverse()\n    return min(arr[:n])\n"
    assert oracle.check(untouched).passed and check_candidate(untouched, it).passed
    assert not oracle.check(changed).passed and not check_candidate(changed, it).passed

"""The LeetCode and TheAlgorithms corpora: Python 3 fixes, split by problem, skip reasons, the dev benchmark."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from cpp2py.data import common
from cpp2py.data.leetcode import Verifier, prepare_leetcode
from cpp2py.data.py2to3 import fix_python2
from cpp2py.errors import Cpp2PyError
from cpp2py.files import read_jsonl
from cpp2py.schema import BenchmarkItem


def _run(code: str, call: str):
    ns: dict = {}
    exec(compile(code, "<fixed>", "exec"), ns)  # noqa: S102 - fixture code written in this file
    return eval(call, ns)  # noqa: S307


PY2 = '''"""A Python 2 solution."""
# Time:  O(n)
from itertools import izip, izip_longest  # pairs
import itertools, sys


class Solution(object):
    def f(self, d, a):
        out = []
        for k, v in sorted(d.iteritems()):
            if d.has_key(k + 1): out.append(v)
        for x, y in izip(a, itertools.imap(str, a)):
            out.append(reduce(lambda p, q: p + q, [x, x]))
        out.sort(cmp=lambda p, q: q - p)
        return out + [len(list(izip_longest(a, [1]))), sys.maxint > 0, unichr(97), list(xrange(2))]
'''


def test_python2_fixes_run_under_python3() -> None:
    fixed = fix_python2(PY2)
    assert set(fixed.fixes) == {"dict_iter", "has_key", "itertools", "reduce", "cmp_to_key", "maxint", "unichr",
                                "xrange"}
    assert "from itertools import zip_longest  # pairs" in fixed.code
    assert "(k + 1 in d)" in fixed.code and ".items()" in fixed.code
    assert fixed.code.startswith('"""A Python 2 solution."""\n# Time:  O(n)\nfrom functools import reduce\n'
                                 "from functools import cmp_to_key\n")
    assert _run(fixed.code, "Solution().f({1: 10, 2: 20}, [3, 4])") == [10, 8, 6, 2, True, "a", [0, 1]]
    assert fix_python2(fixed.code).code == fixed.code  # fixed code is left alone


def test_print_statements_become_calls() -> None:
    fixed = fix_python2('import sys\nif 1: print "a", 1,\nprint >>sys.stderr, "e"; print\nprint("kept")\n')
    assert fixed.code == ('import sys\nif 1: print("a", 1, end=" ")\nprint("e", file=sys.stderr); print()\n'
                          'print("kept")\n')
    assert fixed.fixes == ["print"]


def test_unsafe_python2_is_left_for_the_oracle() -> None:
    # `/` on ints, map() used as a list and a local xrange cannot be fixed mechanically without changing meaning
    code = "def f(a, b):\n    xrange = lambda n: [n]\n    return a / b, map(abs, [-1])[0], xrange(3)\n"
    assert fix_python2(code).code == code and not fix_python2(code).changed


def test_non_ascii_columns_do_not_shift_edits() -> None:
    fixed = fix_python2('s = "é" ; r = xrange(2)\n')
    assert fixed.code == 's = "é" ; r = range(2)\n'


# Splits by problem_split: two-sum val, add-one-again test, the rest train; two-sum-iii alone would be test,
# but it is a follow-up of two-sum and goes with it.
CPP = {
    "two-sum-iii": "class Solution {\npublic:\n    long f3(long a) { return a * 3; }\n};\n",
    "two-sum": "class Solution {\npublic:\n    int f(int a) { return a + 1; }\n};\n",
    "add-one": "class Solution {\npublic:\n    int g(int a) { return a + 2; }\n};\n",
    "only-cpp": "class Solution {\npublic:\n    int h() { return 3; }\n};\n",
    "broken-py": "class Solution {\npublic:\n    int k() { return 4; }\n};\n",
    "add-one-again": "class Solution {\npublic:\n    int g(int a) {  return a + 2; }\n};\n",  # add-one, respaced
}
PY = {
    "two-sum": "class Solution(object):\n    def f(self, a):\n        return [a + 1 for _ in xrange(1)][0]\n",
    "add-one": "class Solution(object):\n    def g(self, a):\n        return a + 3\n",
    "broken-py": "class Solution(object):\n    def k(self):\n        return (\n",
    "only-python": "x = 1\n",
}


@pytest.fixture
def leetcode_tar(tmp_path: Path) -> Path:
    path = tmp_path / "LeetCode-Solutions.tar.xz"
    with tarfile.open(path, "w:xz") as tar:
        for folder, files, ext in (("C++", CPP, "cpp"), ("Python", PY, "py")):
            for name, text in files.items():
                raw = text.encode("utf-8")
                info = tarfile.TarInfo(f"{folder}/{name}.{ext}")
                info.size = len(raw)
                tar.addfile(info, io.BytesIO(raw))
    return path


def _by_file(out: Path, pattern: str) -> dict[str, tuple[str, dict]]:
    return {r["problem"]: (p.name, r) for p in sorted(out.glob(pattern)) for r in read_jsonl(p)}


def test_leetcode_unverified_pairs_are_cpp_only_inputs(leetcode_tar: Path, tmp_path: Path) -> None:
    out = tmp_path / "lc"
    stats = prepare_leetcode(leetcode_tar, out)
    assert [common.problem_split(p) for p in ("two-sum", "add-one-again", "add-one", "two-sum-iii")] == \
        ["val", "test", "train", "test"]
    assert not _by_file(out, "[tv]*.jsonl")  # nothing trains before it is verified
    inputs = _by_file(out, "inputs-*.jsonl")
    assert {p: (f, r["skip"]) for p, (f, r) in inputs.items()} == {
        "two-sum": ("inputs-val.jsonl", "not_verified"), "add-one": ("inputs-train.jsonl", "not_verified"),
        "two-sum-iii": ("inputs-val.jsonl", "no_python"),
        "only-cpp": ("inputs-train.jsonl", "no_python"), "broken-py": ("inputs-train.jsonl", "python_syntax_error")}
    for p, (_, r) in inputs.items():
        assert r["python"] is None and r["verified_by"] is None and r["source"] == "leetcode"
        assert r["cpp"] == CPP[p] and r["id"] == f"leetcode/{p}"
    assert inputs["add-one"][1]["python_candidate"] == PY["add-one"]
    assert inputs["two-sum"][1]["python_candidate"] == PY["two-sum"].replace("xrange", "range")
    assert stats["python_only_problems"] == 1
    # add-one-again repeats a train problem's C++ (up to spacing): it must not reach the test split
    assert stats["splits"]["test"] == stats["splits"]["test"] | {"problems": 1, "dropped": {"duplicate_cpp": 1},
                                                                 "inputs_written": 0}


def test_leetcode_verifier_decides_what_becomes_a_pair(leetcode_tar: Path, tmp_path: Path) -> None:
    calls = []

    def check(cpp: str, python: str) -> bool:
        calls.append(cpp)
        return "a + 1" in python and "a + 1" in cpp  # stands in for the oracle: only two-sum's Python matches

    out = tmp_path / "lc"
    stats = prepare_leetcode(leetcode_tar, out, verifier=Verifier("fake-oracle", check))
    pairs = _by_file(out, "[tv]*.jsonl")
    assert set(pairs) == {"two-sum"}
    name, pair = pairs["two-sum"]
    assert name == "val.jsonl" and pair["verified_by"] == "fake-oracle" and pair["cpp"] == CPP["two-sum"]
    assert pair["python"] == PY["two-sum"].replace("xrange", "range")
    assert _by_file(out, "inputs-*.jsonl")["add-one"][1]["skip"] == "verification_failed"
    assert sorted(calls) == sorted([CPP["two-sum"], CPP["add-one"]])  # only parseable candidates are verified
    assert stats["verifier"] == "fake-oracle" and stats["splits"]["val"]["written"] == 1


def test_problem_family_drops_follow_up_suffixes() -> None:
    from cpp2py.data.leetcode import problem_family

    assert [problem_family(p) for p in ("house-robber-iii", "house-robber", "jump-game-ix", "fix", "two-sum-ii-sorted")] \
        == ["house-robber", "house-robber", "jump-game", "fix", "two-sum-ii-sorted"]


def test_problem_split_is_deterministic_and_covers_all_splits() -> None:
    splits = [common.problem_split(f"problem-{i}") for i in range(300)]
    assert splits == [common.problem_split(f"problem-{i}") for i in range(300)]
    share = {s: splits.count(s) / len(splits) for s in common.SPLITS}
    assert 0.7 < share["train"] < 0.9 and 0.04 < share["val"] < 0.16 and 0.04 < share["test"] < 0.16


def test_bad_archive_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.tar.xz"
    bad.write_bytes(b"not a tarball")
    with pytest.raises(Cpp2PyError, match="not a readable tar archive"):
        prepare_leetcode(bad, tmp_path / "out")
    with pytest.raises(Cpp2PyError, match="no C\\+\\+/<problem>.cpp"):
        prepare_leetcode(tmp_path, tmp_path / "out")


ALGO = {
    "math/helper.hpp": "#pragma once\n#include <iostream>\ninline int twice(int x) { return 2 * x; }\n",
    "math/uses_header.cpp": '#include "./helper.hpp"\n#include "helper.hpp"\n'
                            'int main() { std::cout << "twice " << twice(21) << std::endl; return 0; }\n',
    "math/cpp20_only.cpp": "#include <cstdio>\nconsteval int sq(int x) { return x * x; }\n"
                           'int main() { std::printf("%d\\n", sq(7)); }\n',
    # a failed assert aborts: SIGABRT, which the sandbox reports as "killed"
    "sorting/failing_selftest.cpp": "#include <cassert>\nint main() { assert(1 + 1 == 3); }\n",
    "search/no_main.cpp": "int helper(int x) { return x; }\n",
    "others/broken.cpp": "int main() { return undefined_name; }\n",
    # seconds since the epoch: two quick runs agree, so the check must run it twice a second apart
    "others/clock.cpp": "#include <ctime>\n#include <iostream>\nint main() { std::cout << std::time(nullptr); }\n",
    "others/missing.cpp": '#include "nope.h"\nint main() {}\n',
    "others/silent.cpp": "#include <cassert>\nint main() { assert(2 + 2 == 4); }\n",
}


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_thealgorithms_inputs_skips_and_benchmark(tmp_path: Path) -> None:
    from cpp2py.data.thealgorithms import prepare_thealgorithms
    from cpp2py.execution.checks import check_candidate

    src = tmp_path / "C-Plus-Plus"
    for rel, text in ALGO.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text, encoding="utf-8")
    out = tmp_path / "algo"
    stats = prepare_thealgorithms(src, out, bench_splits=common.SPLITS, timeout=10)
    assert stats["skipped"] == {"search/no_main": "no_main", "others/broken": "compile_error",
                                "sorting/failing_selftest": "run_killed", "others/clock": "nondeterministic",
                                "others/missing": "missing_header others/nope.h",
                                "others/silent": "no_output (input only, not a benchmark item)"}
    inputs = _by_file(out, "inputs-*.jsonl")
    assert set(inputs) == {"math/uses_header", "math/cpp20_only", "others/silent"}
    for problem, (name, rec) in inputs.items():
        assert name == f"inputs-{common.problem_split(problem)}.jsonl" and rec["id"] == f"thealgorithms/{problem}"
        assert rec["python"] is None and rec["verified_by"] is None
    header_prog = inputs["math/uses_header"][1]["cpp"]
    assert '#include "' not in header_prog and header_prog.count("inline int twice") == 1
    assert inputs["math/cpp20_only"][1]["std"] == "c++20" and inputs["math/uses_header"][1]["std"] == "c++20"
    bench = {r["id"]: r for r in read_jsonl(out / "thealgorithms-dev.jsonl")}
    assert set(bench) == {"thealgorithms/math/uses_header", "thealgorithms/math/cpp20_only"}
    item = BenchmarkItem.from_dict(bench["thealgorithms/math/cpp20_only"])
    assert item.compare_stdout and item.stdin is None and item.test is None and item.std == "c++20"
    assert stats["benchmark"]["items_printing_only_literals"] == 0  # both print computed values
    # the evaluator compiles the item with its recorded standard, so a C++20-only program still has an oracle
    assert check_candidate("print(49)\n", item).passed
    assert check_candidate("print(48)\n", item).kind == "wrong_answer"


def test_cli_prepare_leetcode_and_bad_input(leetcode_tar: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cpp2py", "prepare", *args], capture_output=True, text=True,
                              env=env, timeout=120)

    ok = cli("leetcode", "--src", str(leetcode_tar), "--out", str(tmp_path / "lc"))
    assert ok.returncode == 0, ok.stderr
    assert "val: 2 problems, 0 verified pairs, 2 C++-only inputs (no_python 1, not_verified 1)" in ok.stderr
    bad = cli("thealgorithms", "--src", str(tmp_path / "nope.tar.xz"), "--out", str(tmp_path / "a"))
    assert bad.returncode == 1 and bad.stderr.strip().splitlines() == [f"error: {tmp_path / 'nope.tar.xz'}: no such "
                                                                       "file or directory"]
    wrong = cli("thealgorithms", "--src", str(leetcode_tar), "--out", str(tmp_path / "a"), "--bench-splits", "dev")
    assert wrong.returncode == 1 and "unknown split(s) dev" in wrong.stderr
    wrong = cli("leetcode", "--src", str(leetcode_tar), "--out", str(tmp_path / "b"), "--bench-splits", "dev")
    assert wrong.returncode == 1 and "unknown split(s) dev" in wrong.stderr


def test_leakage_report_finds_near_copies(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from leakage_report import near_copies

    body = "int f(int n) { int s = 0; for (int i = 0; i < n; ++i) { s += i * i; } return s; }\n"
    other = "string g(string a) { reverse(a.begin(), a.end()); return a + \"!\"; }\n"
    bench, train = tmp_path / "b.jsonl", tmp_path / "t.jsonl"
    bench.write_text(json.dumps({"id": "b/copy", "cpp": "// renamed\n" + body}) + "\n"
                     + json.dumps({"id": "b/new", "cpp": other}) + "\n")
    train.write_text(json.dumps({"id": "t/1", "cpp": body, "python": None}) + "\n")
    (row,) = near_copies({"bench": bench}, {"train": train}, 0.9)
    assert row["near_copies"] == 1 and row["pairs"][0]["item"] == "b/copy" and row["pairs"][0]["train"] == "t/1"
    assert row["items"] == 2 and row["train_records"] == 1


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_leetcode_with_the_real_oracle(tmp_path: Path) -> None:
    pytest.importorskip("tree_sitter_cpp")
    from cpp2py.data.leetcode import oracle_verifier

    src = tmp_path / "lc"
    cpp = "class Solution {\npublic:\n    int addDigits(int num) {\n        return num == 0 ? 0 : 1 + (num - 1) % 9;\n    }\n};\n"
    for problem, python in (("add-digits", "class Solution(object):\n    def addDigits(self, num):\n"
                                           "        return 0 if num == 0 else 1 + (num - 1) % 9\n"),
                            ("add-digits-wrong", "class Solution(object):\n    def addDigits(self, num):\n"
                                                 "        return num + 1\n")):
        (src / "C++").mkdir(parents=True, exist_ok=True)
        (src / "Python").mkdir(exist_ok=True)
        # a method name per problem: the same C++ text twice would be dropped as a duplicate
        (src / "C++" / f"{problem}.cpp").write_text(cpp.replace("addDigits", "addDigits" + str(len(problem))))
        (src / "Python" / f"{problem}.py").write_text(python.replace("addDigits", "addDigits" + str(len(problem))))
    prepare_leetcode(src, tmp_path / "out", verifier=oracle_verifier(budget=8))
    pairs, inputs = _by_file(tmp_path / "out", "[tv]*.jsonl"), _by_file(tmp_path / "out", "inputs-*.jsonl")
    assert set(pairs) == {"add-digits"} and pairs["add-digits"][1]["verified_by"] == "cpp2py.execution.oracle"
    assert inputs["add-digits-wrong"][1]["skip"] == "verification_failed"


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_leetcode_dev_benchmark_from_the_oracle(tmp_path: Path) -> None:
    """Only held-out problems whose oracle builds become items; each other one is named with its reason, and
    the items score a right and a wrong translation through the standard checker."""
    pytest.importorskip("tree_sitter_cpp")
    from cpp2py.execution.checks import check_candidate

    src = tmp_path / "lc"
    (src / "C++").mkdir(parents=True)
    flip = "class Solution {\npublic:\n    int flipBits(int n) {\n        return n ^ 0xff;\n    }\n};\n"
    # LeetCode's n-ary Node, unlike its TreeNode and ListNode, is a parameter type the oracle does not take.
    tree = "struct Node { int val; std::vector<Node*> children; };\nint maxDepth(Node* root) {\n" \
           "    int d = 0;\n    for (Node* c : root->children) d = std::max(d, maxDepth(c));\n    return d + 1;\n}\n"
    constant = "bool depthGap(const std::string& s) {\n    return s.size() < 1000;\n}\n"
    for problem, cpp in (("flip-bits", flip), ("max-depth", tree), ("max-window-sum", flip.replace("0xff", "0xf")),
                         ("depth-gap", constant)):
        (src / "C++" / f"{problem}.cpp").write_text(cpp)
    assert [common.problem_split(p) for p in ("flip-bits", "max-depth", "max-window-sum", "depth-gap")] == \
        ["test", "test", "train", "test"]
    stats = prepare_leetcode(src, tmp_path / "out", bench_splits=("test",))
    b = stats["benchmark"]
    assert (b["problems"], b["items"], b["no_item"]) == (3, 2, {"unsupported parameter type": 1})
    assert list(b["no_item_problems"]) == ["max-depth"] and b["cases"] >= 5
    assert b["items_one_expected_result"] == 1  # depthGap is true on every generated string
    items = {r["id"]: BenchmarkItem.from_dict(r) for r in read_jsonl(tmp_path / "out" / "leetcode-dev.jsonl")}
    assert list(items) == ["leetcode/depth-gap", "leetcode/flip-bits"]
    item = items["leetcode/flip-bits"]
    assert item.cpp == flip and item.test
    right = "class Solution:\n    def flipBits(self, n):\n        return n ^ 255\n"
    assert check_candidate(right, item).passed
    assert check_candidate(right.replace("255", "127"), item).kind == "wrong_answer"
    without = prepare_leetcode(src, tmp_path / "plain")
    assert "benchmark" not in without and not (tmp_path / "plain" / "leetcode-dev.jsonl").exists()


def test_prints_only_literals() -> None:
    from cpp2py.data.thealgorithms import prints_only_literals

    src = 'int main() { assert(f(3) == 9); std::cout << "All tests\\tpassed!\\n"; std::cout << "f=" << f(3); }'
    assert prints_only_literals(src, "All tests\tpassed!\n")
    assert not prints_only_literals(src, "All tests\tpassed!\nf=9\n")  # 9 was computed


def test_benchmark_item_std() -> None:
    rec = {"id": "a", "cpp": "int main() {}", "compare_stdout": True}
    assert BenchmarkItem.from_dict(rec).std == "c++17" and "std" not in BenchmarkItem.from_dict(rec).to_dict()
    assert BenchmarkItem.from_dict(rec | {"std": "c++20"}).to_dict()["std"] == "c++20"
    with pytest.raises(Cpp2PyError, match="`std` must be one of c\\+\\+17, c\\+\\+20"):
        BenchmarkItem.from_dict(rec | {"std": "c++98"})

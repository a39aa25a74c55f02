"""The oracle built from the C++ alone: whole programs and functions, dropped UB inputs, no-oracle reasons,
camelCase/snake_case matching, counterexamples, and that candidates cannot reach the cached binaries."""
from __future__ import annotations

import os
import shutil
import stat

import pytest

pytest.importorskip("tree_sitter_cpp")
pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")

from cpp2py.execution.oracle import NoOracle, build_oracle  # noqa: E402
from cpp2py.execution.sandbox import _binary_cache as cache_dir  # noqa: E402
from cpp2py.execution.sandbox import run_python  # noqa: E402

PROGRAM = r"""
#include <bits/stdc++.h>
using namespace std;
int main() {
    int t; cin >> t;
    while (t--) {
        int n; cin >> n;
        vector<long long> a(n);
        for (int i = 0; i < n; i++) cin >> a[i];
        string name; cin >> name;
        double d; scanf("%lf", &d);
        printf("%s: %5lld|%.3f\n", name.c_str(), accumulate(a.begin(), a.end(), 0LL), d / 3);
    }
    cout << boolalpha << (t < 0) << endl;
    return 0;
}
"""
PROGRAM_PY = """
import sys
def main():
    data = sys.stdin.read().split()
    p = 0
    t = int(data[p]); p += 1
    for _ in range(t):
        n = int(data[p]); p += 1
        a = [int(x) for x in data[p:p + n]]; p += n
        name, d = data[p], float(data[p + 1]); p += 2
        print("%s: %5d|%.3f" % (name, sum(a), d / 3))
    print("true")
if __name__ == "__main__":
    main()
"""

FUNCTIONS = r"""
#include <bits/stdc++.h>
using namespace std;
int helper(int x) { return x * 2; }
long long weightedSum(const vector<int>& v, string tag) {
    if (v.empty()) return -1;
    long long s = 0;
    for (size_t i = 0; i < v.size(); i++) s += helper(v[i]) * (long long)(i + 1);
    if (s < 0) s = -s;
    return s + (long long)tag.size();
}
map<char, int> letterCounts(string s) { map<char, int> m; for (char c : s) if (c != ' ') m[c]++; return m; }
int sumKeys(map<int, int> m) { int s = 0; for (auto& kv : m) s += kv.first * kv.second; return s; }
void divMod(int a, int b, int& q, int& r) { q = a / b; r = a % b; }
void sortDesc(int arr[], int n) { sort(arr, arr + n, greater<int>()); }
class Solution {
public:
    int maxSubArray(vector<int>& nums) {
        int best = INT_MIN, cur = 0;
        for (int x : nums) { cur = max(x, cur + x); best = max(best, cur); }
        return best;
    }
};
"""
FUNCTIONS_PY = """
def helper(x):
    return x * 2
def weighted_sum(v, tag):
    if not v:
        return -1
    return abs(sum(helper(x) * (i + 1) for i, x in enumerate(v))) + len(tag)
def letter_counts(s):
    m = {}
    for c in s:
        if c != ' ':
            m[c] = m.get(c, 0) + 1
    return m
def sum_keys(m):
    return sum(k * v for k, v in m.items())
def div_mod(a, b):
    q = abs(a) // abs(b) * (1 if (a >= 0) == (b > 0) else -1)
    return q, a - q * b
def sort_desc(arr, n):
    arr[:n] = sorted(arr[:n], reverse=True)
class Solution:
    def maxSubArray(self, nums):
        best, cur = -2**31, 0
        for x in nums:
            cur = max(x, cur + x)
            best = max(best, cur)
        return best
"""


@pytest.fixture(scope="module")
def program_oracle():
    return build_oracle(PROGRAM, stdin=["1\n2 5 6\nbob 1.5\n"], budget=6)


@pytest.fixture(scope="module")
def function_oracle():
    return build_oracle(FUNCTIONS, budget=12)


def test_program_inputs_follow_the_reads(program_oracle):
    assert program_oracle.kind == "program"
    assert program_oracle.cases[0].stdin == "1\n2 5 6\nbob 1.5\n"
    assert program_oracle.cases[0].stdout == "bob:    11|0.500\ntrue\n"  # t ends at -1
    for case in program_oracle.cases[1:]:  # generated: t, then per test n, n values, a word and a number
        tokens = case.stdin.split()
        p, t = 1, int(tokens[0])
        for _ in range(t):
            n = int(tokens[p])
            assert all(x.lstrip("-").isdigit() for x in tokens[p + 1:p + 1 + n])
            assert tokens[p + 1 + n].isalpha()
            float(tokens[p + 2 + n])
            p += n + 3
        assert p == len(tokens)
    assert len(program_oracle.cases) > 2


def test_program_correct_translation_passes(program_oracle):
    result = program_oracle.check(PROGRAM_PY)
    assert result.passed and result.first_failure is None


def test_printf_format_is_part_of_the_oracle(program_oracle):
    result = program_oracle.check(PROGRAM_PY.replace("%5d|%.3f", "%d|%f"))
    assert result.cases_passed == sum(c.stdin.startswith("0\n") for c in program_oracle.cases)  # no test, no printf
    assert result.first_failure.input == "1\n2 5 6\nbob 1.5\n"
    assert "bob:    11|0.500" in result.first_failure.expected
    assert "bob: 11|0.500000" in result.first_failure.got


def test_program_exit_status_counts():
    cpp = "#include <cstdio>\nint main() { int x; if (scanf(\"%d\", &x) != 1) return 3; printf(\"%d\\n\", x % 7); return x > 50 ? 4 : 0; }\n"
    oracle = build_oracle(cpp, budget=8)
    statuses = {c.status for c in oracle.cases}
    assert 0 in statuses and 4 in statuses
    good = "x = int(input())\nprint(x % 7 if x >= 0 else -((-x) % 7))\nraise SystemExit(4 if x > 50 else 0)\n"
    assert oracle.check(good).passed
    assert not oracle.check(good.replace("4 if", "0 if")).passed


def test_program_reading_nothing_runs_once_on_empty_stdin():
    oracle = build_oracle('#include <iostream>\nint main() { std::cout << 6 * 7 << "\\n"; }\n')
    assert [(c.stdin, c.stdout, c.status) for c in oracle.cases] == [("", "42\n", 0)]
    assert oracle.check("print(42)").passed
    assert not oracle.check("print(41)").passed


def test_functions_correct_translation_passes_every_case(function_oracle):
    assert function_oracle.kind == "function"
    assert {t.func.name for t in function_oracle.targets} == {
        "weightedSum", "letterCounts", "sumKeys", "divMod", "sortDesc", "maxSubArray"}  # helper is not an entry
    result = function_oracle.check(FUNCTIONS_PY)
    assert result.passed, result.first_failure
    assert result.cases_total >= 5 * 6


def test_functions_cover_edge_cases(function_oracle):
    cases = {t.func.name: [t.cases[i] for i in t.expected] for t in function_oracle.targets}
    vectors = [c[0] for c in cases["weightedSum"]]
    assert [] in vectors and any(len(v) == 1 for v in vectors)
    assert any(len(v) != len(set(v)) for v in vectors)  # duplicates
    assert any(x < 0 for v in vectors for x in v) and any(0 in v for v in vectors)
    # Emptiness is per parameter: `v.empty()` asks about v, nothing asks about tag.
    assert "" not in [c[1] for c in cases["weightedSum"]]


def test_inputs_stay_in_the_domain_the_code_shows():
    cpp = ("#include <vector>\nint digitSum(int n) { int s = 0; while (n) { s += n % 10; n /= 10; } return s; }\n"
           "int firstOf(std::vector<int> v) { return v[0]; }\n")
    oracle = build_oracle(cpp, budget=15)
    for t in oracle.targets:
        assert len(t.expected) == len(t.cases) == 15  # nothing needed dropping
    digit, first = ([t.cases[i][0] for i in t.expected] for t in oracle.targets)
    assert min(digit) == 0 and all(n >= 0 for n in digit)  # no comparison with 0, no abs: no negatives
    assert all(v and min(v) >= 0 for v in first)  # never asks for emptiness: never empty
    assert oracle.check("def digit_sum(n):\n    return sum(map(int, str(n)))\n"
                        "def first_of(v):\n    return v[0]\n").passed


def test_subtly_wrong_translation_fails_with_a_counterexample(function_oracle):
    wrong = FUNCTIONS_PY.replace("return sum(k * v for k, v in m.items())",
                                 "return sum(k * v for k, v in m.items() if k > 1)")
    result = function_oracle.check(wrong)
    assert 0 < result.cases_passed < result.cases_total
    ce = result.first_failure
    assert ce.input.startswith("sumKeys(") and "returned" in ce.got
    assert ce.expected != ce.got


def test_reference_out_parameters_are_returned_in_python(function_oracle):
    target = next(t for t in function_oracle.targets if t.func.name == "divMod")
    assert target.outs == [2, 3]
    # Python's floor division is not C++'s truncation: negative operands must show it.
    floor = FUNCTIONS_PY.replace("q = abs(a) // abs(b) * (1 if (a >= 0) == (b > 0) else -1)", "q = a // b")
    result = function_oracle.check(floor)
    assert not result.passed and result.first_failure.input.startswith("divMod(")
    only_q = FUNCTIONS_PY.replace("return q, a - q * b", "return q")
    assert not function_oracle.check(only_q).passed


def test_arrays_written_in_place_are_compared(function_oracle):
    target = next(t for t in function_oracle.targets if t.func.name == "sortDesc")
    assert target.written == [0]
    unsorted = FUNCTIONS_PY.replace("arr[:n] = sorted(arr[:n], reverse=True)", "sorted(arr)")
    result = function_oracle.check(unsorted)
    assert not result.passed and "argument arr" in result.first_failure.got


def test_names_match_across_camel_and_snake_case(function_oracle):
    snake = FUNCTIONS_PY.replace("def maxSubArray(self", "def max_sub_array(self")
    assert function_oracle.check(snake).passed
    free = FUNCTIONS_PY.replace("class Solution:\n    def maxSubArray(self, nums):", "def max_sub_array(nums):\n    if True:")
    assert function_oracle.check(free).passed
    missing = FUNCTIONS_PY.replace("def sum_keys", "def total_keys")
    result = function_oracle.check(missing)
    assert not result.passed and "no function or method named like 'sumKeys'" in result.first_failure.got


def test_arity_is_checked():
    oracle = build_oracle("int add(int a, int b) { return a + b; }\n", budget=5)
    result = oracle.check("def add(a, b, c):\n    return a + b + c\n")
    assert result.cases_passed == 0 and "does not take 2 arguments" in result.first_failure.got
    assert oracle.check("def add(a, b, c=0):\n    return a + b + c\n").passed


def test_inputs_with_undefined_behaviour_are_dropped():
    cpp = "#include <vector>\nint at(std::vector<int> v, int i) { return v[i]; }\nint cube(int x) { return x * x * x; }\n"
    oracle = build_oracle(cpp, budget=20)
    at = next(t for t in oracle.targets if t.func.name == "at")
    assert 0 < len(at.expected) < len(at.cases)  # out-of-range indexes were generated, then dropped
    assert oracle.dropped.get("crash", 0) + oracle.dropped.get("undefined behaviour", 0) > 0
    assert all(0 <= t_args[1] < len(t_args[0]) for t_args in (at.cases[i] for i in at.expected))
    cube = next(t for t in oracle.targets if t.func.name == "cube")
    assert all(abs(cube.cases[i][0]) ** 3 < 2**31 for i in cube.expected)
    assert oracle.check("def at(v, i):\n    return v[i]\ndef cube(x):\n    return x ** 3\n").passed


def test_the_same_source_gives_the_same_cases():
    cpp = "#include <string>\nint twice(std::string s, int k) { return (int)s.size() * 2 + k; }\n"
    a, b = build_oracle(cpp, budget=6), build_oracle(cpp, budget=6)
    assert a.targets[0].cases == b.targets[0].cases


@pytest.mark.parametrize("cpp, reason", [
    ("#include <functional>\nint apply(std::function<int(int)> f) { return f(1); }\n", "std::function<int(int)>"),
    ("int first(int** grid) { return grid[0][0]; }\n", "two-dimensional"),
    ("#include <cstdlib>\n#include <ctime>\nint roll(int n) { srand(time(0) ^ clock()); return rand() % (n + 1000); }\n",
     "nondeterministic"),
    ("int broken(int x) { return y; }\n", "does not compile"),
    ("int boom(int x) { int* p = nullptr; return *p + x; }\n", "every generated input"),
    ("#include <cstdio>\nint main() { int z = 0; printf(\"%d\", 1 / z); }\n", "every input"),
    ("// nothing here\n", "no function definition"),
])
def test_no_oracle_says_why(cpp, reason):
    got = build_oracle(cpp, budget=4)
    assert isinstance(got, NoOracle) and reason in got.reason


def test_a_candidate_that_exits_early_fails():
    oracle = build_oracle("int add(int a, int b) { return a + b; }\n", budget=5)
    for trick in ("import os\nos._exit(0)\n", "import sys\nsys.exit(0)\n", "quit()\n"):
        result = oracle.check(trick + "def add(a, b):\n    return a + b\n")
        assert result.cases_passed == 0


def test_cached_binaries_are_out_of_the_sandboxes_reach(function_oracle):
    cache = cache_dir()
    st = os.stat(cache)
    assert st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) == 0o700
    binaries = list(cache.iterdir())
    assert binaries
    probe = (f"import os, subprocess\nprint(os.access({str(cache)!r}, os.R_OK), os.access({str(cache)!r}, os.X_OK))\n"
             f"try:\n    subprocess.run([{str(binaries[0])!r}], input=b'', timeout=5)\n    print('ran')\n"
             f"except OSError as e:\n    print(type(e).__name__)\n")
    res = run_python(probe)
    if "uid" not in res.isolation:
        pytest.skip("the sandbox runs as this user here (not root), so file modes cannot keep it out")
    # Denied by the 0700 mode, or not even there: the sandbox mounts a fresh tmpfs over /tmp for each run.
    assert res.stdout.split()[:2] == ["False", "False"]
    assert res.stdout.split()[2] in ("PermissionError", "FileNotFoundError")


def test_each_parameter_gets_the_domain_its_comparisons_show():
    from cpp2py import cpptree
    from cpp2py.execution.oracle import cppast
    src = ("int f(int n, int m, int d, std::vector<int> v, std::string s, std::string t) {\n"
           "    if (m < 2) return 0;\n    int x = v[0];\n    if (x < 0) return 1;\n    while (d > 0) d /= 10;\n"
           "    if (s.empty()) return 2;\n    if (t[0] >= 65 && t[0] <= 90) return 3;\n"
           "    return abs(n % 10) + atoi(t.c_str());\n}\n")
    func = cppast.functions(cpptree.parse(src))[0]
    use = {p: cppast.usage(func.node, p) for p in "nmdvst"}
    assert use["n"].signed and not use["d"].signed  # abs(n % 10) expects negatives; d > 0 guards a digit loop
    assert use["m"].low == 1 and use["d"].low == 0 and use["s"].low is None  # m < 2: 1 is meant, 0 is not
    assert use["v"].signed  # through the local x = v[0]
    assert use["s"].empty and not use["t"].empty and use["t"].numeric and use["t"].near == [65, 90]
    divide = cppast.functions(cpptree.parse("int q(int a, int b, int c) { return a / b + c % 10; }"))[0]
    assert cppast.usage(divide.node, "a").signed and not cppast.usage(divide.node, "c").signed
    backwards = cppast.functions(cpptree.parse(
        "int last(std::vector<int> v) { for (int i = v.size() - 1; i >= 0; i--) if (v[i]) return v[i]; return 0; }"))[0]
    assert not cppast.usage(backwards.node, "v").signed  # i counts down to 0 over v's length, not its values


def test_inputs_follow_words_case_codes_and_positions():
    cpp = r"""#include <bits/stdc++.h>
using namespace std;
vector<int> notes(string music) {
    vector<int> out; string cur; music += ' ';
    for (char c : music) { if (c == ' ') { if (cur == "o") out.push_back(4); if (cur == ".|") out.push_back(1); cur = ""; } else cur += c; }
    return out;
}
string yes(string s) { if (s.size() > 3) return "Yes"; return "No"; }
int distinct(string s) { transform(s.begin(), s.end(), s.begin(), ::tolower); return set<char>(s.begin(), s.end()).size(); }
int capitals(string s) { int n = 0; for (char c : s) if (c >= 65 && c <= 90) n++; return n; }
vector<int> lastK(vector<int> a, int k) { sort(a.begin(), a.end()); return vector<int>(a.end() - k, a.end()); }
int largestDivisor(int n) { for (int i = 2; i * i <= n; i++) if (n % i == 0) return n / i; return 1; }
"""
    oracle = build_oracle(cpp, budget=20)
    cases = {t.func.name: [t.cases[i] for i in t.expected] for t in oracle.targets}
    assert all(set(s.split()) <= {"o", ".|"} for [s] in cases["notes"])  # only the words it compares with
    assert not any("Yes" in s or "No" in s for [s] in cases["yes"])  # what it returns is no input
    assert any(c.isupper() for [s] in cases["distinct"] for c in s)  # it lowers case: mixed case matters
    assert any(c.isupper() for [s] in cases["capitals"] for c in s)
    assert not any(c in "[\\]^_`" for [s] in cases["capitals"] for c in s)  # 65..90, not 65..122
    assert [0] in [[k] for _, k in cases["lastK"]] and all(k <= len(a) for a, k in cases["lastK"])
    assert min(n for [n] in cases["largestDivisor"]) == 1  # never compared with a literal: from 1
    slice_k = "def last_k(a, k):\n    return sorted(a)[-k:]\n"  # wrong at k == 0
    assert not oracle.check(slice_k).passed


def test_float_division_by_zero_is_dropped_and_whole_floats_reach_python_as_ints():
    from cpp2py.execution.oracle import values
    from cpp2py.execution.oracle.cpptypes import CType
    assert values.tagged(CType("float", "double"), 2.0) == 2 and isinstance(values.tagged(CType("float", "double"), 2.0), int)
    assert values.tagged(CType("float", "double"), 2.5) == 2.5
    cpp = ("#include <vector>\ndouble mean(std::vector<double> v) { double s = 0; if (v.empty()) return s / 0.0;\n"
           "    for (double x : v) s += x; return s / v.size(); }\n")
    oracle = build_oracle(cpp, budget=10)
    t = oracle.targets[0]
    assert oracle.dropped.get("undefined behaviour") and all(t.cases[i][0] for i in t.expected)
    assert oracle.check("def mean(v):\n    return sum(v) / len(v)\n").passed


def test_numeric_strings_are_generated_for_code_that_parses_them():
    cpp = "#include <bits/stdc++.h>\nint closest(std::string value) { return round(atof(value.c_str())); }\n"
    oracle = build_oracle(cpp, budget=20)
    t = oracle.targets[0]
    assert all(float(t.cases[i][0]) is not None for i in t.expected)
    assert any(t.cases[i][0].endswith(".5") and int(float(t.cases[i][0])) % 2 == 0 for i in t.expected)
    assert not oracle.check("def closest(value):\n    return round(float(value))\n").passed  # rounds to even


def test_arrays_of_strings_with_their_size():
    cpp = ("#include <bits/stdc++.h>\nusing namespace std;\n"
           "int longest(string arr[], int n) { int best = 0; for (int i = 0; i < n; i++) best = max(best, (int)arr[i].size()); return best; }\n")
    oracle = build_oracle(cpp, budget=8)
    assert not isinstance(oracle, NoOracle) and oracle.targets[0].params[1].size_of == 0
    assert oracle.check("def longest(arr, n):\n    return max([len(s) for s in arr[:n]] + [0])\n").passed
    assert not oracle.check("def longest(arr, n):\n    return len(arr)\n").passed


def test_scratch_arrays_digit_strings_and_string_lengths():
    cpp = ("#include <bits/stdc++.h>\nusing namespace std;\n"
           "int kth(int arr[], int n, int k) { sort(arr, arr + n); return arr[min(max(k, 1), n) - 1]; }\n"
           "int digitSum(string s) { int t = 0; for (char c : s) t += c - '0'; return t; }\n"
           "int countA(string s, int n) { int c = 0; for (int i = 0; i < n; i++) c += s[i] == 'a'; return c; }\n")
    oracle = build_oracle(cpp, budget=12)
    cases = {t.func.name: [t.cases[i] for i in t.expected] for t in oracle.targets}
    assert all(s.isdigit() for [s] in cases["digitSum"])
    assert all(n == len(s) for s, n in cases["countA"])
    rest = ("def digit_sum(s):\n    return sum(int(c) for c in s)\n"
            "def count_a(s, n):\n    return s[:n].count('a')\n")
    # The sort is how the C++ finds the k-th smallest, not what it is for: the list may stay as it was...
    assert oracle.check("def kth(arr, n, k):\n    return sorted(arr)[min(max(k, 1), n) - 1]\n" + rest).passed
    # ...but not be changed into something else.
    assert not oracle.check("def kth(arr, n, k):\n    arr.reverse()\n    return sorted(arr)[min(max(k, 1), n) - 1]\n"
                            + rest).passed


def test_snippets_get_their_programs_conventional_constants_and_aliases():
    cpp = ("ll countDistinct(string s) { int seen[MAX_CHAR] = {0}; ll c = 0;\n"
           "    for (char ch : s) if (!seen[(unsigned char)ch]++) c++; return c % MOD; }\n")
    oracle = build_oracle(cpp, budget=6)
    assert not isinstance(oracle, NoOracle), oracle
    assert oracle.check("def count_distinct(s):\n    return len(set(s))\n").passed
    assert isinstance(build_oracle("int f(int x) { return helperNobodyDefined(x); }\n"), NoOracle)


def test_token_reads_get_inputs_with_several_tokens_on_a_line():
    # cin >> reads tokens wherever lines break: a translation reading one value per line must fail
    cpp = ("#include <iostream>\nusing namespace std;\nint main() {\n    int n; cin >> n; long s = 0;\n"
           "    for (int i = 0; i < n; i++) { int x; cin >> x; s += x; }\n    cout << s << endl;\n}\n")
    oracle = build_oracle(cpp, budget=6)
    assert any(len(c.stdin.split()) > len(c.stdin.splitlines()) for c in oracle.cases if c.stdin.strip())
    per_line = "n = int(input())\nprint(sum(int(input()) for _ in range(n)))\n"
    by_token = "import sys\nt = sys.stdin.read().split()\nprint(sum(map(int, t[1:1 + int(t[0])])))\n"
    assert not oracle.check(per_line).passed
    assert oracle.check(by_token).passed

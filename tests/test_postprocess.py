"""The mechanical fixes applied to every translation: each test is a failure a real model output had."""
import pytest

pytest.importorskip("pyflakes")

from cpp2py.generation.postprocess import (  # noqa: E402
    add_imports, call_main, concatenate_prints, fix_translation, unshadow_methods,
)
from cpp2py.generation.cpp_source import streams_output  # noqa: E402


def run(code: str) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "t.py", "exec"), {"__name__": "__main__"})
    return out.getvalue()


def test_missing_math_import_is_added_and_the_program_runs():
    code = "def is_prime(n):\n    return n > 1 and all(n % i for i in range(2, int(sqrt(n)) + 1))\nprint(is_prime(97))\n"
    fixed, added, missing = add_imports(code)
    assert added == ["from math import sqrt"] and missing == []
    assert run(fixed) == "True\n"


def test_module_names_and_future_imports_keep_their_place():
    code = '"""doc"""\nfrom __future__ import annotations\nprint(math.floor(2.5), deque([1]))\n'
    fixed, added, _ = add_imports(code)
    assert added == ["import math", "from collections import deque"]
    assert fixed.splitlines()[:4] == ['"""doc"""', "from __future__ import annotations", "import math",
                                      "from collections import deque"]
    assert run(fixed) == "2 deque([1])\n"


def test_a_name_defined_nowhere_is_reported_not_invented():
    fixed = fix_translation("print(count_if([1, 2], lambda x: x > 1))\n", cpp_has_main=False)
    assert fixed.undefined == ["count_if"]
    assert fixed.problem == "undefined names: count_if"


def test_main_defined_but_never_called_gets_the_guard():
    code = "def main():\n    print('hi')\n"
    fixed, added = call_main(code)
    assert added and run(fixed) == "hi\n"
    # Already called, or a main that needs arguments: left alone.
    assert call_main(fixed) == (fixed, False)
    assert call_main("def main(argv):\n    print(argv)\n")[1] is False


def test_main_is_only_added_when_the_cpp_had_one():
    code = "def main():\n    print('hi')\n"
    assert fix_translation(code, cpp_has_main=False).python == code
    assert "__main__" in fix_translation(code, cpp_has_main=True).python


def test_attribute_shadowing_a_method_is_renamed():
    code = ("class Account:\n"
            "    def __init__(self, owner):\n"
            "        self.owner = owner\n"
            "    def owner(self):\n"
            "        return self.owner\n"
            "print(Account('Ada').owner())\n")
    with pytest.raises(TypeError):
        run(code)  # the bug: the instance attribute hides the method
    fixed, renamed = unshadow_methods(code)
    assert renamed == ["Account.owner"]
    assert run(fixed) == "Ada\n"


def test_code_that_needs_no_fix_is_returned_unchanged():
    code = "import math\n\n\ndef f(x):\n    # keep this comment\n    return math.sqrt(x)\n"
    fixed = fix_translation(code, cpp_has_main=True)
    assert fixed.python == code and fixed.fixes == [] and fixed.undefined == []


def test_a_transcribed_stream_chain_prints_what_cout_printed():
    # cout << "gcd(" << a << ", " << b << ") = " << g << endl;  and  cout << k << ": " << v << "\n";
    code = ('a, b = 84, 36\nprint("gcd(", a, ", ", b, ") = ", 12)\n'
            'for k, v in {"apple": 3}.items():\n    print(k, ": ", v)  # one per line\n')
    assert run(code) == "gcd( 84 ,  36 ) =  12\napple :  3\n"  # what the model's code printed
    fixed, n = concatenate_prints(code)
    assert n == 2 and "# one per line" in fixed
    assert run(fixed) == "gcd(84, 36) = 12\napple: 3\n"


def test_prints_without_a_spaced_literal_or_with_their_own_sep_are_left_alone():
    for code in ['print("Total:", 5)\n', 'print(1, 2)\n', 'print(1, " ", 2, sep="-")\n', 'print(*xs, " ")\n',
                 'print(f"{1} ", 2)\n']:
        assert concatenate_prints(code) == (code, 0)


def test_sep_is_only_added_when_the_cpp_wrote_to_a_stream():
    code = 'print("x = ", 1)\n'
    assert streams_output('int main() { std::cout << "x = " << 1; }')
    assert not streams_output('int main() { printf("x = %d ", 1); }')
    assert fix_translation(code, cpp_has_main=False).python == code  # printf keeps print's own separators
    fixed = fix_translation(code, cpp_has_main=False, cpp_streams=True)
    assert run(fixed.python) == "x = 1\n" and any("sep" in f for f in fixed.fixes)

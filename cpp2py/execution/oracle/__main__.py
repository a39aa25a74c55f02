"""python -m cpp2py.execution.oracle FILE.cpp [CANDIDATE.py]: build the oracle, say what it holds or why there
is none, and check the candidate against it."""
import sys

from cpp2py.cpp_source import read_cpp
from cpp2py.errors import Cpp2PyError
from cpp2py.execution.oracle import NoOracle, build_oracle
from cpp2py.files import read_text


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        cpp = read_cpp(argv[0])
        candidate = read_text(argv[1]) if len(argv) > 1 else None
    except Cpp2PyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    oracle = build_oracle(cpp)
    if isinstance(oracle, NoOracle):
        print(f"no oracle: {oracle.reason}")
        return 1
    print(f"{oracle.kind} oracle with {oracle.cases_total} cases")
    if candidate is None:
        return 0
    result = oracle.check(candidate)
    print(f"{result.cases_passed}/{result.cases_total} cases pass")
    if result.first_failure:
        print(result.first_failure)
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Does each program in examples/ translate into Python that does what the C++ does?

Run as: python benchmarks/examples_check.py [--verify] [--out DIR] [-- TRANSLATE OPTIONS]   (needs the default
model installed; e.g. `-- --backend llamacpp --adapter runs/round1` judges another engine or adapter)

Translates examples/ with `cpp2py translate` (plain, or --verify with each `NAME.in` as the program's stdin),
then judges every output with the oracle built from the C++ (cpp2py.execution.oracle): a whole program must
print what g++'s binary prints, on NAME.in and on generated inputs shaped like its reads; a file of functions
must reproduce the C++ on generated arguments. Prints one line per example and exits 1 if any fails.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from cpp2py.execution.oracle import NoOracle, build_oracle
from cpp2py.generation.cpp_source import has_main

ROOT = Path(__file__).resolve().parents[1]


def judge(cpp_path: Path, py_path: Path) -> str:
    cpp = cpp_path.read_text()
    given = cpp_path.with_suffix(".in")
    oracle = build_oracle(cpp, stdin=[given.read_text()] if given.exists() and has_main(cpp) else None)
    if isinstance(oracle, NoOracle):
        return f"no oracle ({oracle.reason})"
    result = oracle.check(py_path.read_text())
    detail = "" if result.passed else f"\n    {str(result.first_failure or 'no output').replace(chr(10), chr(10) + '    ')}"
    return f"{'PASS' if result.passed else 'FAIL'} {result.cases_passed}/{result.cases_total}{detail}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--verify", action="store_true")
    ap.add_argument("--out", type=Path, default=Path("out/examples"))
    ap.add_argument("translate_options", nargs=argparse.REMAINDER, help="after --: passed to cpp2py translate")
    args = ap.parse_args()
    examples = sorted((ROOT / "examples").glob("*.cpp"))
    out = args.out / ("verify" if args.verify else "plain")
    cmd = [sys.executable, "-m", "cpp2py", "translate", str(ROOT / "examples"), "-o", str(out), "--no-resume"]
    if args.verify:
        cmd += ["--verify"] + [a for f in sorted((ROOT / "examples").glob("*.in")) for a in ("--stdin", str(f))]
    # exit 3 only says some output is marked; each is judged below
    rc = subprocess.run(cmd + [a for a in args.translate_options if a != "--"]).returncode
    if rc not in (0, 3):
        sys.exit(f"examples_check: cpp2py translate exited {rc} (a signal if negative); nothing to judge")
    verdicts = {f.stem: judge(f, out / f"{f.stem}.py") for f in examples}
    for name, verdict in verdicts.items():
        print(f"{name:14} {verdict}")
    return 0 if all(v.startswith("PASS") for v in verdicts.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

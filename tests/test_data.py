"""The data stage: XLCoST restoration in both layouts, hygiene, bad input, CoST and HumanEval-X."""
from __future__ import annotations

import ast
import csv
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cpp2py import data
from cpp2py.data import common, formatting
from cpp2py.errors import Cpp2PyError
from cpp2py.files import read_jsonl

REPO = Path(__file__).resolve().parents[1]

# Official XLCoST layout: literals are tokenised inside (plain space = separator, ▁ = a real space).
OFFICIAL = [
    # every special token: NEW_LINE, nested INDENT/DEDENT, STRNEWLINE and ▁ and TABSYMBOL inside literals
    ("void show ( int n ) { for ( int i = 0 ; i < n ; i ++ ) { if ( a [ i ] > 0 ) { cout << \" a ▁ b STRNEWLINE \" "
     "<< a [ i ] ; } } cout << \" TABSYMBOL x \" ; }",
     "def show ( n ) : NEW_LINE INDENT for i in range ( n ) : NEW_LINE INDENT if a [ i ] > 0 : NEW_LINE INDENT "
     "print ( \" a ▁ b STRNEWLINE \" , a [ i ] , end = \" \" ) NEW_LINE DEDENT DEDENT print ( \" TABSYMBOL x \" ) "
     "NEW_LINE DEDENT"),
    ("int f ( int x ) { return - x * 2 ; }",
     "def f ( x ) : NEW_LINE INDENT x += 1 NEW_LINE return - x ** 2 + g ( a = 1 ) . real NEW_LINE DEDENT"),
    # malformed: unterminated string literal
    ("int g ( ) { return 1 ; }", "def g ( ) : NEW_LINE INDENT print ( \" oops ) NEW_LINE DEDENT"),
    # Python that does not parse (Python 2 print)
    ("void h ( ) { cout << 1 ; }", "def h ( ) : NEW_LINE INDENT print 1 NEW_LINE DEDENT"),
    # exact duplicate of the second pair, up to whitespace
    ("int  f ( int x ) { return - x * 2 ; }",
     "def f ( x ) :  NEW_LINE INDENT x += 1 NEW_LINE return - x ** 2 + g ( a = 1 ) . real NEW_LINE DEDENT"),
]
OFFICIAL_TEST = [
    # leaked: same C++ as a train pair
    ("int f ( int x ) { return - x * 2 ; }", "def f2 ( x ) : NEW_LINE INDENT return - x * 2 NEW_LINE DEDENT"),
    ("int k ( ) { return 7 ; }", "def k ( ) : NEW_LINE INDENT return 7 NEW_LINE DEDENT"),
]


def write_official(root: Path, split: str, pairs, *, maps: bool = True) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{split}-C++-Python-tok.cpp").write_text("".join(c + "\n" for c, _ in pairs), encoding="utf-8")
    (root / f"{split}-C++-Python-tok.py").write_text("".join(p + "\n" for _, p in pairs), encoding="utf-8")
    if maps:
        (root / f"{split}-C++-map.jsonl").write_text("".join(f"{i}-C++-1\n" for i in range(len(pairs))))
        (root / f"{split}-Python-map.jsonl").write_text("".join(f"{i}-Python-1\n" for i in range(len(pairs))))


def write_method(root: Path, split: str, pairs) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / f"C++.{split}").write_text("".join(c + "\n" for c, _ in pairs), encoding="utf-8")
    (root / f"Python.{split}").write_text("".join(p + "\n" for _, p in pairs), encoding="utf-8")


@pytest.fixture
def official(tmp_path: Path) -> Path:
    src = tmp_path / "official"
    write_official(src, "train", OFFICIAL)
    write_official(src, "val", OFFICIAL_TEST[1:])
    write_official(src, "test", OFFICIAL_TEST)
    return src


def test_official_layout_restores_every_token(official: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    stats = data.prepare_xlcost(official, out)
    train = list(read_jsonl(out / "train.jsonl"))
    assert [r["source"] for r in train] == ["xlcost", "xlcost"]
    assert train[0]["id"] == "xlcost/train/0/0-C++-1"
    show = train[0]["python"]
    assert show == (
        "def show(n):\n"
        "    for i in range(n):\n"
        "        if a[i] > 0:\n"
        "            print(\"a b\\n\", a[i], end=\"\")\n"
        "    print(\"\\tx\")\n"
    )
    assert "cout << \"a b\\n\" << a[i];" in train[0]["cpp"]
    assert "for (int i = 0; i < n; i++) {" in train[0]["cpp"]
    assert "cout << \"\\tx\";" in train[0]["cpp"]
    assert train[1]["python"] == "def f(x):\n    x += 1\n    return -x ** 2 + g(a=1).real\n"
    assert train[1]["cpp"] == "int f(int x) {\n    return -x * 2;\n}\n"
    for r in train:
        ast.parse(r["python"])
    s = stats["splits"]["train"]
    assert s["pairs_read"] == 5 and s["written"] == 2
    assert s["dropped"] == {"duplicate": 1, "malformed": 1, "python_syntax_error": 1}
    assert s["python_parse_rate"] == pytest.approx(3 / 5)
    # leakage: the test pair whose C++ is in train is removed and counted; val's pair stays
    t = stats["splits"]["test"]
    assert t["leakage"] == {"cpp_in_train": 1, "python_in_train": 0, "pairs_removed": 1}
    assert [r["python"] for r in read_jsonl(out / "test.jsonl")] == ["def k():\n    return 7\n"]
    assert json.loads((out / "stats.json").read_text())["splits"]["test"]["written"] == 1


def test_method_layout_keeps_literal_spaces(tmp_path: Path) -> None:
    src = tmp_path / "m"
    pairs = [("void p ( int x ) { cout << x << \" , \" ; }",
              "def p ( x ) : NEW_LINE INDENT print ( x , end = \" , \" ) NEW_LINE DEDENT")]
    for split in data.SPLITS:
        write_method(src, split, pairs if split == "train" else [("int q ( ) { return 1 ; }",
                                                                   "def q ( ) : NEW_LINE INDENT return 1 NEW_LINE DEDENT")])
    stats = data.prepare_xlcost(src, tmp_path / "out")
    (rec,) = read_jsonl(tmp_path / "out" / "train.jsonl")
    assert rec["python"] == "def p(x):\n    print(x, end=\" , \")\n"
    assert rec["cpp"] == "void p(int x) {\n    cout << x << \" , \";\n}\n"
    assert rec["source"] == "xlcost-m" and stats["layout"] == "xlcost-m"


def test_lost_bar_is_repaired_on_both_sides(tmp_path: Path) -> None:
    src = tmp_path / "m"
    write_method(src, "train", [("int o ( int n , int r ) { return ( n r ) ; }",
                                 "def o ( n , r ) : NEW_LINE INDENT return ( n r ) NEW_LINE DEDENT")])
    stats = data.prepare_xlcost(src, tmp_path / "out")
    (rec,) = read_jsonl(tmp_path / "out" / "train.jsonl")
    assert "return (n | r)" in rec["python"] and "return (n | r);" in rec["cpp"]
    assert stats["splits"]["train"]["repaired_lost_bar"] == 1


@pytest.mark.parametrize("code, expected", [
    ("x = a [ 1 : - 1 ] [ : : - 1 ]\n", "x = a[1:-1][::-1]\n"),
    ("f = lambda x , y = 2 : { ' k ' : x , ** y }\n", "f = lambda x, y=2: {' k ': x, **y}\n"),
    ("print ( * args , sep = '' )\n", "print(*args, sep='')\n"),
    ("if not - x in ( 1 , ) :\n    return x . y ( ) [ 0 ]\n", "if not -x in (1,):\n    return x.y()[0]\n"),
    ("from . import m\n@ dec\ndef g ( * , k ) -> int :\n    pass\n", "from . import m\n@dec\ndef g(*, k) -> int:\n    pass\n"),
])
def test_python_spacing(code: str, expected: str) -> None:
    pretty, changed = formatting.format_python(code)
    assert changed and pretty == expected
    assert ast.dump(ast.parse(pretty)) == ast.dump(ast.parse(code))


def test_format_python_keeps_unparseable_code() -> None:
    assert formatting.format_python("print 1\n") == ("print 1\n", False)


def test_cpp_literals_are_untouched() -> None:
    cpp = formatting.restore_cpp('int main ( ) { string s = "a ; { b } ( c )" ; char c = \';\' ; '
                           'vector < vector < int > > v ; map < int , int > m ; v . push_back ( { 1 , 2 } ) ; }')
    assert cpp == ('int main() {\n    string s = "a ; { b } ( c )";\n    char c = \';\';\n'
                   '    vector<vector<int>> v;\n    map<int, int> m;\n    v.push_back({1, 2});\n}\n')


def test_mismatched_line_counts_name_both_files(tmp_path: Path) -> None:
    src = tmp_path / "m"
    write_method(src, "train", [("int a ( ) { }", "def a ( ) : NEW_LINE INDENT pass NEW_LINE DEDENT")])
    (src / "Python.train").write_text("def a ( ) : NEW_LINE INDENT pass NEW_LINE DEDENT\nx = 1\n")
    with pytest.raises(Cpp2PyError) as e:
        data.prepare_xlcost(src, tmp_path / "out")
    msg = str(e.value)
    assert "C++.train" in msg and "Python.train" in msg and "1 lines" in msg and "has 2" in msg
    assert not (tmp_path / "out" / "train.jsonl").exists()


def test_bad_files_give_clear_errors(tmp_path: Path) -> None:
    src = tmp_path / "m"
    write_method(src, "train", [("int a ( ) { }", "x = 1")])
    (src / "Python.train").write_bytes("x = 'caf\u00e9'\n".encode("cp1252"))
    with pytest.raises(Cpp2PyError, match=r"Python\.train: not valid utf-8"):
        data.prepare_xlcost(src, tmp_path / "out")
    (src / "Python.train").write_text("")
    with pytest.raises(Cpp2PyError, match=r"Python\.train: empty file"):
        data.prepare_xlcost(src, tmp_path / "out")
    with pytest.raises(Cpp2PyError, match="no XLCoST files"):
        data.prepare_xlcost(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _cost_csv(title: str, rows: dict[str, list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([title, str({k: len(v) for k, v in rows.items()})])
    for lang, snippets in rows.items():
        w.writerow([lang, *snippets])
    return buf.getvalue()


COST_CPP = ["/*Print*/\n\n#include <iostream>\nusing namespace std;\nint main()\n{\n\u00a0\u00a0\u00a0\u00a0"
            "cout << \"caf\u00e9 \" << 6 * 7 << endl;\n", "/*done*/\n\n    return 0;\n}\n"]
COST_PY = ["'''Print'''\n\ndef main():\n\u00a0\u00a0\u00a0\u00a0x = 6 * 7\n",
           "''    the answer'''\n\n    print(\"caf\u00e9\", x)\n", "'''Driver'''\n\nmain()\n"]


@pytest.fixture
def cost_zip(tmp_path: Path) -> Path:
    path = tmp_path / "CoST_data.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("Completed2/", "")
        z.writestr("Completed2/1.csv", _cost_csv("One", {"C++": COST_CPP, "Java": ["class A {}"],
                                                          "Python": COST_PY}).encode("cp1252"))
        z.writestr("Completed2/2.csv", _cost_csv("Two", {"C++": ["int main() { return 0; }"]}).encode("utf-8"))
        z.writestr("Completed2/3.csv", _cost_csv("Three", {"C++": ["int main() { }"],
                                                            "Python": ["print 'py2'\n"]}).encode("utf-8"))
        z.writestr("__MACOSX/Completed2/._1.csv", b"\x00\x05junk")
    return path


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_cost_pairs_splits_and_benchmark(cost_zip: Path, tmp_path: Path) -> None:
    out = tmp_path / "cost"
    stats = data.prepare_cost(cost_zip, out, bench_splits=data.SPLITS)
    assert stats["encodings"] == {"cp1252": 1, "utf-8": 2}
    split = common.problem_split("1")
    assert split == common.problem_split("1") and split in data.SPLITS
    (rec,) = read_jsonl(out / f"{split}.jsonl")
    assert rec["id"] == "cost/1" and rec["source"] == "cost"
    assert "cout << \"caf\u00e9 \" << 6 * 7 << endl;" in rec["cpp"] and "\u00a0" not in rec["cpp"]
    assert "def main():\n    x = 6 * 7\n    # the answer\n\n    print(\"caf\u00e9\", x)" in rec["python"]
    ast.parse(rec["python"])
    dropped = {k: v for s in stats["splits"].values() for k, v in s["dropped"].items() if v}
    assert dropped == {"no_python": 1, "python_syntax_error": 1}
    (item,) = read_jsonl(out / "cost-stdout.jsonl")
    assert item == {"id": "cost/1", "cpp": rec["cpp"], "python": rec["python"], "test": None, "stdin": None,
                    "compare_stdout": True}
    assert stats["benchmark"]["reference_python_agrees"] == 1  # both print "caf\u00e9 42"


def test_cost_rejects_bad_zip(tmp_path: Path) -> None:
    bad = tmp_path / "x.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(Cpp2PyError, match="not a zip"):
        data.prepare_cost(bad, tmp_path / "out")


def _gz_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")


def test_humaneval_x_benchmark(tmp_path: Path) -> None:
    src = tmp_path / "hx"
    _gz_jsonl(src / "cpp/data/humaneval_cpp.jsonl.gz", [
        {"task_id": f"CPP/{i}", "prompt": "/* doc */\n", "declaration": f"#include<stdio.h>\nint f{i}(int x){{\n",
         "canonical_solution": "    return x + 1;\n}\n", "test": "int main(){ assert(f(1)==2); }\n",
         "example_test": ""} for i in range(2)])
    _gz_jsonl(src / "python/data/humaneval_python.jsonl.gz", [
        {"task_id": "Python/0", "prompt": "def helper():\n    pass\n\n\ndef f0(x):\n    \"\"\"doc\"\"\"\n",
         "canonical_solution": "    return x + 1\n", "test": "def check(c):\n    assert c(1) == 2\n",
         "declaration": "def f0(x):\n", "example_test": ""},
        {"task_id": "Python/1", "prompt": "def f1(x):\n", "canonical_solution": "    return x + 2\n",
         "test": "def check(c):\n    assert c(1) == 2\n\ncheck(f1)\n", "declaration": "", "example_test": ""}])
    stats = data.prepare_humaneval_x(src, tmp_path / "out")
    items = list(read_jsonl(tmp_path / "out" / "humaneval-x.jsonl"))
    assert stats["items"] == 2
    assert items[0]["id"] == "humaneval-x/0"
    assert items[0]["cpp"] == "#include<stdio.h>\nint f0(int x){\n    return x + 1;\n}\n" and "main" not in items[0]["cpp"]
    assert items[0]["python"].endswith("def f0(x):\n    \"\"\"doc\"\"\"\n    return x + 1\n")
    assert items[0]["test"].endswith("\n\ncheck(f0)\n")
    assert items[1]["test"].count("check(f1)") == 1
    assert items[0]["stdin"] is None and items[0]["compare_stdout"] is False
    from cpp2py.execution.checks import check_candidate
    from cpp2py.schema import BenchmarkItem

    ok = [check_candidate(it["python"], BenchmarkItem.from_dict(it)).passed for it in items]
    assert ok == [True, False]  # the second reference returns x + 2: its test must fail


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "cpp2py", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_cli_exit_codes(official: Path, tmp_path: Path) -> None:
    ok = _cli("prepare", "xlcost", "--src", str(official), "--out", str(tmp_path / "o"))
    assert ok.returncode == 0, ok.stderr
    assert "train" in ok.stderr and (tmp_path / "o" / "stats.json").exists()
    missing = _cli("prepare", "xlcost", "--src", str(tmp_path / "nope"), "--out", str(tmp_path / "o2"))
    assert missing.returncode == 1 and missing.stderr.startswith("error: ") and "nope" in missing.stderr
    bad = _cli("prepare", "humaneval-x", "--src", str(tmp_path), "--out", str(tmp_path / "o3"))
    assert bad.returncode == 1 and "humaneval_cpp" in bad.stderr

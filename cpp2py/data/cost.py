"""CoST: program-level pairs from its CSV files, split by a hash of the problem id, and a
``compare_stdout`` benchmark of the programs whose C++ compiles and prints something."""
from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator

from cpp2py.data.common import SPLITS, check_bench_splits, finish_splits, plain_stats, problem_split
from cpp2py.data.formatting import ast_dump
from cpp2py.errors import Cpp2PyError
from cpp2py.files import write_json, write_jsonl
from cpp2py.schema import BenchmarkItem

# CoST turned each snippet's leading comment into a '''string (some lost their first quote); the
# lookahead lets a comment that itself ends in a quote (`'ops'` + the closing triple) end at the last one.
_LEADING_DOC = re.compile(r"""^\s*(?:'{2,3}|\"{3})(.*?)(?:'{3}|\"{3})(?!['"])[ \t]*(?:\n|$)""", re.S)


def _clean_snippet(snippet: str) -> str:
    # GeeksforGeeks pages indent with no-break spaces, which neither Python nor g++ accept.
    return snippet.replace("\u00a0", " ").replace("\r\n", "\n")


def _python_snippet(snippet: str) -> str:
    """Turn a snippet's leading comment string, which sits at column 0, into # comments at the
    indentation of the code under it; left as a string, an indented snippet would not parse."""
    snippet = _clean_snippet(snippet)
    m = _LEADING_DOC.match(snippet)
    if not m:
        return snippet
    rest = snippet[m.end():]
    code_line = next((ln for ln in rest.splitlines() if ln.strip()), "")
    indent = code_line[: len(code_line) - len(code_line.lstrip())]
    comment = "\n".join(f"{indent}# {ln.strip()}".rstrip() for ln in m.group(1).strip().splitlines())
    return comment + "\n" + rest


def _join_snippets(snippets: Iterable[str]) -> str:
    text = "\n".join(_clean_snippet(s).rstrip("\n") for s in snippets if s.strip())
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


def _decode(raw: bytes) -> tuple[str, str]:
    for enc in ("utf-8", "cp1252"):
        try:
            return raw.decode(enc), enc
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), "latin-1"  # cp1252 leaves 5 bytes undefined; latin-1 maps all


def read_cost_problems(src: str | Path) -> Iterator[tuple[str, str, dict]]:
    """Yield (problem id, CSV text, info) for each CoST CSV in the zip or folder."""
    src = Path(src)
    if not src.exists():
        raise Cpp2PyError(f"{src}: no such file or directory (expected CoST_data.zip)")
    if src.is_dir():
        entries = [(p.stem, p.read_bytes) for p in sorted(src.rglob("*.csv")) if "__MACOSX" not in p.parts]
    else:
        try:
            zf = zipfile.ZipFile(src)
        except zipfile.BadZipFile:
            raise Cpp2PyError(f"{src}: not a zip file") from None
        names = sorted(n for n in zf.namelist() if n.endswith(".csv") and "__MACOSX" not in n
                       and not Path(n).name.startswith("._"))
        entries = [(Path(n).stem, (lambda n=n: zf.read(n))) for n in names]
    if not entries:
        raise Cpp2PyError(f"{src}: no CoST .csv files in it")
    for pid, read in entries:
        text, enc = _decode(read())
        yield pid, text, {"encoding": enc}


def parse_cost_csv(text: str) -> dict[str, list[str]]:
    """CoST CSV -> {"title": [title], language: [snippets...]}; raises ValueError when malformed."""
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as e:
        raise ValueError(f"bad CSV ({e})") from None
    if not rows or not rows[0]:
        raise ValueError("no header row [title, snippet counts]")
    out = {"title": [rows[0][0]]}
    for row in rows[1:]:
        if row and row[0].strip():
            out[row[0].strip()] = [s for s in row[1:] if s.strip()]
    return out


def _bench_one(rec: dict, timeout: float) -> tuple[dict, str, bool]:
    """Compile and run one CoST C++ program in the sandbox; (record, outcome, does the reference Python
    pass the resulting compare_stdout oracle)."""
    from cpp2py.execution.checks import check_candidate
    from cpp2py.execution.sandbox import CompiledCpp, compile_cpp, run_binary

    built = compile_cpp(rec["cpp"])
    if not isinstance(built, CompiledCpp):
        return rec, "compile_error", False
    res = run_binary(built.path, timeout=timeout)
    if not res.ok:
        return rec, f"run_{res.status}", False
    if not res.stdout.strip():
        return rec, "no_output", False
    item = _cost_item(rec)
    return rec, "ok", check_candidate(rec["python"], item, timeout=timeout).passed


def _cost_item(rec: dict) -> BenchmarkItem:
    return BenchmarkItem(id=rec["id"], cpp=rec["cpp"], python=rec["python"], compare_stdout=True)


def prepare_cost(src: str | Path, out: str | Path, *, bench_splits: tuple[str, ...] = ("test",),
                 jobs: int = 2, timeout: float = 10.0) -> dict:
    """CoST zip -> out/{train,val,test}.jsonl, stats.json and the compare_stdout benchmark
    out/cost-stdout.jsonl (programs of ``bench_splits`` whose C++ compiles, exits 0 and prints)."""
    from concurrent.futures import ThreadPoolExecutor

    out = Path(out)
    check_bench_splits(bench_splits)
    splits: dict[str, list[dict]] = {s: [] for s in SPLITS}
    dropped = {s: Counter() for s in SPLITS}
    read = Counter()
    encodings = Counter()
    parses = Counter()
    for pid, text, info in read_cost_problems(src):
        split = problem_split(pid)
        read[split] += 1
        encodings[info["encoding"]] += 1
        try:
            rows = parse_cost_csv(text)
        except ValueError:
            dropped[split]["malformed_csv"] += 1
            continue
        if not rows.get("C++"):
            dropped[split]["no_cpp"] += 1
            continue
        if not rows.get("Python"):
            dropped[split]["no_python"] += 1
            continue
        cpp = _join_snippets(rows["C++"])
        python = _join_snippets(_python_snippet(s) for s in rows["Python"])
        if ast_dump(python) is None:
            dropped[split]["python_syntax_error"] += 1
            continue
        parses[split] += 1
        splits[split].append({"id": f"cost/{pid}", "cpp": cpp, "python": python, "source": "cost"})
    if not sum(read.values()):
        raise Cpp2PyError(f"{src}: no CoST problems read")
    stats = {s: {"pairs_read": read[s], "python_parses": parses[s],
                 "python_parse_rate": round(parses[s] / max(read[s], 1), 4), "dropped": dropped[s]}
             for s in SPLITS}
    stats = plain_stats(finish_splits(splits, stats, out))

    todo = [r for s in bench_splits for r in splits[s]]
    outcomes: Counter = Counter()
    agree = 0
    bench = []
    with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:  # each job waits on a sandboxed process
        for rec, outcome, py_agrees in pool.map(lambda r: _bench_one(r, timeout), todo):
            outcomes[outcome] += 1
            if outcome == "ok":
                agree += py_agrees
                bench.append(_cost_item(rec).to_dict())
    write_jsonl(out / "cost-stdout.jsonl", bench)
    result = {"source": str(src), "encodings": dict(encodings), "splits": stats,
              "benchmark": {"file": "cost-stdout.jsonl", "splits": list(bench_splits), "candidates": len(todo),
                            "outcomes": dict(sorted(outcomes.items())), "items": len(bench),
                            "reference_python_agrees": agree}}
    write_json(out / "stats.json", result)
    return result

"""HumanEval-X in the benchmark format (the Python tests are the oracle)."""
from __future__ import annotations

import re
from pathlib import Path

from cpp2py.errors import Cpp2PyError
from cpp2py.files import read_jsonl, write_json, write_jsonl
from cpp2py.schema import BenchmarkItem


def _read_records(path: Path) -> list[dict]:
    records = list(read_jsonl(path))
    if not records:
        raise Cpp2PyError(f"{path}: empty file")
    return records


def _find_one(src: Path, pattern: str) -> Path:
    hits = sorted(src.rglob(pattern))
    if not hits:
        raise Cpp2PyError(f"{src}: no {pattern} under it (expected cpp/data/ and python/data/ of HumanEval-X)")
    return hits[0]


def _entry_point(rec: dict) -> str:
    """HumanEval-X omits entry_point: the function is the last top-level def of the prompt."""
    if rec.get("entry_point"):
        return rec["entry_point"]
    names = re.findall(r"^def\s+([A-Za-z_]\w*)\s*\(", rec["prompt"], re.M)
    if not names:
        raise Cpp2PyError(f"{rec.get('task_id')}: no function definition in the Python prompt")
    return names[-1]


def _task_number(rec: dict, path: Path) -> int:
    try:
        return int(str(rec["task_id"]).rsplit("/", 1)[1])
    except (KeyError, IndexError, ValueError):
        raise Cpp2PyError(f"{path}: record without a task_id like 'CPP/0': {str(rec)[:80]}") from None


def prepare_humaneval_x(src: str | Path, out: str | Path) -> dict:
    """HumanEval-X C++/Python -> out/humaneval-x.jsonl in the benchmark format (Python tests)."""
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise Cpp2PyError(f"{src}: no such directory (expected the HumanEval-X folder)")
    cpp_path = _find_one(src, "humaneval_cpp.jsonl*")
    py_path = _find_one(src, "humaneval_python.jsonl*")
    cpp = {_task_number(r, cpp_path): r for r in _read_records(cpp_path)}
    py = {_task_number(r, py_path): r for r in _read_records(py_path)}
    items = []
    for i in sorted(set(cpp) & set(py)):
        c, p = cpp[i], py[i]
        entry = _entry_point(p)
        test = p["test"]
        # Some tests already end with the call; running check() twice would only cost time.
        if not re.search(rf"^check\({re.escape(entry)}\)\s*$", test, re.M):
            test = test.rstrip("\n") + f"\n\ncheck({entry})\n"
        items.append(BenchmarkItem(id=f"humaneval-x/{i}", cpp=c["declaration"] + c["canonical_solution"],
                                   python=p["prompt"] + p["canonical_solution"], test=test).to_dict())
    if not items:
        raise Cpp2PyError(f"{cpp_path} and {py_path}: no task ids in common")
    write_jsonl(out / "humaneval-x.jsonl", items)
    stats = {"source": str(src), "items": len(items), "cpp_only": len(set(cpp) - set(py)),
             "python_only": len(set(py) - set(cpp)), "file": "humaneval-x.jsonl"}
    write_json(out / "stats.json", stats)
    return stats

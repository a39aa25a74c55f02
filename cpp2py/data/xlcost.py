"""XLCoST (official tokenised layout or the method-level one) -> train/val/test.jsonl + stats.json."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from cpp2py.data.common import SPLITS, finish_splits, plain_stats
from cpp2py.data.formatting import (Malformed, ast_dump, format_cpp, format_python, python_from_tokens,
                                    repair_lost_bar, split_tokens)
from cpp2py.errors import Cpp2PyError
from cpp2py.files import read_text, write_json


def _split_stats(read: int) -> dict:
    return {"pairs_read": read, "python_parses": 0, "python_parse_rate": 0.0, "python_respaced": 0,
            "repaired_lost_bar": 0, "dropped": Counter()}


@dataclass
class XlcostFiles:
    split: str
    cpp: Path
    python: Path
    cpp_map: Path | None = None
    python_map: Path | None = None
    tokenized_strings: bool = False
    source: str = "xlcost-m"


def find_xlcost_files(src: Path) -> list[XlcostFiles]:
    """The paired files of each split in either XLCoST layout (official or method-level)."""
    src = Path(src)
    if not src.is_dir():
        raise Cpp2PyError(f"{src}: no such directory (expected an XLCoST folder)")
    found = []
    for split in SPLITS:
        official = src / f"{split}-C++-Python-tok.cpp", src / f"{split}-C++-Python-tok.py"
        method = src / f"C++.{split}", src / f"Python.{split}"
        for cpp, py, official_layout in ((*official, True), (*method, False)):
            if not cpp.exists() and not py.exists():
                continue
            for p in (cpp, py):
                if not p.is_file():
                    other = py if p == cpp else cpp
                    raise Cpp2PyError(f"{p}: missing (its pair {other.name} exists)")
            maps = (src / f"{split}-C++-map.jsonl", src / f"{split}-Python-map.jsonl") if official_layout else (None, None)
            found.append(XlcostFiles(split, cpp, py, *(m if m and m.is_file() else None for m in maps),
                                     tokenized_strings=official_layout,
                                     source="xlcost" if official_layout else "xlcost-m"))
            break
    if not found:
        raise Cpp2PyError(f"{src}: no XLCoST files (expected {{split}}-C++-Python-tok.cpp/.py or "
                          f"C++.{{split}}/Python.{{split}} for split in train, val, test)")
    return found


def _read_lines(path: Path) -> list[str]:
    text = read_text(path)
    if not text.strip():
        raise Cpp2PyError(f"{path}: empty file")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _map_ids(path: Path) -> list[str]:
    """Ids from an XLCoST map file: one per line, plain text (``123-C++-1``) or a JSON string/object."""
    ids = []
    for line in _read_lines(path):
        line = line.strip()
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            value = line
        if isinstance(value, dict):
            value = next((str(v) for k, v in value.items() if k in ("idx", "id", "problem_id")), line)
        ids.append(str(value))
    return ids


def _check_counts(a: Path, na: int, b: Path, nb: int) -> None:
    if na != nb:
        raise Cpp2PyError(f"{a} has {na} lines but {b} has {nb}; the files must pair line by line")


def read_xlcost_split(files: XlcostFiles) -> tuple[list[dict], dict]:
    """Restore one split's pairs; returns (records, stats before hygiene)."""
    cpp_lines, py_lines = _read_lines(files.cpp), _read_lines(files.python)
    _check_counts(files.cpp, len(cpp_lines), files.python, len(py_lines))
    ids = [f"{files.source}/{files.split}/{i}" for i in range(len(cpp_lines))]
    if files.cpp_map is not None:
        cpp_ids = _map_ids(files.cpp_map)
        _check_counts(files.cpp, len(cpp_lines), files.cpp_map, len(cpp_ids))
        ids = [f"{files.source}/{files.split}/{i}/{m}" for i, m in enumerate(cpp_ids)]
    if files.python_map is not None:
        _check_counts(files.python, len(py_lines), files.python_map, len(_map_ids(files.python_map)))
    stats = _split_stats(len(cpp_lines))
    records = []
    for rid, cpp_line, py_line in zip(ids, cpp_lines, py_lines):
        if not cpp_line.strip() or not py_line.strip():
            stats["dropped"]["empty"] += 1
            continue
        try:
            cpp_toks = split_tokens(cpp_line, tokenized_strings=files.tokenized_strings)
            py_toks = split_tokens(py_line, tokenized_strings=files.tokenized_strings)
            raw_py = python_from_tokens(py_toks)
            dump = ast_dump(raw_py)
            if dump is None and (fixed := repair_lost_bar(cpp_toks, py_toks)):
                repaired_py = python_from_tokens(fixed[1])
                if (repaired_dump := ast_dump(repaired_py)) is not None:
                    cpp_toks, raw_py, dump = fixed[0], repaired_py, repaired_dump
                    stats["repaired_lost_bar"] += 1
            cpp = format_cpp(cpp_toks)
        except Malformed:
            stats["dropped"]["malformed"] += 1
            continue
        if dump is None:
            stats["dropped"]["python_syntax_error"] += 1
            continue
        stats["python_parses"] += 1
        python, respaced = format_python(raw_py, dump)
        stats["python_respaced"] += respaced
        records.append({"id": rid, "cpp": cpp, "python": python, "source": files.source})
    stats["python_parse_rate"] = round(stats["python_parses"] / max(stats["pairs_read"], 1), 4)
    return records, stats


def prepare_xlcost(src: str | Path, out: str | Path) -> dict:
    """XLCoST (either layout) -> out/{train,val,test}.jsonl + out/stats.json; returns the stats."""
    out = Path(out)
    files = find_xlcost_files(Path(src))
    splits, stats = {}, {}
    for f in files:  # read every split before writing anything, so a bad file leaves no output
        splits[f.split], stats[f.split] = read_xlcost_split(f)
    stats = plain_stats(finish_splits(splits, stats, out))
    result = {"source": str(src), "layout": files[0].source, "splits": stats}
    write_json(out / "stats.json", result)
    return result

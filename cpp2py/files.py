"""JSONL in, JSONL out: the files through which the stages talk, written so that nothing is lost.

Run as: (library) ``from cpp2py.files import read_jsonl, write_jsonl, atomic_write, JsonlAppender``

* ``read_jsonl`` names the file and line of a malformed record.
* ``atomic_write`` writes to a temporary name and renames, so a crash never leaves a file that looks complete.
* ``JsonlAppender`` appends and flushes one record at a time, for batch jobs that must survive Ctrl-C.
* ``ensure_writable`` proves an output location can be written before a job spends any time on its work.
"""
from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal

from cpp2py.errors import Cpp2PyError


def is_symlink_loop(path: str | Path) -> bool:
    """Whether ``path`` is a symlink that never reaches a real file (``exists()`` just says False)."""
    try:
        os.stat(path)
    except OSError as e:
        return e.errno == errno.ELOOP
    return False


def ensure_writable(path: str | Path, kind: Literal["directory", "file"]) -> Path:
    """Create the directory ``path`` (or the one that will hold the file ``path``) and prove a file can be
    created there, so that an unwritable output fails in a second, not after the model and sandbox work.

    A real test file rather than ``os.access``: root passes ``os.access`` on read-only mounts and 0555
    directories alike, and only the file system knows the answer.
    """
    path = Path(path)
    if kind == "file" and path.is_dir():
        raise Cpp2PyError(f"{path}: is a directory, expected an output file")
    if kind == "directory" and path.exists() and not path.is_dir():
        raise Cpp2PyError(f"{path}: exists and is not a directory")
    directory = path if kind == "directory" else path.parent
    blocker = next((p for p in (directory, *directory.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise Cpp2PyError(f"{path}: cannot write there: {blocker} is a file, not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".cpp2py-write-test.", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise Cpp2PyError(f"{path}: output {kind} is not writable ({e.strerror or e})") from None
    return path


def read_text(path: str | Path, *, encodings: tuple[str, ...] = ("utf-8",)) -> str:
    """Read a text file, trying ``encodings`` in order; a clear error when none fits or it is binary."""
    path = Path(path)
    if is_symlink_loop(path):
        raise Cpp2PyError(f"{path}: symlink loop (the link never reaches a file)")
    if not path.exists():
        raise Cpp2PyError(f"{path}: no such file")
    if path.is_dir():
        raise Cpp2PyError(f"{path}: is a directory, expected a file")
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise Cpp2PyError(f"{path}: looks like a binary file (it contains NUL bytes)")
    for enc in encodings:
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise Cpp2PyError(f"{path}: not valid {' or '.join(encodings)} text")


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield one dict per non-blank line (a ``.gz`` file is decompressed); a malformed line raises with
    its line number."""
    path = Path(path)
    if not path.is_file():
        raise Cpp2PyError(f"{path}: no such file")
    if path.suffix == ".gz":
        import gzip
        import zlib

        try:
            f = io.BytesIO(gzip.decompress(path.read_bytes()))
        except (OSError, EOFError, zlib.error) as e:
            raise Cpp2PyError(f"{path}: not a readable gzip file ({e})") from None
    else:
        f = path.open("rb")
    with f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise Cpp2PyError(f"{path}:{lineno}: not valid UTF-8") from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise Cpp2PyError(f"{path}:{lineno}: malformed JSON ({e.msg})") from None
            if not isinstance(record, dict):
                raise Cpp2PyError(f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}")
            yield record


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[Any]:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
        # mkstemp makes the file owner-only; outputs are ordinary files (keep an existing file's mode)
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Write all records atomically; returns how many."""
    n = 0
    with atomic_write(path) as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
    return n


def write_json(path: str | Path, obj: Any) -> None:
    with atomic_write(path) as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


class JsonlAppender:
    """Append records one at a time, flushed and fsynced, so an interrupted job keeps what it finished.

    ``done_ids`` lists the ids already in the file (a torn last line from a crash is dropped), which is
    what ``--resume`` skips.
    """

    def __init__(self, path: str | Path, *, resume: bool = True, key: str = "id"):
        self.path = Path(path)
        self.key = key
        self.done_ids: set[str] = set()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume and self.path.exists():
            self._load_done()
        elif self.path.exists():
            self.path.unlink()
        self._f = self.path.open("a", encoding="utf-8")

    def _load_done(self) -> None:
        good: list[str] = []
        with self.path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by a kill: drop it, the item is redone
                if isinstance(rec, dict) and self.key in rec:
                    self.done_ids.add(str(rec[self.key]))
                    good.append(line if line.endswith("\n") else line + "\n")
        with atomic_write(self.path) as f:
            f.writelines(good)

    def write(self, record: dict[str, Any]) -> None:
        self._f.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())
        self.done_ids.add(str(record[self.key]))

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

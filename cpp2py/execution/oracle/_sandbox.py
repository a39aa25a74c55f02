"""Everything the oracle needs from the sandbox, in one place (the layers work moves sandbox.py; re-point here).

Oracle binaries are compiled inside the sandbox (g++ then runs as the throw-away uid, so an ``#include`` of a
private file fails) and cached in a 0700 directory of the running user, so that a candidate — which runs as
the sandbox's uid — can neither read nor execute them (issue 15, item 1). To run one, a copy is exposed for
that run only, under an unguessable name in a directory that can be traversed but not listed.
"""
from __future__ import annotations

import atexit
import hashlib
import os
import secrets
import shutil
import stat
import subprocess
import tempfile
import threading
from pathlib import Path

# _run is the sandbox's general entry point: compile_cpp fixes its flags (no sanitizers, no C++20) and
# run_binary cannot pass arguments, and both are needed here.
from cpp2py.execution.sandbox import ExecResult, _run, run_python

__all__ = ["ExecResult", "run_python", "compile_cached", "run_cached", "cache_dir"]

# ASan reserves terabytes of shadow address space, so an RLIMIT_AS cap would stop every sanitized binary
# at start-up; the binary caps its own resident memory instead (hard_rss_limit_mb in the driver prelude).
_ASAN_ADDRESS_SPACE_MB = 1 << 25
# _GLIBCXX_ASSERTIONS bounds-checks vector/string indexing, which ASan misses when an index jumps past the
# red zone into another live allocation.
_FLAGS = ("-O1", "-D_GLIBCXX_ASSERTIONS", "-fsanitize=undefined,address", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-w")
_STANDARDS = ("-std=c++20", "-std=c++17")
# Compiled into every oracle binary (the sandbox passes no environment): leaks are not undefined behaviour,
# and the leak checker needs ptrace, which the sandbox's uid lacks.
_OPTIONS = ('extern "C" const char *__asan_default_options() '
            '{ return "detect_leaks=0:hard_rss_limit_mb=1024:allocator_may_return_null=1"; }\n#line 1\n')

_lock = threading.Lock()
_cache: Path | None = None
_pch: Path | None = None


def _safe_dir(path: Path) -> bool:
    """Ours, and nobody else can write into it: only then is a shared header cache trusted."""
    try:
        st = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


def precompiled_header(gxx: str) -> Path | None:
    """``<bits/stdc++.h>`` precompiled with the oracle's flags (about 6x faster compiles), built once per
    machine and user. It holds only system headers, so it is world-readable: the compile runs as the sandbox's
    uid. None when it cannot be built (compiles then read the header text)."""
    global _pch
    with _lock:
        if _pch is not None:
            return _pch
        version = subprocess.run([gxx, "--version"], capture_output=True, text=True).stdout
        key = hashlib.sha256(f"{version}{_FLAGS}{_STANDARDS[0]}".encode()).hexdigest()[:16]
        final = Path(tempfile.gettempdir()) / f"cpp2py-oracle-pch-{os.getuid()}-{key}"
        if not (_safe_dir(final) and (final / "stdc++.h.gch").is_file()):
            build = Path(tempfile.mkdtemp(prefix="cpp2py-oracle-pch-"))
            (build / "stdc++.h").write_text("#include <bits/stdc++.h>\n")
            done = subprocess.run([gxx, _STANDARDS[0], *_FLAGS, "-x", "c++-header", str(build / "stdc++.h"),
                                   "-o", str(build / "stdc++.h.gch")], capture_output=True, timeout=600)
            if done.returncode != 0:
                shutil.rmtree(build, ignore_errors=True)
                return None
            for f in build.iterdir():
                os.chmod(f, 0o644)
            os.chmod(build, 0o755)
            if _safe_dir(final):
                shutil.rmtree(final, ignore_errors=True)
            try:
                os.rename(build, final)
            except OSError:  # another process won the race, or a stranger owns the name: use ours
                final = build
        _pch = final / "stdc++.h"
        return _pch


def cache_dir() -> Path:
    """The private binary cache: created once per process, mode 0700, removed at exit."""
    global _cache
    with _lock:
        if _cache is None:
            _cache = Path(tempfile.mkdtemp(prefix="cpp2py-oracle-"))  # mkdtemp creates it 0700
            os.chmod(_cache, 0o700)
            atexit.register(shutil.rmtree, _cache, True)
        return _cache


def compile_cached(source: str, *, timeout: float = 120.0) -> Path | str:
    """Compile ``source`` with the sanitizers (C++20, else C++17); the cached binary's path, or g++'s errors."""
    source = _OPTIONS + source
    key = hashlib.sha256(source.encode("utf-8")).hexdigest()
    target = cache_dir() / key
    if target.is_file():
        return target
    gxx = shutil.which("g++")
    if not gxx:
        return "g++ not found on PATH"
    pch = precompiled_header(gxx)
    errors = ""
    for std in _STANDARDS:
        include = ("-include", str(pch)) if pch and std == _STANDARDS[0] else ()
        res, got = _run([gxx, std, *_FLAGS, *include, "-o", "prog", "prog.cpp"], files={"prog.cpp": source},
                        timeout=timeout, memory_mb=_ASAN_ADDRESS_SPACE_MB, collect=("prog",))
        if res.ok and "prog" in got:
            tmp = target.with_name(key + ".tmp")
            tmp.write_bytes(got["prog"])
            os.chmod(tmp, 0o700)
            os.replace(tmp, target)
            return target
        errors = res.stderr
    return errors


def run_cached(binary: Path, *, stdin: str = "", timeout: float = 10.0) -> ExecResult:
    """Run a cached binary in the sandbox through a copy that exists for this run only."""
    expose = Path(tempfile.mkdtemp(prefix="cpp2py-oracle-run-"))
    try:
        os.chmod(expose, 0o711)  # traversable, not listable: the copy's name is the secret
        copy = expose / secrets.token_hex(16)
        shutil.copyfile(binary, copy)
        os.chmod(copy, 0o755)
        return _run([str(copy)], stdin=stdin, timeout=timeout, memory_mb=_ASAN_ADDRESS_SPACE_MB)[0]
    finally:
        shutil.rmtree(expose, ignore_errors=True)

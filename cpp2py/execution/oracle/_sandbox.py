"""Everything the oracle needs from the sandbox, in one place.

Oracle binaries are compiled inside the sandbox (g++ then runs as the throw-away uid, so an ``#include`` of a
private file fails) and cached in the sandbox's binary cache, a 0700 directory of the running user, so that a candidate — which runs as
the sandbox's uid — can neither read nor execute them (issue 15, item 1). To run one, a copy is exposed for
each run in the run's own private work dir (the sandbox's run_binary).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
import threading
from pathlib import Path

from cpp2py.execution.sandbox import CompiledCpp, ExecResult, compile_cpp, run_binary, run_python

__all__ = ["ExecResult", "run_python", "compile_cached", "run_cached"]

# ASan reserves terabytes of shadow address space, so an RLIMIT_AS cap would stop every sanitized binary
# at start-up; the binary caps its own resident memory instead (hard_rss_limit_mb in the driver prelude).
_ASAN_ADDRESS_SPACE_MB = 1 << 25
# _GLIBCXX_ASSERTIONS bounds-checks vector/string indexing, which ASan misses when an index jumps past the
# red zone into another live allocation; float-cast-overflow (a double too large for an int, log10(0) cast to
# int) and float-divide-by-zero (where C++ gives inf or nan, Python raises ZeroDivisionError) are undefined
# behaviour that -fsanitize=undefined leaves out in GCC.
_FLAGS = ("-O1", "-D_GLIBCXX_ASSERTIONS", "-fsanitize=undefined,float-cast-overflow,float-divide-by-zero,address", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-w")
_STANDARDS = ("c++20", "c++17")
# Compiled into every oracle binary (the sandbox passes no environment): leaks are not undefined behaviour,
# and the leak checker needs ptrace, which the sandbox's uid lacks.
_OPTIONS = ('extern "C" const char *__asan_default_options() '
            '{ return "detect_leaks=0:hard_rss_limit_mb=1024:allocator_may_return_null=1"; }\n#line 1\n')

_PCH_HOME = Path("/var/cache")
_lock = threading.Lock()
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
        key = hashlib.sha256(f"{version}{_FLAGS}-std={_STANDARDS[0]}".encode()).hexdigest()[:16]
        # Not under /tmp: the sandbox mounts a fresh tmpfs there for each run, and the compile runs inside it.
        final = _PCH_HOME / f"cpp2py-oracle-pch-{os.getuid()}-{key}"
        if not os.access(_PCH_HOME, os.W_OK | os.X_OK):
            return None
        if not (_safe_dir(final) and (final / "stdc++.h.gch").is_file()):
            build = Path(tempfile.mkdtemp(prefix="cpp2py-oracle-pch-"))
            (build / "stdc++.h").write_text("#include <bits/stdc++.h>\n")
            done = subprocess.run([gxx, f"-std={_STANDARDS[0]}", *_FLAGS, "-x", "c++-header", str(build / "stdc++.h"),
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
                shutil.move(str(build), final)
            except OSError:  # another process won the race, or a stranger owns the name: use ours
                final = build
        _pch = final / "stdc++.h"
        return _pch


def compile_cached(source: str, *, timeout: float = 120.0) -> tuple[Path, str] | str:
    """Compile ``source`` with the sanitizers (C++20, else C++17) through the sandbox's private binary cache;
    the cached binary's path and the standard it built with, or g++'s errors."""
    gxx = shutil.which("g++")
    if not gxx:
        return "g++ not found on PATH"
    pch = precompiled_header(gxx)
    errors = ""
    for std in _STANDARDS:
        include = ("-include", str(pch)) if pch and std == _STANDARDS[0] else ()
        res = compile_cpp(_OPTIONS + source, timeout=timeout, std=std, flags=(*_FLAGS, *include),
                          memory_mb=_ASAN_ADDRESS_SPACE_MB)
        if isinstance(res, CompiledCpp):
            return res.path, std
        errors = res.stderr
    return errors


def run_cached(binary: Path, *, stdin: str = "", timeout: float = 10.0) -> ExecResult:
    """Run a cached binary in the sandbox: it runs from a copy in the run's own work dir (run_binary), so
    the private cache itself never has to be reachable by the sandbox's uid."""
    return run_binary(binary, stdin=stdin, timeout=timeout, memory_mb=_ASAN_ADDRESS_SPACE_MB)

"""Run untrusted programs (model-generated Python, benchmark C++) in a bounded subprocess.

Run as: python -c "from cpp2py.execution.sandbox import run_python; print(run_python('print(1)'))"

Every run gets:

* a wall-clock timeout, and rlimits on CPU time, address space, open files, file size (which also bounds
  stdout/stderr: they go to files, so a program printing forever is stopped by SIGXFSZ, never buffered in
  our memory) and core dumps;
* a fresh 0700 working directory (``HOME`` and ``TMPDIR`` point there) that is deleted afterwards; our
  stdin/stdout/stderr files beside it are 0600, so no other run can read them;
* a scrubbed environment: only ``PATH``, ``LANG``, ``HOME``, ``TMPDIR`` and Python's hash seed, so API keys
  and tokens in our environment never reach the program; Python runs with ``-I -S`` (no ``PYTHON*``
  variables, no site-packages: translations are judged on the standard library);
* namespaces from ``unshare`` (as root; else inside a user namespace, ``-r``), each probed once and listed
  in ``ExecResult.isolation`` when it applied: ``netns`` (only a down loopback; ``network_isolated``),
  ``ipcns`` (SysV shared memory, semaphores and message queues die with the run) and ``mountns``: fresh
  tmpfs over every world-writable dir (``/tmp``, ``/var/tmp``, ``/dev/shm``, ``/run/lock``), so nothing
  written there outlives the run or is seen by another, and empty read-only tmpfs over our own code and
  packages (cpp2py, site-packages, a venv), so they cannot be imported or read by path;
* a memory limit for the whole process tree (``memcg``): a cgroup per run, v2 where the memory controller
  is delegated to our cgroup, else v1's memory hierarchy; where neither is writable only the per-process
  RLIMIT_AS applies (so up to ``MAX_PROCESSES`` x ``memory_mb`` in all);
* a process-count limit. RLIMIT_NPROC counts processes per *user* and is not enforced for root (nor for
  anyone holding CAP_SYS_RESOURCE), so when we run as root each program runs under a fresh, unused uid
  (set by a small trusted launcher, with ``no_new_privs``): the limit then really bounds a fork bomb, the
  program cannot write root's files, cannot read other processes' ``/proc/*/environ`` nor other runs'
  files, and when the run ends we SIGKILL every process of that uid (children that called ``setsid``
  included) and, without a mount namespace, remove what it left in the world-writable dirs (nested
  world-writable dirs included).
  Not as root, the limit is set to the user's current count plus the allowance, and the program's session
  (process group) is killed at the end;
* with ``must_finish`` (how ``check_candidate`` runs ``test`` items): exit status 0 counts only when the
  script reached its end. The launcher reads a per-run token from a pipe and closes it before the program
  starts, and writes it to a 0600 result file after the program's last statement; ``sys.exit``,
  ``os._exit``, ``quit()``, a signal or an ``atexit`` handler leave without it;
* C++ oracle binaries are cached in a 0700 directory of ours and each run gets a copy, so a program under
  the sandbox's uid can neither run them nor read their outputs (kept in our memory).

What this does NOT protect against (run untrusted code on a disposable machine or container when it matters):

* reading any other world-readable file (source trees, benchmark data with its reference solutions,
  ``/etc``, world-readable keys) — there is no seccomp filter and the mount namespace hides only our own
  packages; when not root, every file of the user running cpp2py (the oracle cache included, unless a
  mount namespace hides ``/tmp``);
* a candidate written to cheat a ``test`` item from inside its own interpreter: the assertions run in its
  process, so an object whose ``==`` is always true, patched builtins, or digging the finish token out of
  the launcher's frame (``sys._getframe``) or its own memory all pass. The token stops leaving early,
  not a deliberate forgery;
* without the namespaces or cgroup above (see ``ExecResult.isolation``): network access, SysV IPC objects
  that outlive the run, files left in world-writable dirs by a non-root run (by a root run: in a
  world-writable dir nested inside a non-writable one), other runs' ``/tmp`` names, our packages importable by
  path (as root, those under a 0700 home are not), and memory beyond ``memory_mb`` across processes;
* when not root, all runs share one user: concurrent runs can read each other's work dirs and files, and
  a program can escape the process-group kill (double fork + setsid);
* kernel exploits, side channels, exhausting disk with many small files (in the work dir), or CPU
  contention with other runs.
"""
from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from cpp2py.execution import isolation
from cpp2py.lru import LRU

MAX_OUTPUT_BYTES = 1 << 20  # kept per stream; more is cut and flagged
MAX_FILE_MB = 16  # RLIMIT_FSIZE: bounds any file the program writes, stdout/stderr included
MAX_PROCESSES = 32
MAX_OPEN_FILES = 256


@dataclass
class ExecResult:
    """What a sandboxed run did. ``status`` is "ok" (exit 0), "error" (non-zero exit, or exit 0 before the
    end of a program that had to finish), "timeout" (wall clock or CPU limit) or "killed" (another signal,
    e.g. the file-size or memory limit). ``finished`` says whether a ``must_finish`` program ran to its end
    (None when not asked)."""

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    duration: float
    network_isolated: bool = False
    isolation: list[str] = field(default_factory=list)  # mechanisms that applied, e.g. ["uid", "netns"]
    truncated: bool = False
    finished: bool | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class CompiledCpp:
    path: Path
    source_hash: str


def _read_capped(path: Path) -> tuple[str, bool]:
    with open(path, "rb") as f:
        data = f.read(MAX_OUTPUT_BYTES + 1)
    return data[:MAX_OUTPUT_BYTES].decode("utf-8", errors="replace"), len(data) > MAX_OUTPUT_BYTES


def _private(path: str, flags: int) -> int:
    # An opener for our stdin/stdout/stderr files: 0600, so other runs' uids cannot read them.
    return os.open(path, flags, 0o600)


def _make_work_dir(outer: Path, files: dict[str, str | bytes], uid: int | None) -> Path:
    """The program's 0700 work dir holding ``files``, owned by its uid; the outer dir, holding our own
    files (0600), is only traversable."""
    os.chmod(outer, 0o711)
    work = outer / "work"
    work.mkdir(mode=0o700)
    for name, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        with open(work / name, "wb", opener=lambda p, fl: os.open(p, fl, 0o700)) as f:
            f.write(data)
    if uid is not None:
        for p in (work, *work.iterdir()):
            os.chown(p, uid, uid)
    return work


def _pipe_holding(data: bytes) -> int:
    """The read end of a pipe already holding ``data`` (a few bytes: they fit in the pipe buffer)."""
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    return r


def _wait(proc: subprocess.Popen, timeout: float, uid: int | None) -> bool:
    """Wait for the program; at the end (or the timeout) kill everything it started. True on timeout."""
    expired = threading.Event()

    def kill_group() -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass

    def on_timeout() -> None:
        expired.set()
        kill_group()

    # A timer plus a blocking wait: Popen.wait(timeout) polls with sleeps of up to 50 ms per run.
    timer = threading.Timer(timeout, on_timeout)
    timer.start()
    try:
        proc.wait()
    finally:
        timer.cancel()
        kill_group()
        proc.wait()
        if uid is not None:
            isolation.kill_uid(uid)
    return expired.is_set()


def _verdict(rc: int | None, timed_out: bool, finished: bool | None, oom: bool, timeout: float,
             stderr: str) -> tuple[str, str]:
    """(status, stderr with the sandbox's note on why the run stopped)."""
    if timed_out or rc == -signal.SIGXCPU:
        return "timeout", stderr + f"\n[sandbox] stopped: {'wall-clock' if timed_out else 'CPU'} limit of {timeout:g}s"
    if rc is not None and rc < 0:
        why = ("file-size/output limit" if rc == -signal.SIGXFSZ else
               "memory limit of the whole process tree" if oom else signal.Signals(-rc).name)
        return "killed", stderr + f"\n[sandbox] killed by signal ({why})"
    if rc == 0 and finished is False:
        return "error", stderr + "\n[sandbox] exit status 0 before the end of the program (early exit)"
    return ("ok" if rc == 0 else "error"), stderr


def _run(argv: list[str], *, python: bool = False, files: dict[str, str | bytes] | None = None,
         stdin: str | None = None, timeout: float = 10.0, memory_mb: int = 1024, allow_network: bool = False,
         collect: tuple[str, ...] = (), must_finish: bool = False) -> tuple[ExecResult, dict[str, bytes]]:
    """Run ``argv`` (relative names resolve in a fresh work dir holding ``files``) under all the limits;
    with ``python``, ``argv`` is ``[script, *args]`` run by the launcher's interpreter, and with
    ``must_finish`` too, exit status 0 counts only when the script ran to its end.

    ``collect`` names files to read back from the work dir (e.g. a compiled binary) before it is deleted.
    """
    uid = isolation.fresh_uid() if isolation.drop_uid_python() else None
    kinds = [k for k in isolation.namespaces() if not (allow_network and k == "netns")]
    cgroup = isolation.new_cgroup(*isolation.memcg_parent(), memory_mb << 20) if isolation.memcg_parent() else None
    applied = [*(["uid"] if uid is not None else []), *kinds, *(["memcg"] if cgroup else [])]
    secret = os.urandom(16).hex().encode() if python and must_finish else b""
    outer = Path(tempfile.mkdtemp(prefix="cpp2py-sandbox-"))
    try:
        work = _make_work_dir(outer, files or {}, uid)
        with open(outer / "stdin", "w", encoding="utf-8", opener=_private) as f:
            f.write(stdin or "")
        scratch, private = isolation.mount_plan(_cache_dir) if "mountns" in kinds else ([], [])
        nproc = MAX_PROCESSES if uid is not None else isolation.user_process_count() + MAX_PROCESSES
        limits = [uid if uid is not None else -1, nproc, int(timeout) + 1, memory_mb << 20, MAX_FILE_MB << 20,
                  MAX_OPEN_FILES]
        token_r = _pipe_holding(secret) if secret else -1
        start = time.monotonic()
        with open(outer / "stdin", "rb") as fin, open(outer / "stdout", "wb", opener=_private) as fout, \
                open(outer / "stderr", "wb", opener=_private) as ferr, \
                open(outer / "finished", "wb", opener=_private) as fdone:
            token = f"{token_r},{fdone.fileno()}" if secret else ""
            cmd = [*isolation.unshare_prefix(kinds), isolation.launcher_python()[0], "-I", "-S", "-c",
                   isolation.LAUNCHER, *map(str, limits),
                   str(cgroup / "cgroup.procs") if cgroup else "", token, os.pathsep.join(scratch),
                   os.pathsep.join(private), "python" if python else "exec", *argv]
            try:
                proc = subprocess.Popen(cmd, cwd=work, env=dict(isolation.SAFE_ENV, HOME=str(work), TMPDIR=str(work)),
                                        stdin=fin, stdout=fout, stderr=ferr, start_new_session=True,
                                        close_fds=True, pass_fds=(token_r, fdone.fileno()) if secret else ())
            finally:
                if secret:
                    os.close(token_r)
            timed_out = _wait(proc, timeout, uid)
        duration = time.monotonic() - start
        stdout, t1 = _read_capped(outer / "stdout")
        stderr, t2 = _read_capped(outer / "stderr")
        finished = (outer / "finished").read_bytes() == secret if secret else None
        status, stderr = _verdict(proc.returncode, timed_out, finished, isolation.oom_killed(cgroup), timeout, stderr)
        collected = {n: (work / n).read_bytes() for n in collect if (work / n).is_file()}
        return ExecResult(status=status, returncode=None if timed_out else proc.returncode, stdout=stdout,
                          stderr=stderr, duration=duration, network_isolated="netns" in kinds,
                          isolation=applied, truncated=t1 or t2, finished=finished), collected
    finally:
        shutil.rmtree(outer, ignore_errors=True)
        if cgroup:
            isolation.remove_cgroup(cgroup)
        if uid is not None and "mountns" not in kinds:
            isolation.remove_owned_by(uid)


def run_python(code: str, *, stdin: str | None = None, timeout: float = 10.0, memory_mb: int = 1024,
               allow_network: bool = False, must_finish: bool = False) -> ExecResult:
    """Run Python source ``code`` as a script in the sandbox. With ``must_finish``, an exit status of 0
    counts only when the script reached its end (``ExecResult.finished``): a test harness uses this so that
    leaving early (``sys.exit(0)``, ``os._exit(0)``, an ``atexit`` handler) cannot fake a pass."""
    return _run(["main.py"], python=True, files={"main.py": code}, stdin=stdin, timeout=timeout,
                memory_mb=memory_mb, allow_network=allow_network, must_finish=must_finish)[0]


_cache_lock = threading.Lock()
# A long-running serve keeps the most recent keys' locks; a dropped one costs at most a duplicate compile
# (written atomically) or oracle run.
_key_locks: LRU[threading.Lock] = LRU(maxsize=4096)
_cache_dir: Path | None = None


def _binary_cache() -> Path:
    global _cache_dir
    with _cache_lock:
        if _cache_dir is None:
            # 0700 (mkdtemp's mode): programs must not run the oracle binaries; run_binary copies them.
            _cache_dir = Path(tempfile.mkdtemp(prefix="cpp2py-cppcache-"))
            atexit.register(shutil.rmtree, _cache_dir, True)
        return _cache_dir


def _lock_for(key: object) -> threading.Lock:
    """One lock per cache key, so concurrent askers for the same entry compute it once."""
    return _key_locks.setdefault(key, threading.Lock)


def compile_cpp(source: str, *, timeout: float = 60.0, std: str = "c++17", flags: tuple[str, ...] = ("-O2",),
                memory_mb: int = 4096) -> CompiledCpp | ExecResult:
    """Compile C++ with ``g++ -std=<std> <flags>`` (inside the sandbox); the binary is cached by source, standard
    and flags for the life of the process, in a directory only this user can read. Returns the failed
    ``ExecResult`` when compilation fails."""
    digest = hashlib.sha256("\0".join((std, *flags, source)).encode("utf-8")).hexdigest()
    with _lock_for(digest):
        target = _binary_cache() / digest
        if target.is_file():
            return CompiledCpp(target, digest)
        gxx = shutil.which("g++")
        if not gxx:
            return ExecResult("error", None, "", "g++ not found on PATH", 0.0)
        res, got = _run([gxx, f"-std={std}", *flags, "-o", "prog", "prog.cpp"], files={"prog.cpp": source},
                        timeout=timeout, memory_mb=memory_mb, collect=("prog",))
        if not res.ok or "prog" not in got:
            return res
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(got["prog"])
        os.chmod(tmp, 0o700)
        os.replace(tmp, target)
        return CompiledCpp(target, digest)


def run_binary(path: str | Path, *, stdin: str | None = None, timeout: float = 10.0,
               memory_mb: int = 1024) -> ExecResult:
    """Run a compiled program in the sandbox. It runs from a copy in the run's work dir, so the original
    (e.g. in the private binary cache) need not be reachable by the sandbox's uid."""
    return _run(["./prog"], files={"prog": Path(path).read_bytes()}, stdin=stdin, timeout=timeout,
                memory_mb=memory_mb)[0]


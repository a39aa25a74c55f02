"""Run untrusted programs (model-generated Python, benchmark C++) in a bounded subprocess.

Run as: python -c "from cpp2py.execution.sandbox import run_python; print(run_python('print(1)'))"

Every run gets:

* a wall-clock timeout, and rlimits on CPU time, address space, open files, file size (which also bounds
  stdout/stderr: they go to files, so a program printing forever is stopped by SIGXFSZ, never buffered in
  our memory) and core dumps;
* a fresh working directory (``HOME`` and ``TMPDIR`` point there) that is deleted afterwards;
* a scrubbed environment: only ``PATH``, ``LANG``, ``HOME``, ``TMPDIR`` and Python's hash seed, so API keys
  and tokens in our environment never reach the program; Python runs with ``-I -S`` (no ``PYTHON*``
  variables, no site-packages: translations are judged on the standard library);
* no network when the OS allows it: ``unshare --net`` (root) or ``unshare -rn`` (unprivileged user
  namespaces) gives the process a network namespace with only a down loopback. Probed once per process;
  when neither works the run still happens and ``ExecResult.network_isolated`` is False;
* a process-count limit. RLIMIT_NPROC counts processes per *user* and is not enforced for root (nor for
  anyone holding CAP_SYS_RESOURCE), so when we run as root each program runs under a fresh, unused uid
  (set by a small trusted launcher, with ``no_new_privs``): the limit then really bounds a fork bomb, the program cannot write
  root's files, cannot read other processes' ``/proc/*/environ``, and when the run ends we SIGKILL every
  process of that uid (children that called ``setsid`` included) and remove what it left in ``/tmp``,
  ``/var/tmp`` and ``/dev/shm``. Not as root, the limit is set to the user's current count plus the
  allowance, and the program's session (process group) is killed at the end.

What this does NOT protect against (run untrusted code on a disposable machine or container when it matters):

* reading any world-readable file (source trees, ``/etc``, world-readable keys), and, when not root, every
  file of the user running cpp2py — there is no filesystem namespace or seccomp filter;
* writing to world-writable places other than the top level of ``/tmp``, ``/var/tmp``, ``/dev/shm`` being
  cleaned (e.g. nested files created there by a non-root run), within the file-size limit;
* kernel exploits, side channels, exhausting disk with many small files, or CPU contention with other runs;
* network access where no network namespace could be made (see ``network_isolated``);
* a program that escapes the process-group kill when cpp2py does not run as root (double fork + setsid).
"""
from __future__ import annotations

import atexit
import functools
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from cpp2py.lru import LRU

MAX_OUTPUT_BYTES = 1 << 20  # kept per stream; more is cut and flagged
MAX_FILE_MB = 16  # RLIMIT_FSIZE: bounds any file the program writes, stdout/stderr included
MAX_PROCESSES = 32
MAX_OPEN_FILES = 256
_SAFE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
             "PYTHONIOENCODING": "utf-8"}
_WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm")


@dataclass
class ExecResult:
    """What a sandboxed run did. ``status`` is "ok" (exit 0), "error" (non-zero exit), "timeout" (wall
    clock or CPU limit) or "killed" (another signal, e.g. the file-size limit)."""

    status: str
    returncode: int | None
    stdout: str
    stderr: str
    duration: float
    network_isolated: bool = False
    isolation: list[str] = field(default_factory=list)  # mechanisms that applied, e.g. ["uid", "netns"]
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class CompiledCpp:
    path: Path
    source_hash: str


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _works(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=20, env=_SAFE_ENV).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.cache
def _netns_prefix() -> tuple[str, ...]:
    """The command prefix that cuts the network, probed once: many containers forbid namespaces."""
    unshare = shutil.which("unshare")
    if not unshare:
        return ()
    for prefix in ((unshare, "--net", "--"), (unshare, "-rn", "--")):
        if _works([*prefix, "true"]):
            return prefix
    return ()


# The trusted launcher: sets the rlimits, drops to the fresh uid (no supplementary groups, no_new_privs so
# setuid binaries cannot give privileges back), then runs the program. Python programs run in the
# launcher's own interpreter (saving a second interpreter start-up, which dominates scoring time); other
# programs are exec'd. ``-S`` skips site-packages: translations are judged on the standard library.
_LAUNCHER = r"""
import os, resource, sys
uid, nproc, cpu, mem, fsize, nofile = map(int, sys.argv[1:7])
mode, argv = sys.argv[7], sys.argv[8:]
for r, v in ((resource.RLIMIT_CPU, cpu), (resource.RLIMIT_AS, mem), (resource.RLIMIT_FSIZE, fsize),
             (resource.RLIMIT_NPROC, nproc), (resource.RLIMIT_NOFILE, nofile), (resource.RLIMIT_CORE, 0)):
    hard = resource.getrlimit(r)[1]
    v = v if hard == resource.RLIM_INFINITY else min(v, hard)
    resource.setrlimit(r, (v, v))
if uid >= 0:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    import ctypes
    if ctypes.CDLL(None, use_errno=True).prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        sys.exit("sandbox launcher: cannot set no_new_privs")
    del ctypes
if mode == "python":
    sys.argv = argv
    with open(argv[0], encoding="utf-8") as f:
        code = compile(f.read(), argv[0], "exec")
    del f, r, v, hard, uid, nproc, cpu, mem, fsize, nofile, mode, argv, os, resource
    exec(code, {"__name__": "__main__", "__file__": sys.argv[0], "__builtins__": __builtins__})
else:
    os.execv(argv[0], argv)
"""


@functools.cache
def _python() -> tuple[str, bool]:
    """(interpreter for the launcher, whether it can drop to a fresh uid). As root, that interpreter must be
    usable by an unprivileged uid (ours may live under a 0700 home), so the system one may be chosen."""
    if _is_root():
        for exe in (sys.executable, "/usr/bin/python3", shutil.which("python3") or ""):
            probe = [exe, "-I", "-S", "-c", _LAUNCHER, str(_fresh_uid()), "64", "5", str(1 << 30), "1048576",
                     "64", "exec", "/bin/true"]
            if exe and _works(probe):
                return exe, True
    return sys.executable, False


def _drop_uid_python() -> str | None:
    """The interpreter that runs programs under a fresh uid, or None when uids are not dropped."""
    exe, drops = _python()
    return exe if drops else None


def _fresh_uid() -> int:
    # A uid no account and no other concurrent run uses, so its process count starts at zero.
    return random.SystemRandom().randrange(1_000_000, 2_000_000_000)


def _pids_of_uid(uid: int) -> list[int]:
    """Live processes of ``uid`` (zombies are dead already; their reaping is init's business)."""
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid != uid:
                    continue
                with open(f"/proc/{name}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
                if state not in (b"Z", b"X"):
                    pids.append(int(name))
            except (OSError, IndexError):
                pass
    return pids


def _kill_uid(uid: int) -> None:
    # The process count is bounded by RLIMIT_NPROC, so a few sweeps catch processes forked meanwhile.
    for _ in range(100):
        pids = _pids_of_uid(uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.005)


def _remove_owned_by(uid: int) -> None:
    for top in _WORLD_WRITABLE:
        try:
            entries = os.scandir(top)
        except OSError:
            continue
        with entries:
            for e in entries:
                try:
                    if e.stat(follow_symlinks=False).st_uid != uid:
                        continue
                    if e.is_dir(follow_symlinks=False):
                        shutil.rmtree(e.path, ignore_errors=True)
                    else:
                        os.unlink(e.path)
                except OSError:
                    pass


def _user_process_count() -> int:
    return len(_pids_of_uid(os.getuid())) if os.path.isdir("/proc") else 0


def _read_capped(path: Path) -> tuple[str, bool]:
    with open(path, "rb") as f:
        data = f.read(MAX_OUTPUT_BYTES + 1)
    return data[:MAX_OUTPUT_BYTES].decode("utf-8", errors="replace"), len(data) > MAX_OUTPUT_BYTES


def _run(argv: list[str], *, python: bool = False, files: dict[str, str] | None = None, stdin: str | None = None,
         timeout: float = 10.0, memory_mb: int = 1024, allow_network: bool = False,
         collect: tuple[str, ...] = ()) -> tuple[ExecResult, dict[str, bytes]]:
    """Run ``argv`` (relative names resolve in a fresh work dir holding ``files``) under all the limits;
    with ``python``, ``argv`` is ``[script, *args]`` run by the launcher's interpreter.

    ``collect`` names files to read back from the work dir (e.g. a compiled binary) before it is deleted.
    """
    uid = _fresh_uid() if _drop_uid_python() else None
    isolation: list[str] = []
    outer = Path(tempfile.mkdtemp(prefix="cpp2py-sandbox-"))
    try:
        # The outer dir holds our stdin/stdout/stderr files; the program may only traverse it.
        os.chmod(outer, 0o711)
        work = outer / "work"
        work.mkdir(mode=0o700)
        for name, text in (files or {}).items():
            (work / name).write_text(text, encoding="utf-8")
        if uid is not None:
            for p in (work, *work.iterdir()):
                os.chown(p, uid, uid)
            isolation.append("uid")
        (outer / "stdin").write_text(stdin or "", encoding="utf-8")
        nproc = MAX_PROCESSES if uid is not None else _user_process_count() + MAX_PROCESSES
        netns = () if allow_network else _netns_prefix()
        if netns:
            isolation.append("netns")
        limits = [uid if uid is not None else -1, nproc, int(timeout) + 1, memory_mb << 20, MAX_FILE_MB << 20,
                  MAX_OPEN_FILES]
        cmd = [*netns, _python()[0], "-I", "-S", "-c", _LAUNCHER, *map(str, limits),
               "python" if python else "exec", *argv]
        env = dict(_SAFE_ENV, HOME=str(work), TMPDIR=str(work))
        start = time.monotonic()
        with open(outer / "stdin", "rb") as fin, open(outer / "stdout", "wb") as fout, \
                open(outer / "stderr", "wb") as ferr:
            proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=fin, stdout=fout, stderr=ferr,
                                    start_new_session=True, close_fds=True)
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
                    _kill_uid(uid)
            timed_out = expired.is_set()
        duration = time.monotonic() - start
        stdout, t1 = _read_capped(outer / "stdout")
        stderr, t2 = _read_capped(outer / "stderr")
        collected = {n: (work / n).read_bytes() for n in collect if (work / n).is_file()}
        rc = proc.returncode
        if timed_out or rc == -signal.SIGXCPU:
            status = "timeout"
            stderr += f"\n[sandbox] stopped: {'wall-clock' if timed_out else 'CPU'} limit of {timeout:g}s"
        elif rc is not None and rc < 0:
            status = "killed"
            why = "file-size/output limit" if rc == -signal.SIGXFSZ else signal.Signals(-rc).name
            stderr += f"\n[sandbox] killed by signal ({why})"
        else:
            status = "ok" if rc == 0 else "error"
        return ExecResult(status=status, returncode=None if timed_out else rc, stdout=stdout, stderr=stderr,
                          duration=duration, network_isolated=bool(netns), isolation=isolation,
                          truncated=t1 or t2), collected
    finally:
        shutil.rmtree(outer, ignore_errors=True)
        if uid is not None:
            _remove_owned_by(uid)


def run_python(code: str, *, stdin: str | None = None, timeout: float = 10.0, memory_mb: int = 1024,
               allow_network: bool = False) -> ExecResult:
    """Run Python source ``code`` as a script in the sandbox."""
    return _run(["main.py"], python=True, files={"main.py": code}, stdin=stdin, timeout=timeout,
                memory_mb=memory_mb, allow_network=allow_network)[0]


_cache_lock = threading.Lock()
# A long-running serve keeps the most recent keys' locks; a dropped one costs at most a duplicate compile
# (written atomically) or oracle run.
_key_locks: LRU[threading.Lock] = LRU(maxsize=4096)
_cache_dir: Path | None = None


def _binary_cache() -> Path:
    global _cache_dir
    with _cache_lock:
        if _cache_dir is None:
            _cache_dir = Path(tempfile.mkdtemp(prefix="cpp2py-cppcache-"))
            os.chmod(_cache_dir, 0o755)  # the sandbox uid must be able to execute the binaries
            atexit.register(shutil.rmtree, _cache_dir, True)
        return _cache_dir


def _lock_for(key: object) -> threading.Lock:
    """One lock per cache key, so concurrent askers for the same entry compute it once."""
    return _key_locks.setdefault(key, threading.Lock)


def compile_cpp(source: str, *, timeout: float = 60.0, std: str = "c++17") -> CompiledCpp | ExecResult:
    """Compile C++ with ``g++ -std=<std> -O2`` (inside the sandbox); the binary is cached by source hash and
    standard for the life of the process. Returns the failed ``ExecResult`` when compilation fails."""
    digest = hashlib.sha256(f"{std}\0{source}".encode("utf-8")).hexdigest()
    with _lock_for(digest):
        target = _binary_cache() / digest
        if target.is_file():
            return CompiledCpp(target, digest)
        gxx = shutil.which("g++")
        if not gxx:
            return ExecResult("error", None, "", "g++ not found on PATH", 0.0)
        res, got = _run([gxx, f"-std={std}", "-O2", "-o", "prog", "prog.cpp"], files={"prog.cpp": source},
                        timeout=timeout, memory_mb=4096, collect=("prog",))
        if not res.ok or "prog" not in got:
            return res
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(got["prog"])
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
        return CompiledCpp(target, digest)


def run_binary(path: str | Path, *, stdin: str | None = None, timeout: float = 10.0,
               memory_mb: int = 1024) -> ExecResult:
    """Run a compiled program in the sandbox."""
    return _run([str(Path(path).resolve())], stdin=stdin, timeout=timeout, memory_mb=memory_mb)[0]

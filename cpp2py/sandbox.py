"""Run untrusted programs (model-generated Python, benchmark C++) in a bounded subprocess.

Run as: python -c "from cpp2py.sandbox import run_python; print(run_python('print(1)'))"

Every run gets:

* a wall-clock timeout, and rlimits on CPU time, address space, open files, file size (which also bounds
  stdout/stderr: they go to files, so a program printing forever is stopped by SIGXFSZ, never buffered in
  our memory) and core dumps;
* a fresh working directory (``HOME`` and ``TMPDIR`` point there) that is deleted afterwards;
* a scrubbed environment: only ``PATH``, ``LANG``, ``HOME``, ``TMPDIR`` and Python's hash seed, so API keys
  and tokens in our environment never reach the program; Python runs with ``-I`` (no ``PYTHON*`` variables,
  no user site);
* no network when the OS allows it: ``unshare --net`` (root) or ``unshare -rn`` (unprivileged user
  namespaces) gives the process a network namespace with only a down loopback. Probed once per process;
  when neither works the run still happens and ``ExecResult.network_isolated`` is False;
* a process-count limit. RLIMIT_NPROC counts processes per *user* and is not enforced for root (nor for
  anyone holding CAP_SYS_RESOURCE), so when we run as root each program runs under a fresh, unused uid
  (``setpriv --reuid U --no-new-privs``): the limit then really bounds a fork bomb, the program cannot write
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

import ast
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


@dataclass
class Verdict:
    """The outcome of a benchmark oracle. ``kind`` is one of KINDS."""

    passed: bool
    kind: str
    detail: str = ""


KINDS = ("pass", "syntax_error", "runtime_error", "wrong_answer", "timeout", "oracle_compile_error",
         "oracle_error", "no_oracle")


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


def _setpriv_prefix(uid: int) -> list[str]:
    return [shutil.which("setpriv") or "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--no-new-privs", "--"]


@functools.cache
def _drop_uid_python() -> str | None:
    """A Python interpreter an unprivileged uid may execute (ours may live under a 0700 home), or None
    when we are not root or uid dropping is unavailable."""
    if not _is_root() or not shutil.which("setpriv"):
        return None
    for exe in (sys.executable, "/usr/bin/python3", shutil.which("python3") or ""):
        if exe and _works(_setpriv_prefix(_fresh_uid()) + [exe, "-I", "-c", "pass"]):
            return exe
    return None


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


def _rlimit_prefix(*, cpu_s: int, memory_mb: int, nproc: int) -> list[str]:
    limits = {"cpu": cpu_s, "as": memory_mb << 20, "fsize": MAX_FILE_MB << 20, "nproc": nproc,
              "nofile": MAX_OPEN_FILES, "core": 0}
    prlimit = shutil.which("prlimit")
    if prlimit:
        return [prlimit, *(f"--{k}={v}" for k, v in limits.items()), "--"]
    # No util-linux (e.g. macOS): a small trusted launcher sets the limits and execs the program, which
    # keeps preexec_fn (unsafe with threads) out of the picture.
    names = {"cpu": "RLIMIT_CPU", "as": "RLIMIT_AS", "fsize": "RLIMIT_FSIZE", "nproc": "RLIMIT_NPROC",
             "nofile": "RLIMIT_NOFILE", "core": "RLIMIT_CORE"}
    code = ("import os,resource,sys\n"
            f"for n,v in {[(names[k], v) for k, v in limits.items()]!r}:\n"
            "    r=getattr(resource,n,None)\n"
            "    if r is not None:\n"
            "        try: resource.setrlimit(r,(v,v))\n"
            "        except (ValueError,OSError): pass\n"
            "os.execvp(sys.argv[1],sys.argv[1:])")
    return [sys.executable, "-I", "-c", code]


def _read_capped(path: Path) -> tuple[str, bool]:
    with open(path, "rb") as f:
        data = f.read(MAX_OUTPUT_BYTES + 1)
    return data[:MAX_OUTPUT_BYTES].decode("utf-8", errors="replace"), len(data) > MAX_OUTPUT_BYTES


def _run(argv: list[str], *, files: dict[str, str] | None = None, stdin: str | None = None,
         timeout: float = 10.0, memory_mb: int = 1024, allow_network: bool = False,
         collect: tuple[str, ...] = ()) -> tuple[ExecResult, dict[str, bytes]]:
    """Run ``argv`` (relative names resolve in a fresh work dir holding ``files``) under all the limits.

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
        cmd = _rlimit_prefix(cpu_s=int(timeout) + 1, memory_mb=memory_mb, nproc=nproc)
        netns = () if allow_network else _netns_prefix()
        if netns:
            cmd += netns
            isolation.append("netns")
        if uid is not None:
            cmd += _setpriv_prefix(uid)
        cmd += argv
        env = dict(_SAFE_ENV, HOME=str(work), TMPDIR=str(work))
        start = time.monotonic()
        timed_out = False
        with open(outer / "stdin", "rb") as fin, open(outer / "stdout", "wb") as fout, \
                open(outer / "stderr", "wb") as ferr:
            proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=fin, stdout=fout, stderr=ferr,
                                    start_new_session=True, close_fds=True)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                proc.wait()
                if uid is not None:
                    _kill_uid(uid)
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
    python = _drop_uid_python() or sys.executable
    return _run([python, "-I", "-B", "main.py"], files={"main.py": code}, stdin=stdin, timeout=timeout,
                memory_mb=memory_mb, allow_network=allow_network)[0]


_cache_lock = threading.Lock()
_key_locks: dict[str, threading.Lock] = {}
_cache_dir: Path | None = None


def _binary_cache() -> Path:
    global _cache_dir
    with _cache_lock:
        if _cache_dir is None:
            _cache_dir = Path(tempfile.mkdtemp(prefix="cpp2py-cppcache-"))
            os.chmod(_cache_dir, 0o755)  # the sandbox uid must be able to execute the binaries
            atexit.register(shutil.rmtree, _cache_dir, True)
        return _cache_dir


def compile_cpp(source: str, *, timeout: float = 60.0) -> CompiledCpp | ExecResult:
    """Compile C++ with ``g++ -std=c++17 -O2`` (inside the sandbox); the binary is cached by source hash for
    the life of the process. Returns the failed ``ExecResult`` when compilation fails."""
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()
    with _cache_lock:
        key_lock = _key_locks.setdefault(digest, threading.Lock())
    with key_lock:
        target = _binary_cache() / digest
        if target.is_file():
            return CompiledCpp(target, digest)
        gxx = shutil.which("g++")
        if not gxx:
            return ExecResult("error", None, "", "g++ not found on PATH", 0.0)
        res, got = _run([gxx, "-std=c++17", "-O2", "-o", "prog", "prog.cpp"], files={"prog.cpp": source},
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


def _same_output(a: str, b: str) -> bool:
    def norm(s: str) -> list[str]:
        lines = [line.rstrip() for line in s.splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    return norm(a) == norm(b)


_oracle_cache: dict[tuple[str, str], ExecResult | Verdict] = {}


def _oracle_output(cpp: str, stdin: str, timeout: float) -> ExecResult | Verdict:
    """The C++ program's run on ``stdin`` (cached), or a Verdict saying why there is no oracle."""
    key = (hashlib.sha256(cpp.encode("utf-8")).hexdigest(), stdin)
    if key in _oracle_cache:
        return _oracle_cache[key]
    compiled = compile_cpp(cpp)
    if isinstance(compiled, ExecResult):
        out: ExecResult | Verdict = Verdict(False, "oracle_compile_error", _tail(compiled.stderr))
    else:
        res = run_binary(compiled.path, stdin=stdin, timeout=timeout)
        out = res if res.status in ("ok", "error") else Verdict(
            False, "oracle_error", f"the C++ oracle itself {res.status}: {_tail(res.stderr)}")
    _oracle_cache[key] = out
    return out


def _tail(text: str, n: int = 600) -> str:
    text = text.strip()
    return text if len(text) <= n else "..." + text[-n:]


def check_candidate(candidate: str, item: dict, *, timeout: float = 10.0) -> Verdict:
    """Apply the benchmark item's oracle to a candidate Python translation.

    ``test``: the program ``candidate + "\\n\\n" + test`` must exit 0 (an AssertionError is a wrong answer,
    any other failure a runtime error). ``compare_stdout``: the item's C++ is compiled and run on ``stdin``;
    the candidate must print the same lines (trailing whitespace and trailing blank lines ignored).
    """
    try:
        ast.parse(candidate)
    except (SyntaxError, ValueError) as e:
        return Verdict(False, "syntax_error", str(e))
    test = item.get("test")
    if test:
        res = run_python(candidate + "\n\n" + test, timeout=timeout)
        if res.ok:
            return Verdict(True, "pass")
        if res.status == "timeout":
            return Verdict(False, "timeout", _tail(res.stderr))
        kind = "wrong_answer" if "AssertionError" in res.stderr else "runtime_error"
        return Verdict(False, kind, _tail(res.stderr))
    if item.get("compare_stdout") and item.get("cpp"):
        stdin = item.get("stdin") or ""
        oracle = _oracle_output(item["cpp"], stdin, timeout)
        if isinstance(oracle, Verdict):
            return oracle
        res = run_python(candidate, stdin=stdin, timeout=timeout)
        if res.status == "timeout":
            return Verdict(False, "timeout", _tail(res.stderr))
        if res.status == "killed" or (res.status == "error" and oracle.ok):
            return Verdict(False, "runtime_error", _tail(res.stderr))
        if not _same_output(res.stdout, oracle.stdout):
            return Verdict(False, "wrong_answer", f"expected {_tail(oracle.stdout, 200)!r}, "
                                                  f"got {_tail(res.stdout, 200)!r}")
        return Verdict(True, "pass")
    return Verdict(False, "no_oracle", "the item has neither `test` nor `compare_stdout`")

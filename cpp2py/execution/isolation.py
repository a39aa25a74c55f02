"""How the sandbox isolates a run: namespaces (probed once), the mount plan and the trusted launcher that
applies it, fresh uids and the cleanup after them (their processes, their files in world-writable dirs), and
per-run memory cgroups. ``sandbox`` puts these together; the guarantees and their limits are in its docstring.
"""
from __future__ import annotations

import functools
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

SAFE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
             "PYTHONIOENCODING": "utf-8"}
# Every world-writable dir of a usual Linux system: a program could leave files for later runs there.
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
NAMESPACES = {"netns": "--net", "ipcns": "--ipc", "mountns": "--mount"}  # ExecResult.isolation name: flag


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _works(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=20, env=SAFE_ENV).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.cache
def namespaces() -> tuple[str, ...]:
    """The namespace kinds ``unshare`` can make here, probed once each: many containers forbid some or all.
    Not as root, each comes inside a user namespace (``-r``)."""
    unshare = shutil.which("unshare")
    if not unshare:
        return ()
    user = () if _is_root() else ("-r",)
    return tuple(kind for kind, flag in NAMESPACES.items() if _works([unshare, *user, flag, "--", "true"]))


def unshare_prefix(kinds: list[str]) -> tuple[str, ...]:
    if not kinds:
        return ()
    user = () if _is_root() else ("-r",)
    return (shutil.which("unshare") or "unshare", *user, *(NAMESPACES[k] for k in kinds), "--")


@functools.cache
def _private_dirs() -> tuple[str, ...]:
    """Our own code and packages (cpp2py, torch, the model stack): hidden from programs by path, since a
    translation is judged on the standard library and must not reach into the scorer."""
    import site

    package = Path(sys.modules[__name__.partition(".")[0]].__file__).parent
    dirs = [*site.getsitepackages(), site.getusersitepackages(), str(package)]
    if sys.prefix != sys.base_prefix:  # a venv: everything in it is ours
        dirs.append(sys.prefix)
    return tuple(dict.fromkeys(os.path.realpath(d) for d in dirs if os.path.isdir(d)))


def _under(path: str, dirs: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in dirs)


def mount_plan(cache_dir: Path | None) -> tuple[list[str], list[str]]:
    """(world-writable dirs to give a fresh tmpfs, private dirs to cover with an empty one: ours and the
    binary cache ``cache_dir``). A private dir under a scratch dir (the binary cache in /tmp) is hidden by
    that tmpfs already."""
    scratch = list(dict.fromkeys(os.path.realpath(d) for d in SCRATCH_DIRS if os.path.isdir(d)))
    private = [*_private_dirs(), *([os.path.realpath(cache_dir)] if cache_dir else [])]
    return scratch, [d for d in private if not _under(d, scratch)]


# The trusted launcher, run as root when we are root. In order: joins the run's memory cgroup; in a mount
# namespace, covers the world-writable dirs with fresh tmpfs (nothing written there outlives the run)
# and our private dirs with empty ones; reads the finish token from a pipe and closes it, so the program
# cannot find it in its source, argv, environment or open files; sets the rlimits; drops to the fresh uid
# (no supplementary groups, no_new_privs so setuid binaries cannot give privileges back); runs the
# program. Python programs run in the launcher's own interpreter (saving a second interpreter start-up,
# which dominates scoring time); other programs are exec'd. ``-S`` skips site-packages: translations are
# judged on the standard library. A program that must finish gets the token written to the result file
# only after its last statement: an early exit (sys.exit, os._exit, a signal, an atexit trick) skips it.
LAUNCHER = r"""
import os, resource, sys


def mount_all(scratch, private):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)

    def mount(src, dst, flags, data):
        fstype = b"tmpfs" if src == "tmpfs" else None
        if libc.mount(src.encode(), dst.encode(), fstype, ctypes.c_ulong(flags), data) != 0:
            sys.exit(f"sandbox launcher: cannot mount on {dst}: {os.strerror(ctypes.get_errno())}")

    work = os.getcwd()
    for d in scratch:
        mount("tmpfs", d, 2 | 4, b"mode=1777,size=256m")  # MS_NOSUID | MS_NODEV
    for d in private:
        mount("tmpfs", d, 1 | 2 | 4, b"mode=755,size=4k")  # and MS_RDONLY: empty for good
    # The work dir may lie under a dir just covered; "." still is it, so bind it back at its path.
    os.makedirs(work, exist_ok=True)
    mount(".", work, 4096, None)  # MS_BIND
    os.chdir(work)


def main():
    uid, nproc, cpu, mem, fsize, nofile = map(int, sys.argv[1:7])
    cgroup, token, scratch, private, mode = sys.argv[7:12]
    argv = sys.argv[12:]
    if cgroup:
        with open(cgroup, "w") as f:
            f.write(str(os.getpid()))
    if scratch or private:
        mount_all(scratch.split(os.pathsep) if scratch else [], private.split(os.pathsep) if private else [])
    secret = b""
    if token:
        rfd, wfd = map(int, token.split(","))
        secret = os.read(rfd, 64)
        os.close(rfd)
        os.set_inheritable(wfd, False)
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
    if mode != "python":
        os.execv(argv[0], argv)
    sys.argv = argv
    with open(argv[0], encoding="utf-8") as f:
        code = compile(f.read(), argv[0], "exec")
    exec(code, {"__name__": "__main__", "__file__": argv[0], "__builtins__": __builtins__})
    if token:
        os.write(wfd, secret)


main()
"""


@functools.cache
def launcher_python() -> tuple[str, bool]:
    """(interpreter for the launcher, whether it can drop to a fresh uid). As root, that interpreter must be
    usable by an unprivileged uid (ours may live under a 0700 home), so the system one may be chosen."""
    if _is_root():
        for exe in (sys.executable, "/usr/bin/python3", shutil.which("python3") or ""):
            probe = [exe, "-I", "-S", "-c", LAUNCHER, str(fresh_uid()), "64", "5", str(1 << 30), "1048576",
                     "64", "", "", "", "", "exec", "/bin/true"]
            if exe and _works(probe):
                return exe, True
    return sys.executable, False


def drop_uid_python() -> str | None:
    """The interpreter that runs programs under a fresh uid, or None when uids are not dropped."""
    exe, drops = launcher_python()
    return exe if drops else None


def fresh_uid() -> int:
    # A uid no account and no other concurrent run uses, so its process count starts at zero.
    return random.SystemRandom().randrange(1_000_000, 2_000_000_000)


def pids_of_uid(uid: int) -> list[int]:
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


def kill_uid(uid: int) -> None:
    # The process count is bounded by RLIMIT_NPROC, so a few sweeps catch processes forked meanwhile.
    for _ in range(100):
        pids = pids_of_uid(uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.005)


def remove_owned_by(uid: int) -> None:
    """Delete what ``uid`` left in the world-writable dirs, at any depth of world-writable dirs (the only
    ones it could write to that are not its own; walking every readable dir cost ~0.4 s per run here).
    Needed only when no mount namespace gave the run its own."""
    stack = list(SCRATCH_DIRS)
    while stack:
        top = stack.pop()
        try:
            with os.scandir(top) as it:
                entries = list(it)
        except OSError:
            continue
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
                if st.st_uid == uid:
                    if stat.S_ISDIR(st.st_mode):
                        shutil.rmtree(e.path, ignore_errors=True)
                    else:
                        os.unlink(e.path)
                elif stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_IWOTH:
                    stack.append(e.path)
            except OSError:
                pass


@functools.cache
def memcg_parent() -> tuple[Path, tuple[tuple[str, str], ...]] | None:
    """Where a per-run memory cgroup can be made (cgroup v2 with the memory controller delegated to ours,
    else v1's memory hierarchy) and the (file, value) pairs that set its limit and forbid swap, probed
    once. None when neither is writable (not root, or a container without cgroup access)."""
    try:
        mounts = [line.split() for line in Path("/proc/self/mounts").read_text().splitlines()]
        ours = [line.split(":", 2) for line in Path("/proc/self/cgroup").read_text().splitlines()]
    except OSError:
        return None
    candidates = []
    for _, point, fstype, opts, *_ in mounts:
        for _, controllers, path in ours:
            here = Path(point + path)
            if fstype == "cgroup2" and not controllers and "memory" in _read(here / "cgroup.subtree_control"):
                candidates.append((here, (("memory.max", "{limit}"), ("memory.swap.max", "0"))))
            elif fstype == "cgroup" and "memory" in controllers.split(",") and "memory" in opts.split(","):
                candidates.append((here, (("memory.limit_in_bytes", "{limit}"),
                                          ("memory.memsw.limit_in_bytes", "{limit}"))))
    for parent, settings in candidates:
        probe = new_cgroup(parent, settings, 64 << 20)
        if probe:
            remove_cgroup(probe)
            return parent, settings
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def new_cgroup(parent: Path, settings: tuple[tuple[str, str], ...], limit: int) -> Path | None:
    """A fresh child cgroup limited to ``limit`` bytes (the swap file is set where swap is accounted)."""
    d = parent / f"cpp2py-{os.urandom(8).hex()}"
    try:
        d.mkdir()
    except OSError:
        return None
    try:
        for i, (name, value) in enumerate(settings):
            if i == 0 or (d / name).exists():
                (d / name).write_text(value.format(limit=limit))
        return d
    except OSError:
        remove_cgroup(d)
        return None


def remove_cgroup(d: Path) -> None:
    # Its processes are dead by now, but the kernel may take a moment to let go of them.
    for _ in range(100):
        try:
            d.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)


def oom_killed(cgroup: Path | None) -> bool:
    if cgroup is None:
        return False
    for name in ("memory.events", "memory.oom_control"):  # v2, v1
        for line in _read(cgroup / name).splitlines():
            key, _, n = line.partition(" ")
            if key == "oom_kill" and n.strip() not in ("", "0"):
                return True
    return False


def user_process_count() -> int:
    return len(pids_of_uid(os.getuid())) if os.path.isdir("/proc") else 0

"""The sandbox under attack (infinite loop, fork bomb, memory hog, huge output, escapes) and in normal use."""
from __future__ import annotations

import dataclasses
import json
import os
import random
import shutil
import stat
import tempfile
import threading
import time
from pathlib import Path

import pytest

from cpp2py.execution import isolation, sandbox
from cpp2py.execution.checks import check_candidate
from cpp2py.execution.sandbox import compile_cpp, run_binary, run_python
from cpp2py.schema import BenchmarkItem

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")


def test_normal_run_stdin_stdout():
    res = run_python("import sys\nprint(sys.stdin.read().upper(), end='')", stdin="abc")
    assert res.ok and res.status == "ok" and res.returncode == 0
    assert res.stdout == "ABC"
    assert res.duration < 10


def test_error_exit_reports_stderr():
    res = run_python("raise ValueError('boom')")
    assert res.status == "error" and res.returncode == 1 and "ValueError: boom" in res.stderr


def test_infinite_loop_times_out():
    t = time.monotonic()
    res = run_python("while True:\n    pass", timeout=1.5)
    assert res.status == "timeout" and not res.ok
    assert time.monotonic() - t < 10


def test_sleeping_program_hits_wall_clock():
    res = run_python("import time\ntime.sleep(60)", timeout=1.0)
    assert res.status == "timeout" and res.duration < 5


def test_fork_bomb_is_bounded_and_cleaned_up():
    # Bounded on purpose: at most 500 forks, each child sleeps; the process limit stops it far earlier and
    # the sandbox must kill every child when the run ends (even ones that left the process group).
    code = (
        "import os, time\n"
        "n = 0\n"
        "for _ in range(500):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError:\n"
        "        break\n"
        "    if pid == 0:\n"
        "        os.setsid()\n"
        "        time.sleep(120)\n"
        "        os._exit(0)\n"
        "    n += 1\n"
        "print(n, os.getuid(), flush=True)\n"
    )
    res = run_python(code, timeout=10)
    assert res.status == "ok", res.stderr
    forked, uid = map(int, res.stdout.split())
    assert forked < 500  # the process-count limit stopped it
    if "uid" in res.isolation:
        time.sleep(0.2)
        assert isolation.pids_of_uid(uid) == []  # nothing of it survives the run


def test_memory_hog_fails_without_taking_memory():
    res = run_python("x = bytearray(4 * 1024**3)\nprint('allocated')", memory_mb=512)
    assert not res.ok and "allocated" not in res.stdout
    assert "MemoryError" in res.stderr


def test_huge_output_is_stopped_and_truncated():
    res = run_python("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", timeout=20)
    # Python ignores SIGXFSZ, so the file-size limit shows up as "File too large" and a non-zero exit.
    assert not res.ok and res.duration < 20
    assert res.status == "killed" or "File too large" in res.stderr
    assert len(res.stdout) <= sandbox.MAX_OUTPUT_BYTES and res.truncated


def test_work_dir_is_fresh_and_deleted():
    res = run_python("import os\nprint(os.getcwd())\nprint(os.listdir('.'))\nopen('left.txt','w').write('x')")
    cwd = res.stdout.splitlines()[0]
    assert res.ok and not os.path.exists(cwd)


def test_cannot_write_outside_work_dir(tmp_path):
    if not isolation.drop_uid_python():
        pytest.skip("write protection needs root (to run the program under a fresh uid)")
    target = tmp_path / "victim.txt"
    target.write_text("original")
    os.chmod(tmp_path, 0o755)
    res = run_python(f"open({str(target)!r}, 'w').write('pwned')\nopen({str(tmp_path / 'new')!r}, 'w')")
    # With a mount namespace the program sees a fresh /tmp, so it does not even find the file.
    assert not res.ok and ("PermissionError" in res.stderr or "FileNotFoundError" in res.stderr)
    assert target.read_text() == "original" and not (tmp_path / "new").exists()


def test_environment_secrets_do_not_leak(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-123")
    monkeypatch.setenv("HF_TOKEN", "hf_secret_456")
    code = ("import os\nprint(sorted(os.environ))\n"
            "try:\n    print(open(f'/proc/{os.getppid()}/environ').read())\nexcept OSError as e:\n    print('denied')\n"
            f"try:\n    print(open('/proc/{os.getpid()}/environ').read())\nexcept OSError as e:\n    print('denied')\n")
    res = run_python(code)
    assert res.ok, res.stderr
    assert "sk-secret-123" not in res.stdout and "hf_secret_456" not in res.stdout
    assert "OPENAI_API_KEY" not in res.stdout and "HF_TOKEN" not in res.stdout


def test_socket_cannot_reach_network():
    code = ("import socket\n"
            "s = socket.socket()\ns.settimeout(2)\n"
            "try:\n    s.connect(('1.1.1.1', 80))\n    print('connected')\nexcept OSError as e:\n    print('blocked', e)\n")
    res = run_python(code, timeout=10)
    assert res.ok
    if res.network_isolated:
        assert res.stdout.startswith("blocked")
    else:
        pytest.skip("this OS allows no network namespace; the result says so (network_isolated=False)")


@needs_gxx
def test_compile_and_run_cpp_is_cached():
    src = "#include <iostream>\nint main(){int a,b; std::cin>>a>>b; std::cout<<a+b<<\"\\n\";}\n"
    first = compile_cpp(src)
    assert isinstance(first, sandbox.CompiledCpp), getattr(first, "stderr", "")
    again = compile_cpp(src)
    assert again.path == first.path
    res = run_binary(first.path, stdin="2 40")
    assert res.ok and res.stdout.strip() == "42"
    bad = compile_cpp("int main( {")
    assert isinstance(bad, sandbox.ExecResult) and not bad.ok and "error" in bad.stderr


def test_check_candidate_with_test_oracle():
    item = BenchmarkItem(id="a", cpp="int add(int a, int b);", test="assert add(2, 3) == 5")
    assert check_candidate("def add(a, b):\n    return a + b\n", item).kind == "pass"
    wrong = check_candidate("def add(a, b):\n    return a - b\n", item)
    assert not wrong.passed and wrong.kind == "wrong_answer"
    assert check_candidate("def add(a, b):\n    return a +\n", item).kind == "syntax_error"
    assert check_candidate("def add(a, b):\n    return undefined\n", item).kind == "runtime_error"
    assert check_candidate("def add(a, b):\n    while True: pass\n", item, timeout=1).kind == "timeout"
    assert check_candidate("x = 1", BenchmarkItem(id="b", cpp="int x;")).kind == "no_oracle"


@needs_gxx
def test_check_candidate_compare_stdout():
    cpp = "#include <iostream>\nint main(){int n; std::cin>>n; for(int i=0;i<n;i++) std::cout<<i*i<<\" \\n\";}\n"
    item = BenchmarkItem(id="sq", cpp=cpp, stdin="3\n", compare_stdout=True)
    good = "n = int(input())\nfor i in range(n):\n    print(i * i)\n"
    assert check_candidate(good, item).kind == "pass"  # trailing spaces ignored
    assert check_candidate("print(0)\nprint(1)\n", item).kind == "wrong_answer"
    assert check_candidate("raise SystemExit(3)", item).kind == "runtime_error"
    broken = dataclasses.replace(item, cpp="int main( {")
    assert check_candidate(good, broken).kind == "oracle_compile_error"


# --- Attacks on scoring integrity and on other runs (issue 15 items 1 and 5, issue 11 "Build" 4) ---

_WRONG_ADD = "def add(a, b):\n    return 0\n"
_ADD_ITEM = BenchmarkItem(id="add", cpp="int add(int a, int b);", test="assert add(2, 3) == 5")
_EARLY_EXITS = {
    "os._exit": "import os\nos._exit(0)\n",
    "sys.exit": "import sys\nsys.exit(0)\n",
    "quit": "quit()\n",
    "SystemExit": "raise SystemExit\n",
    # The test's AssertionError happens, then the handler turns the exit status into 0.
    "atexit": "import atexit, os\natexit.register(lambda: os._exit(0))\n",
    "signal": "import os, signal\nsignal.signal(signal.SIGUSR1, lambda *a: os._exit(0))\n"
              "os.kill(os.getpid(), signal.SIGUSR1)\n",
    # Looks for the finish token wherever a program could: its source, argv, environment and every
    # readable fd, then writes all it found to every fd and leaves.
    "token hunt": ("import os, sys\n"
                   "found = [open(__file__, 'rb').read(), ' '.join(sys.argv).encode(), repr(os.environ).encode()]\n"
                   "for fd in range(3, 256):\n"
                   "    try:\n        found.append(os.read(fd, 4096))\n    except OSError:\n        pass\n"
                   "for fd in range(3, 256):\n"
                   "    for data in found:\n"
                   "        try:\n            os.pwrite(fd, data, 0)\n        except OSError:\n"
                   "            try:\n                os.write(fd, data)\n            except OSError:\n"
                   "                pass\n"
                   "os._exit(0)\n"),
}


@pytest.mark.parametrize("name", list(_EARLY_EXITS))
def test_early_exit_cannot_fake_a_test_pass(name):
    program = _WRONG_ADD + _EARLY_EXITS[name]
    plain = run_python(program + "\n\n" + _ADD_ITEM.test)
    if name != "quit":  # under -S there is no quit(): a NameError, which never looked like a pass
        assert plain.ok, plain.stderr  # the attack: the exit status alone says "passed"
    v = check_candidate(program, _ADD_ITEM)
    assert not v.passed and v.kind in ("runtime_error", "wrong_answer"), v
    strict = run_python(program + "\n\n" + _ADD_ITEM.test, must_finish=True)
    assert not strict.ok and strict.finished is False


def test_program_that_runs_to_its_end_still_passes():
    res = run_python("import sys\nprint('x')\nsys.stdout.flush()", must_finish=True)
    assert res.ok and res.finished is True
    assert check_candidate("def add(a, b):\n    return a + b\n", _ADD_ITEM).passed


def _oracle_thief(cache: str) -> str:
    """A 'translation' that runs whatever binary it finds in the oracle cache on its stdin and prints that."""
    return ("import glob, subprocess, sys\n"
            "data = sys.stdin.read()\n"
            f"for path in glob.glob({cache!r} + '/*') + glob.glob('/tmp/cpp2py-cppcache-*/*'):\n"
            "    try:\n"
            "        out = subprocess.run([path], input=data, capture_output=True, text=True, timeout=5).stdout\n"
            "    except OSError:\n"
            "        continue\n"
            "    if out:\n"
            "        print(out, end='')\n"
            "        break\n")


_SECRET_CPP = ("#include <iostream>\n"
               "int main(){long n; std::cin>>n; for(int i=0;i<4;i++) std::cout<<n*n+i*7919<<\"\\n\";}\n")


@needs_gxx
def test_candidate_cannot_read_or_run_the_cached_oracle():
    item = BenchmarkItem(id="sec", cpp=_SECRET_CPP, stdin="123457\n", compare_stdout=True)
    compiled = compile_cpp(_SECRET_CPP)
    assert isinstance(compiled, sandbox.CompiledCpp)
    cache = compiled.path.parent
    assert cache.stat().st_uid == os.getuid() and stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert check_candidate("n = int(input())\nfor i in range(4):\n    print(n * n + i * 7919)\n", item).passed
    v = check_candidate(_oracle_thief(str(cache)), item)
    assert not v.passed and v.kind == "wrong_answer", v


@needs_gxx
def test_evaluate_reports_no_pass_for_the_oracle_thief(tmp_path):
    from cpp2py.jobs.evaluate import evaluate
    from cpp2py.schema import EvaluateConfig

    item = {"id": "sec", "cpp": _SECRET_CPP, "python": "print(1)\n", "stdin": "99991\n", "compare_stdout": True}
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps(item) + "\n")
    compile_cpp(_SECRET_CPP)  # the binary is in the cache before the thief runs
    preds = tmp_path / "thief.jsonl"
    preds.write_text(json.dumps({"id": "sec", "prediction": _oracle_thief(str(sandbox._binary_cache()))}) + "\n")
    m = evaluate(EvaluateConfig(benchmark=str(bench), predictions=[str(preds)], out=str(tmp_path / "out"),
                                allow_exec=True, progress=False, bootstrap=50))["thief"]
    assert m["ca@1"] == 0.0


_NAMESPACES_HERE = isolation.namespaces()


def _needs(kind: str, why: str):
    res = run_python("pass")
    if kind not in res.isolation:
        pytest.skip(f"{why} (isolation here: {res.isolation})")


def _needs_uid_or_mountns():
    applied = run_python("pass").isolation
    if "uid" not in applied and "mountns" not in applied:
        pytest.skip("not root and no mount namespace: all runs share one user and one /tmp (documented)")


def test_concurrent_runs_cannot_read_each_others_files():
    _needs_uid_or_mountns()
    secret = f"stdin-secret-{os.urandom(6).hex()}"
    victim: dict = {}
    t = threading.Thread(target=lambda: victim.update(res=run_python(
        "import sys, time\nsys.stdin.read()\nopen('mine.txt', 'w').write('work-' + 'secret')\ntime.sleep(4)",
        stdin=secret, timeout=20)))
    t.start()
    try:
        mine = []
        for _ in range(200):  # until the victim's run is under way
            mine = [p for p in Path(tempfile.gettempdir()).glob("cpp2py-sandbox-*/stdin")
                    if p.read_text(errors="replace") == secret]
            if mine:
                break
            time.sleep(0.02)
        assert mine and stat.S_IMODE(mine[0].stat().st_mode) == 0o600
        assert stat.S_IMODE((mine[0].parent / "work").stat().st_mode) == 0o700
        thief = run_python("import glob\nfor p in glob.glob('/tmp/cpp2py-sandbox-*/**', recursive=True):\n"
                           "    try:\n        print(p, open(p).read())\n    except OSError:\n        pass\n")
    finally:
        t.join()
    assert thief.ok, thief.stderr
    assert secret not in thief.stdout and "work-secret" not in thief.stdout
    assert victim["res"].ok


def test_sysv_shared_memory_does_not_survive_the_run():
    _needs("ipcns", "no IPC namespace here: SysV segments would outlive the run (documented)")
    key = random.randrange(1 << 20, 1 << 30)
    code = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            f"shmid = libc.shmget({key}, 128 << 20, 0o1000 | 0o600)\n"  # IPC_CREAT
            "ptr = libc.shmat(shmid, None, 0)\nprint(shmid)\n")
    res = run_python(code)
    assert res.ok and int(res.stdout) >= 0, res.stderr  # the segment was made inside the run
    keys = [int(line.split()[0]) for line in Path("/proc/sysvipc/shm").read_text().splitlines()[1:]]
    assert key not in keys


@pytest.mark.parametrize("mount_namespace", [True, False], ids=["tmpfs", "uid-cleanup"])
def test_world_writable_dirs_keep_nothing_from_a_run(monkeypatch, mount_namespace):
    if mount_namespace:
        _needs_uid_or_mountns()
    else:  # the fallback where unshare --mount is refused: the run's uid's files are removed afterwards
        _needs("uid", "the fallback cleanup needs root (a per-run uid)")
        monkeypatch.setattr(isolation, "namespaces", lambda: tuple(k for k in _NAMESPACES_HERE if k != "mountns"))
    nested = Path(tempfile.mkdtemp(prefix="cpp2py-test-ww-"))  # a world-writable dir inside /tmp, not the run's
    os.chmod(nested, 0o1777)
    name = f"cpp2py-leftover-{os.urandom(4).hex()}"
    targets = [*(f"{d}/{name}" for d in isolation.SCRATCH_DIRS), f"{nested}/{name}", f"/tmp/{name}-dir/{name}"]
    code = ("import os\nwrote = 0\n"
            f"for path in {targets!r}:\n"
            "    try:\n        os.makedirs(os.path.dirname(path), exist_ok=True)\n"
            "        open(path, 'w').write('x')\n        wrote += 1\n    except OSError:\n        pass\n"
            "print(wrote)\n")
    try:
        res = run_python(code)
        assert res.ok and int(res.stdout) >= 2, res.stderr  # the run could write to /tmp and /var/tmp at least
        left = [t for t in targets if os.path.lexists(t)] + [str(p) for p in Path("/tmp").glob(f"{name}*")]
        assert left == []
    finally:
        shutil.rmtree(nested, ignore_errors=True)


def test_memory_limit_holds_for_the_whole_process_tree():
    _needs("memcg", "no writable memory cgroup: only the per-process RLIMIT_AS applies, so 3 x 700 MB "
                    "under a 1 GiB limit would all succeed (documented)")
    code = ("import os, time\n"
            "pids = []\n"
            "for _ in range(3):\n"
            "    pid = os.fork()\n"
            "    if pid == 0:\n"
            "        block = b'x' * (700 << 20)\n"  # touches every page
            "        print('touched', flush=True)\n"
            "        time.sleep(2)\n"
            "        os._exit(0)\n"
            "    pids.append(pid)\n"
            "ok = sum(os.waitpid(p, 0)[1] == 0 for p in pids)\n"
            "print('children ok', ok)\n")
    res = run_python(code, memory_mb=1024, timeout=30)
    assert "children ok 3" not in res.stdout and res.stdout.count("touched") < 3, (res.stdout, res.stderr)


def test_our_packages_are_not_importable_by_path():
    _needs("mountns", "no mount namespace: world-readable site-packages stay importable by path (documented)")
    import site

    import cpp2py

    project = str(Path(cpp2py.__file__).resolve().parent.parent)
    paths = [*site.getsitepackages(), project]
    code = ("import sys\n"
            f"sys.path[:0] = {paths!r}\n"
            "for name in ('torch', 'typer', 'cpp2py.execution.sandbox'):\n"
            "    try:\n        __import__(name)\n        print('imported', name)\n"
            "    except ImportError:\n        print('blocked', name)\n")
    res = run_python(code)
    assert res.ok, res.stderr
    assert "imported" not in res.stdout and res.stdout.count("blocked") == 3

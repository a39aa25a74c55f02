"""The sandbox under attack (infinite loop, fork bomb, memory hog, huge output, escapes) and in normal use."""
from __future__ import annotations

import dataclasses
import os
import shutil
import time

import pytest

from cpp2py.execution import sandbox
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
        assert sandbox._pids_of_uid(uid) == []  # nothing of it survives the run


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
    if not sandbox._drop_uid_python():
        pytest.skip("write protection needs root (to run the program under a fresh uid)")
    target = tmp_path / "victim.txt"
    target.write_text("original")
    os.chmod(tmp_path, 0o755)
    res = run_python(f"open({str(target)!r}, 'w').write('pwned')\nopen({str(tmp_path / 'new')!r}, 'w')")
    assert not res.ok and "PermissionError" in res.stderr
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

"""Third-party noise: hidden in normal runs, shown with --verbose (cpp2py.quiet)."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

from cpp2py import quiet

REPO = Path(__file__).resolve().parents[1]


def run_translate(tiny_model_dir, source: Path, *options: str) -> str:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TRANSFORMERS_VERBOSITY", "HF_HUB_DISABLE_PROGRESS_BARS", "CPP2PY_VERBOSE")}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run([sys.executable, "-m", "cpp2py", *options, "translate", str(source), "--model",
                           str(tiny_model_dir), "--device", "cpu", "--max-new-tokens", "4"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert "1 translated" in proc.stderr, proc.stderr
    return proc.stderr


def test_the_weight_loading_bar_shows_only_with_verbose(tiny_model_dir, tmp_path):
    source = tmp_path / "add.cpp"
    source.write_text("int add(int a, int b) { return a + b; }\n")
    assert "Loading weights" not in run_translate(tiny_model_dir, source)
    assert "Loading weights" in run_translate(tiny_model_dir, source, "--verbose")


def test_the_deprecation_warning_and_bitsandbytes_log_are_hidden(monkeypatch):
    monkeypatch.delenv("CPP2PY_VERBOSE", raising=False)
    for name in quiet._ENV:
        monkeypatch.setenv(name, "as the user set it")   # a user's own choice is kept
    bnb = logging.getLogger("bitsandbytes.backends.cpu.ops")
    monkeypatch.setattr(logging.getLogger("bitsandbytes"), "level", logging.NOTSET)
    monkeypatch.delitem(sys.modules, "transformers", raising=False)   # not imported yet: only the environment is set
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet.configure(False)
        warnings.warn("`is_gradient_checkpointing` is deprecated and will be removed in v6.", FutureWarning)
        warnings.warn("something else", FutureWarning)
    assert [str(w.message) for w in seen] == ["something else"]
    assert not bnb.isEnabledFor(logging.WARNING) and bnb.isEnabledFor(logging.ERROR)
    assert all(os.environ[name] == "as the user set it" for name in quiet._ENV)


def test_verbose_changes_nothing(monkeypatch):
    monkeypatch.delenv("CPP2PY_VERBOSE", raising=False)
    monkeypatch.setattr(logging.getLogger("bitsandbytes"), "level", logging.NOTSET)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        quiet.configure(True)
        warnings.warn("`is_gradient_checkpointing` is deprecated", FutureWarning)
    assert len(seen) == 1 and logging.getLogger("bitsandbytes").level == logging.NOTSET
    assert os.environ["CPP2PY_VERBOSE"] == "1"   # carried into relaunched processes

"""Self-training rounds: only oracle-passing candidates become pairs, with provenance; resume; the leakage filter."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cpp2py import prompt
from cpp2py.generation.backends import Reply
from cpp2py.cli import app
from cpp2py.errors import Cpp2PyError
from cpp2py.jobs.selftrain import SelfTrainConfig, self_train, side_files
from cpp2py.schema import TranslateConfig

pytest.importorskip("tree_sitter_cpp")

ADD = "int add(int a, int b) {\n    return a + b;\n}\n"
MUL = "int mul(int a, int b) {\n    return a * b;\n}\n"
PROGRAM = '#include <iostream>\nint main() {\n    std::cout << 6 * 7 << std::endl;\n    return 0;\n}\n'
UNSUPPORTED = "struct Foo { int x; };\nint get(Foo f) {\n    return f.x;\n}\n"

# Per C++ input, the replies handed out in turn: right and wrong candidates, so the filter is tested for real.
REPLIES = {
    ADD: ["```python\ndef add(a, b):\n    return a - b\n```",                    # wrong
          "```python\ndef add(a, b):\n    total = a + b\n    return total\n```",    # right, longer
          "```python\ndef add(a, b):\n    return a + b\n```",                    # right, shortest
          "def add(a, b) return"],                                               # does not parse
    MUL: ["```python\ndef mul(a, b):\n    return a + b\n```"] * 4,               # always wrong
    PROGRAM: ["```python\nprint(41)\n```", "```python\nprint(6 * 7)\n```"] * 2,
}


class FakeBackend:
    """Hands out REPLIES in turn per input and records which C++ it was asked to translate."""

    context_window = 100_000

    def __init__(self, interrupt_after: int | None = None):
        self.asked: list[str] = []
        self.turn: dict[str, int] = {}
        self.interrupt_after = interrupt_after
        self.calls = 0

    def generate(self, conversations, *, decoding, max_new_tokens=None):
        if self.interrupt_after is not None and self.calls >= self.interrupt_after:
            raise KeyboardInterrupt
        self.calls += 1
        out = []
        for conv in conversations:
            cpp = prompt._cpp_of(conv).strip() + "\n"
            self.asked.append(cpp)
            k = self.turn.get(cpp, 0)
            self.turn[cpp] = k + 1
            out.append(Reply(REPLIES[cpp][k % len(REPLIES[cpp])]))
        return out


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _inputs(tmp_path: Path) -> Path:
    return _jsonl(tmp_path / "inputs.jsonl", [
        {"id": "t/add", "cpp": ADD, "python": None, "source": "t", "problem": "add"},
        {"id": "t/mul", "cpp": MUL, "python": None, "source": "t", "problem": "mul"},
        {"id": "p/answer", "cpp": PROGRAM, "python": None, "source": "p", "problem": "answer"},
        {"id": "t/get", "cpp": UNSUPPORTED, "python": None, "source": "t", "problem": "get"},
        {"id": "t/paired", "cpp": ADD.replace("add", "plus"), "python": "def plus(a, b):\n    return a + b\n"},
    ])


def _cfg(tmp_path: Path, **kw) -> SelfTrainConfig:
    return SelfTrainConfig(**{"inputs": [str(_inputs(tmp_path))], "out": str(tmp_path / "st" / "round1.jsonl"),
                              "round": 1, "benchmarks": [], "samples": 4, "inputs_per_call": 2, "oracle_budget": 5,
                              "jobs": 2, **kw})


def _model() -> TranslateConfig:
    return TranslateConfig(model="fake-base", adapter="runs/r0")


def test_only_candidates_passing_every_case_become_pairs_with_provenance(tmp_path):
    backend = FakeBackend()
    stats = self_train(_cfg(tmp_path), _model(), backend=backend)
    out = tmp_path / "st" / "round1.jsonl"
    pairs = {p["id"]: p for p in _read(out)}
    assert set(pairs) == {"t/add", "p/answer"}  # mul: every sample wrong; get: no oracle; paired: has a target
    add = pairs["t/add"]
    assert add["python"] == "def add(a, b):\n    return a + b"  # the shortest of the two right ones
    assert add["cpp"] == ADD and add["source"] == "t" and add["problem"] == "add"
    assert add["round"] == 1 and add["model"] == "fake-base + runs/r0"
    kind, _, cases = add["verified_by"].rpartition(":")
    assert kind == "cpp-oracle:function" and int(cases) >= 1
    assert pairs["p/answer"]["python"] == "print(6 * 7)"
    assert pairs["p/answer"]["verified_by"].startswith("cpp-oracle:program:")
    assert UNSUPPORTED not in backend.asked  # no oracle: nothing sampled for it

    status = {s["id"]: s for s in _read(side_files(out)[0])}
    assert status["t/mul"]["status"] == "no_pass" and status["t/mul"]["passing"] == 0
    assert status["t/get"]["status"] == "no_oracle" and "Foo" in status["t/get"]["reason"]
    assert status["t/add"]["parsing"] == 3
    assert status["t/add"]["distinct"] == 3 and status["t/add"]["passing"] == 2
    assert stats["inputs"] == {"read": 5, "with_target": 1, "paired_before": 0, "handled": 4}
    assert stats["oracle"]["built"] == 3 and stats["oracle"]["none"] == 1 and stats["oracle"]["coverage"] == 0.75
    assert stats["candidates"]["sampled"] == 12 and stats["candidates"]["passing"] == 2 + 0 + 2
    assert stats["pairs"]["kept"] == 2 and stats["runs"][0]["samples_generated"] == 12
    assert json.loads(side_files(out)[1].read_text())["pairs"]["kept"] == 2


def test_the_corpus_python_is_a_fallback_target_only_when_it_passes(tmp_path):
    inputs = _jsonl(tmp_path / "corpus.jsonl", [
        # every model sample of mul is wrong: the corpus's own right solution becomes the target
        {"id": "t/mul", "cpp": MUL, "python": None, "python_candidate": "def mul(x, y):\n    return x * y\n"},
        # a model sample passes: it is preferred to the (right) corpus solution, which follows the C++ less
        {"id": "t/add", "cpp": ADD, "python": None, "python_candidate": "def add(a, b):\n    return sum((a, b))\n"},
        # the corpus solution is wrong (Python 2 division semantics, say): not a target
        {"id": "p/answer", "cpp": PROGRAM, "python": None, "python_candidate": "print(84 / 2)\n"},
    ])
    cfg = _cfg(tmp_path, inputs=[str(inputs)])
    stats = self_train(cfg, _model(), backend=FakeBackend())
    out = Path(cfg.out)
    pairs = {p["id"]: p for p in _read(out)}
    assert pairs["t/mul"]["target"] == "corpus" and pairs["t/mul"]["python"].startswith("def mul(x, y)")
    assert pairs["t/add"]["target"] == "model" and pairs["t/add"]["python"] == "def add(a, b):\n    return a + b"
    assert pairs["p/answer"]["target"] == "model"
    status = {s["id"]: s for s in _read(side_files(out)[0])}
    assert status["t/mul"]["corpus_passed"] is True and status["t/mul"]["passing"] == 0
    assert status["p/answer"]["corpus_passed"] is False
    assert stats["pairs"]["targets"] == {"corpus": 1, "model": 2}
    assert stats["corpus_python"] == {"checked": 3, "passed": 2}
    assert stats["candidates"]["passing"] == 0 + 2 + 2  # the corpus solution is not a sample


def test_inputs_over_max_cpp_chars_are_logged_and_not_sampled(tmp_path):
    backend = FakeBackend()
    stats = self_train(_cfg(tmp_path, max_cpp_chars=len(ADD)), _model(), backend=backend)
    status = {s["id"]: s for s in _read(side_files(tmp_path / "st" / "round1.jsonl")[0])}
    assert status["p/answer"]["status"] == "too_long" and status["p/answer"]["cpp_chars"] == len(PROGRAM)
    assert PROGRAM not in backend.asked and ADD in backend.asked
    assert stats["too_long"] == {"max_cpp_chars": len(ADD), "skipped": 2}  # the program and the struct
    assert stats["oracle"]["built"] == 2 and stats["oracle"]["coverage"] == 1.0


def test_pairs_are_what_train_reads(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer

    from cpp2py.train import load_records

    self_train(_cfg(tmp_path), _model(), backend=FakeBackend())
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    records, counts = load_records([str(tmp_path / "st" / "round1.jsonl")], "chat", tok, max_length=4096)
    assert [r["id"] for r in records] == ["t/add", "p/answer"] and counts["kept"] == 2
    assert records[0]["completion"][0]["content"] == prompt.fenced("def add(a, b):\n    return a + b")


def test_resume_skips_handled_inputs_and_an_interrupt_keeps_what_was_sampled(tmp_path):
    first = FakeBackend(interrupt_after=1)  # the second generate call (mul's chunk) is interrupted
    with pytest.raises(KeyboardInterrupt):
        self_train(_cfg(tmp_path, inputs_per_call=1), _model(), backend=first)
    out = tmp_path / "st" / "round1.jsonl"
    assert [p["id"] for p in _read(out)] == ["t/add"]  # sampled before the interrupt, checked and kept
    again = FakeBackend()
    stats = self_train(_cfg(tmp_path, inputs_per_call=1), _model(), backend=again)
    assert ADD not in again.asked and MUL in again.asked
    assert sorted(p["id"] for p in _read(out)) == ["p/answer", "t/add"]
    assert len(stats["runs"]) == 2 and stats["inputs"]["handled"] == 4 and stats["pairs"]["kept"] == 2

    round2 = _cfg(tmp_path, round=2, out=str(tmp_path / "st" / "round2.jsonl"), previous=[str(out)])
    later = FakeBackend()
    stats2 = self_train(round2, _model(), backend=later)
    assert stats2["inputs"]["paired_before"] == 2 and set(later.asked) == {MUL}


def test_near_copies_of_benchmark_items_are_dropped_before_sampling(tmp_path):
    bench = _jsonl(tmp_path / "bench.jsonl", [
        {"id": "humaneval-x/7", "cpp": "int add(int a,int b){return a+b;}"},  # the same program, respaced
        {"id": "humaneval-x/8", "cpp": "int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }"},
    ])
    backend = FakeBackend()
    stats = self_train(_cfg(tmp_path, benchmarks=[str(bench)]), _model(), backend=backend)
    status = {s["id"]: s for s in _read(side_files(tmp_path / "st" / "round1.jsonl")[0])}
    assert status["t/add"]["status"] == "leaked" and status["t/add"]["benchmark_id"] == "humaneval-x/7"
    assert status["t/add"]["similarity"] >= 0.9
    assert ADD not in backend.asked and MUL in backend.asked  # mul shares `int a, int b` but is no copy
    assert stats["leakage"]["dropped"] == 1 and stats["oracle"]["built"] == 2
    assert "t/add" not in {p["id"] for p in _read(tmp_path / "st" / "round1.jsonl")}


def test_real_backend_samples_through_the_tiny_model(tmp_path, tiny_model_dir):
    inputs = _jsonl(tmp_path / "in.jsonl", [{"id": "p", "cpp": PROGRAM, "python": None}])
    cfg = SelfTrainConfig(inputs=[str(inputs)], out=str(tmp_path / "r.jsonl"), round=1, benchmarks=[], samples=3,
                          temperature=1.0, oracle_budget=2, jobs=1)
    stats = self_train(cfg, TranslateConfig(model=str(tiny_model_dir), device="cpu", max_new_tokens_cap=16,
                                            batch_size=3))
    assert stats["candidates"]["sampled"] == 3 and stats["oracle"]["built"] == 1
    assert stats["pairs"]["kept"] == 0  # a random 2-layer model does not print 42


def test_bad_input_is_a_one_line_error(tmp_path):
    bad = _jsonl(tmp_path / "bad.jsonl", [{"id": "x", "python": None}])
    with pytest.raises(Cpp2PyError, match=r"bad.jsonl: record 1 needs an \"id\" and a non-empty \"cpp\""):
        self_train(SelfTrainConfig(inputs=[str(bad)], out=str(tmp_path / "o.jsonl"), round=1, benchmarks=[]),
                   _model(), backend=FakeBackend())
    with pytest.raises(Cpp2PyError, match="--temperature"):
        SelfTrainConfig(inputs=[str(bad)], out="o.jsonl", round=1, benchmarks=[], temperature=0.0)
    result = CliRunner().invoke(app, ["self-train", "--inputs", str(bad), "--out", str(tmp_path / "o.jsonl"),
                                      "--round", "1"])
    assert isinstance(result.exception, Cpp2PyError) and "--benchmark" in str(result.exception)

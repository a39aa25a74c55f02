"""Execution-verified self-training: one round turns C++-only inputs into training pairs the C++ itself vouches for.

Run as: cpp2py self-train --inputs data/leetcode/inputs-train.jsonl --benchmark data/humaneval-x/humaneval-x.jsonl
        --model qwen2.5-coder-0.5b-instruct [--adapter runs/r1] --samples 8 --temperature 0.8 --round 1
        --out data/selftrain/round1.jsonl                               (docs/training.md, "Self-training")

For every input without a trusted Python target (unit-test-filtered self-training, Rozière et al. 2022, with
the oracle built from the C++ as the tests):

1. inputs whose C++ is a near-copy (5-gram Jaccard >= ``SELFTRAIN_LEAK_THRESHOLD``) of a benchmark item are dropped
   before any sampling, so no benchmark leaks into training through the back door;
2. the oracle is built from the C++ (:func:`cpp2py.execution.oracle.build_oracle`); none: skipped, reason kept;
3. ``samples`` candidates are sampled from the model through the backend interface, many inputs per call;
4. each distinct candidate that parses runs against the oracle (in the sandbox), and so does the corpus's own
   unverified Python (``python_candidate``, e.g. a LeetCode solution) when the input has one; of the model's
   candidates passing every case the shortest becomes the pair (a translation follows the C++, which an
   independent solution need not), else the corpus Python if it passed, with provenance (``source``,
   ``problem``, ``verified_by``, ``round``, ``model``, ``target``: ``model`` or ``corpus``).

Files, beside ``--out`` (``roundR.jsonl``): the pairs, in the format ``cpp2py train`` reads (``data.extra_train``);
``roundR.status.jsonl``, one line per input handled (kept, no_pass, no_oracle, leaked, too_long) with its counts; and
``roundR.stats.json``, the round's totals. Both JSONL files are appended and flushed per input, so a killed run
resumes where it stopped. Oracle building and checking run on a thread pool while the model samples the next
chunk, so the GPU does not wait for the CPU.
"""
from __future__ import annotations

import json
import os
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cpp2py import prompt
from cpp2py.errors import Cpp2PyError
from cpp2py.files import JsonlAppender, read_jsonl, write_json
from cpp2py.schema import SELFTRAIN_LEAK_THRESHOLD
from cpp2py.scoring.contamination import NgramIndex
from cpp2py.scoring.metrics import normalise_ws


@dataclass
class SelfTrainConfig:
    inputs: list[str]                    # C++-only JSONL files: {"id", "cpp", "python": null, "source"?, "problem"?, "stdin"?}
    out: str                             # the pairs file, e.g. data/selftrain/round1.jsonl
    round: int
    benchmarks: list[str]                # benchmark/test JSONL files (with "cpp") that must not leak into training
    previous: list[str] = field(default_factory=list)  # earlier rounds' pairs: their inputs have a target now
    samples: int = 8
    temperature: float = 0.8
    leak_threshold: float = SELFTRAIN_LEAK_THRESHOLD
    oracle_budget: int = 20              # generated cases per function / stdin inputs per program
    inputs_per_call: int = 32            # inputs whose samples go to one generate call
    jobs: int = 0                        # threads building oracles and checking candidates (0: one per CPU)
    limit: int | None = None             # handle at most this many inputs in this run (a smoke test)
    # C++ longer than this is not sampled: its pair would exceed the training max_length and be dropped anyway
    max_cpp_chars: int | None = None
    resume: bool = True

    def __post_init__(self) -> None:
        if self.round < 1:
            raise Cpp2PyError(f"--round: must be at least 1, got {self.round}")
        if self.samples < 1 or self.inputs_per_call < 1 or self.oracle_budget < 1:
            raise Cpp2PyError("--samples, --inputs-per-call and --oracle-budget must be at least 1")
        if self.temperature <= 0 and self.samples > 1:
            raise Cpp2PyError("--samples above 1 needs --temperature above 0 (greedy gives one answer)")
        if not 0 < self.leak_threshold <= 1:
            raise Cpp2PyError(f"--leak-threshold: must be in (0, 1], got {self.leak_threshold}")
        if not self.inputs:
            raise Cpp2PyError("--inputs: give at least one C++-only JSONL file")


def side_files(out: str | Path) -> tuple[Path, Path]:
    """(status log, stats JSON) of the pairs file ``out``."""
    out = Path(out)
    stem = out.name.removesuffix(".jsonl")
    return out.with_name(f"{stem}.status.jsonl"), out.with_name(f"{stem}.stats.json")


def read_inputs(paths: list[str], previous: list[str]) -> tuple[list[dict], dict[str, int]]:
    """The records still needing a target, and counts of those that do not (``python`` set, or paired by an
    earlier round)."""
    done_before = {str(r["id"]) for p in previous for r in read_jsonl(p) if "id" in r}
    todo: list[dict] = []
    seen: set[str] = set()
    counts = {"read": 0, "with_target": 0, "paired_before": 0}
    for path in paths:
        for n, rec in enumerate(read_jsonl(path), 1):
            rid, cpp = rec.get("id"), rec.get("cpp")
            if rid is None or not isinstance(cpp, str) or not cpp.strip():
                raise Cpp2PyError(f"{path}: record {n} needs an \"id\" and a non-empty \"cpp\" string")
            if str(rid) in seen:
                raise Cpp2PyError(f"{path}: id {rid!r} appears twice in the inputs")
            seen.add(str(rid))
            counts["read"] += 1
            if isinstance(rec.get("python"), str):
                counts["with_target"] += 1
            elif str(rid) in done_before:
                counts["paired_before"] += 1
            else:
                todo.append(rec)
    return todo, counts


class LeakFilter:
    """The benchmark items' C++ in the contamination index: :meth:`match` names the nearest one at or above
    the threshold."""

    def __init__(self, paths: list[str], threshold: float):
        self.ids: list[str] = []
        cpp: list[str] = []
        for p in paths:
            before = len(cpp)
            for r in read_jsonl(p):
                if isinstance(r.get("cpp"), str):
                    self.ids.append(str(r.get("id", f"{p}:{len(cpp) - before + 1}")))
                    cpp.append(r["cpp"])
            if len(cpp) == before:
                raise Cpp2PyError(f"{p}: no benchmark record with a `cpp` field")
        self.index = NgramIndex(cpp)
        self.threshold = threshold

    def match(self, code: str) -> tuple[str, float] | None:
        sim, i = self.index.best(code)
        return (self.ids[i], round(sim, 4)) if i is not None and sim >= self.threshold else None


def _build(rec: dict, budget: int) -> tuple[Any, float]:
    """(oracle or NoOracle, seconds). One input's failure must not end a round over thousands of inputs,
    so an exception from the oracle becomes a NoOracle naming it."""
    from cpp2py.execution.oracle import NoOracle, build_oracle

    t = time.perf_counter()
    try:
        stdin = [rec["stdin"]] if isinstance(rec.get("stdin"), str) else None
        oracle = build_oracle(rec["cpp"], stdin=stdin, budget=budget)
    except Exception as e:  # noqa: BLE001 -- see the docstring
        oracle = NoOracle(f"building the oracle raised {type(e).__name__}: {str(e)[:200]}")
    return oracle, time.perf_counter() - t


def _check(oracle: Any, code: str) -> tuple[bool, float]:
    """(passes every case, seconds); a crash of the checker counts as a failure, as in :func:`_build`."""
    t = time.perf_counter()
    try:
        passed = oracle.check(code).passed
    except Exception:  # noqa: BLE001
        passed = False
    return passed, time.perf_counter() - t


@dataclass
class _Pending:
    """One input between sampling and writing: its distinct parsing candidates under check."""

    rec: dict
    oracle: Any
    build_seconds: float
    sampled: int
    parsing: int
    candidates: list[str]                 # distinct (whitespace-normalised), parsing, shortest first
    copies: list[int]                     # how many of the samples each candidate stands for
    checks: list[Future] = field(default_factory=list)
    corpus_check: Future | None = None    # the corpus's own Python against the same oracle


def _corpus_python(rec: dict) -> bool:
    return isinstance(rec.get("python_candidate"), str) and prompt.parses(rec["python_candidate"])


def verified_by(oracle: Any) -> str:
    return f"cpp-oracle:{oracle.kind}:{oracle.cases_total}"


def _candidates(replies: list[str]) -> tuple[int, list[str], list[int]]:
    """(replies whose code parses, distinct codes shortest first, copies of each)."""
    counts: Counter[str] = Counter()
    first: dict[str, str] = {}
    parsing = 0
    for reply in replies:
        code = prompt.extract_code(reply).strip()
        if not code or not prompt.parses(code):
            continue
        parsing += 1
        key = normalise_ws(code)
        counts[key] += 1
        first.setdefault(key, code)
    keys = sorted(first, key=lambda k: (len(first[k]), k))
    return parsing, [first[k] for k in keys], [counts[k] for k in keys]


class _Round:
    def __init__(self, cfg: SelfTrainConfig, backend: Any, decoding: Any, model_name: str):
        self.cfg, self.backend, self.decoding, self.model_name = cfg, backend, decoding, model_name
        self.status_path, self.stats_path = side_files(cfg.out)
        self.time = Counter({"generate_seconds": 0.0, "oracle_build_seconds": 0.0, "check_seconds": 0.0})
        self.samples_generated = 0

    def run(self) -> dict:
        cfg = self.cfg
        wall, cpu0 = time.perf_counter(), _cpu_seconds()
        todo, counts = read_inputs(cfg.inputs, cfg.previous)
        leaks = LeakFilter(cfg.benchmarks, cfg.leak_threshold) if cfg.benchmarks else None
        try:
            with JsonlAppender(cfg.out, resume=cfg.resume) as pairs, \
                    JsonlAppender(self.status_path, resume=cfg.resume) as status:
                for rid in pairs.done_ids - status.done_ids:  # killed between the pair and its status line
                    status.write({"id": rid, "status": "kept"})
                todo = [r for r in todo if str(r["id"]) not in status.done_ids]
                if cfg.limit is not None:
                    todo = todo[:cfg.limit]
                with ThreadPoolExecutor(max_workers=cfg.jobs or os.cpu_count() or 1) as pool:
                    self._run(todo, leaks, pairs, status, pool)
        finally:  # an interrupted run's time counts too: the stats cover every input in the status log
            gen = self.time["generate_seconds"]
            stats = self._write_stats(counts, {
                **{k: round(v, 3) for k, v in self.time.items()}, "samples_generated": self.samples_generated,
                "samples_per_second": round(self.samples_generated / gen, 3) if gen else None,
                "cpu_seconds": round(_cpu_seconds() - cpu0, 3), "wall_seconds": round(time.perf_counter() - wall, 3),
                "inputs_handled": len(todo)})
        return stats

    def _run(self, todo: list[dict], leaks: LeakFilter | None, pairs: JsonlAppender, status: JsonlAppender,
             pool: ThreadPoolExecutor) -> None:
        from cpp2py.execution.oracle import NoOracle

        cfg = self.cfg
        if cfg.max_cpp_chars is not None:
            for rec in todo:
                if len(rec["cpp"]) > cfg.max_cpp_chars:
                    status.write(self._status(rec, "too_long", cpp_chars=len(rec["cpp"])))
            todo = [rec for rec in todo if len(rec["cpp"]) <= cfg.max_cpp_chars]
        if leaks is not None:
            clean = []
            for rec in todo:
                hit = leaks.match(rec["cpp"])
                if hit:
                    status.write(self._status(rec, "leaked", benchmark_id=hit[0], similarity=hit[1]))
                else:
                    clean.append(rec)
            todo = clean
        chunks = [todo[i:i + cfg.inputs_per_call] for i in range(0, len(todo), cfg.inputs_per_call)]
        # Oracles of the next chunk build, and candidates of the previous chunk run, while the model samples.
        building = [pool.submit(_build, r, cfg.oracle_budget) for r in chunks[0]] if chunks else []
        previous: list[_Pending] = []
        try:
            for k, chunk in enumerate(chunks):
                built = [f.result() for f in building]
                building = [pool.submit(_build, r, cfg.oracle_budget) for r in chunks[k + 1]] \
                    if k + 1 < len(chunks) else []
                ready = []
                for rec, (oracle, secs) in zip(chunk, built):
                    self.time["oracle_build_seconds"] += secs
                    if isinstance(oracle, NoOracle):
                        status.write(self._status(rec, "no_oracle", reason=oracle.reason,
                                                  oracle_seconds=round(secs, 3)))
                    else:
                        ready.append((rec, oracle, secs))
                replies = self._sample([rec["cpp"] for rec, _, _ in ready])
                current = []
                for j, (rec, oracle, secs) in enumerate(ready):
                    parsing, cands, copies = _candidates(replies[j * cfg.samples:(j + 1) * cfg.samples])
                    p = _Pending(rec, oracle, secs, cfg.samples, parsing, cands, copies)
                    p.checks = [pool.submit(_check, oracle, c) for c in cands]
                    if _corpus_python(rec):
                        p.corpus_check = pool.submit(_check, oracle, rec["python_candidate"])
                    current.append(p)
                while previous:
                    self._finish(previous.pop(0), pairs, status)
                previous = current
        finally:  # what was sampled before an interrupt is still checked and kept
            for f in building:
                f.cancel()
            while previous:
                self._finish(previous.pop(0), pairs, status)

    def _sample(self, sources: list[str]) -> list[str]:
        if not sources:
            return []
        conversations = [prompt.messages(cpp) for cpp in sources for _ in range(self.cfg.samples)]
        t = time.perf_counter()
        replies = self.backend.generate(conversations, decoding=self.decoding)
        self.time["generate_seconds"] += time.perf_counter() - t
        self.samples_generated += len(replies)
        return replies

    def _finish(self, p: _Pending, pairs: JsonlAppender, status: JsonlAppender) -> None:
        results = [f.result() for f in p.checks]
        corpus_ok, corpus_seconds = p.corpus_check.result() if p.corpus_check else (None, 0.0)
        self.time["check_seconds"] += sum(s for _, s in results) + corpus_seconds
        passing = [i for i, (ok, _) in enumerate(results) if ok]
        counts = dict(oracle=verified_by(p.oracle), oracle_seconds=round(p.build_seconds, 3), sampled=p.sampled,
                      parsing=p.parsing, distinct=len(p.candidates),
                      passing=sum(p.copies[i] for i in passing), corpus_passed=corpus_ok)
        rec = p.rec
        target = ("model", p.candidates[passing[0]]) if passing else \
            ("corpus", rec["python_candidate"]) if corpus_ok else None  # model candidates are shortest first
        if target:
            pairs.write({"id": rec["id"], "cpp": rec["cpp"], "python": target[1],
                         "source": rec.get("source"), "problem": rec.get("problem"),
                         "verified_by": verified_by(p.oracle), "round": self.cfg.round, "model": self.model_name,
                         "target": target[0]})
        status.write(self._status(rec, "kept" if target else "no_pass", target=target and target[0], **counts))

    @staticmethod
    def _status(rec: dict, outcome: str, **details: Any) -> dict:
        return {"id": rec["id"], "source": rec.get("source"), "status": outcome, **details}

    def _write_stats(self, counts: dict[str, int], run: dict) -> dict:
        cfg = self.cfg
        lines = list(read_jsonl(self.status_path)) if self.status_path.exists() else []
        outcome = Counter(r["status"] for r in lines)
        with_oracle = [r for r in lines if r["status"] in ("kept", "no_pass")]
        considered = len(lines) - outcome["leaked"] - outcome["too_long"]
        sampled = sum(r.get("sampled", 0) for r in with_oracle)
        passing = sum(r.get("passing", 0) for r in with_oracle)
        by_source: dict[str, Counter] = {}
        for r in lines:
            by_source.setdefault(str(r.get("source")), Counter())[r["status"]] += 1
        previous_runs = []
        if cfg.resume and self.stats_path.exists():
            previous_runs = json.loads(self.stats_path.read_text(encoding="utf-8")).get("runs", [])
        runs = previous_runs + [run]
        gen = sum(r["generate_seconds"] for r in runs)
        stats = {
            "round": cfg.round, "model": self.model_name, "samples": cfg.samples, "temperature": cfg.temperature,
            "inputs_files": cfg.inputs, "benchmarks": cfg.benchmarks, "previous": cfg.previous,
            "inputs": {**counts, "handled": len(lines)},
            "too_long": {"max_cpp_chars": cfg.max_cpp_chars, "skipped": outcome["too_long"]},
            "leakage": {"threshold": cfg.leak_threshold, "dropped": outcome["leaked"],
                        "checked": bool(cfg.benchmarks)},
            "oracle": {"built": len(with_oracle), "none": outcome["no_oracle"],
                       "coverage": _ratio(len(with_oracle), considered),
                       "kinds": dict(Counter(r["oracle"].split(":")[1] for r in with_oracle if r.get("oracle"))),
                       "no_oracle_reasons": dict(Counter(r["reason"][:80] for r in lines
                                                         if r["status"] == "no_oracle").most_common(20))},
            "candidates": {"sampled": sampled, "parsing": sum(r.get("parsing", 0) for r in with_oracle),
                           "distinct_checked": sum(r.get("distinct", 0) for r in with_oracle),
                           "passing": passing, "pass_rate": _ratio(passing, sampled)},
            "pairs": {"kept": outcome["kept"], "inputs_solved_rate": _ratio(outcome["kept"], len(with_oracle)),
                      "targets": dict(Counter(r.get("target") or "model" for r in lines if r["status"] == "kept"))},
            "corpus_python": {"checked": sum(r.get("corpus_passed") is not None for r in with_oracle),
                              "passed": sum(r.get("corpus_passed") is True for r in with_oracle)},
            "by_source": {s: dict(c) for s, c in sorted(by_source.items())},
            "time": {"generate_seconds": round(gen, 3),
                     "samples_per_second": round(sum(r["samples_generated"] for r in runs) / gen, 3) if gen else None,
                     **{k: round(sum(r[k] for r in runs), 3) for k in
                        ("oracle_build_seconds", "check_seconds", "cpu_seconds", "wall_seconds")}},
            "runs": runs,
        }
        write_json(self.stats_path, stats)
        return stats


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _cpu_seconds() -> float:
    """This process's CPU time and its waited-for children's (g++, the C++ runs, the sandboxed Python)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def self_train(cfg: SelfTrainConfig, translate_cfg: Any, *, backend: Any = None) -> dict:
    """Run one round; returns (and writes) its stats. ``translate_cfg``: a ``TranslateConfig`` naming the model,
    device and batch size; its temperature is replaced by ``cfg.temperature``."""
    from cpp2py.generation.backends import base_and_adapter, make_backend

    base, adapter = base_and_adapter(translate_cfg)
    model_name = " + ".join(str(x) for x in (base, adapter) if x)
    decoding = translate_cfg.decoding(temperature=cfg.temperature)
    return _Round(cfg, backend or make_backend(translate_cfg), decoding, model_name).run()

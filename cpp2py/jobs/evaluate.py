"""Score translation systems side by side on one benchmark: CodeBLEU (+ its components), BLEU, exact match,
parse rate, length ratio, execution accuracy (CA@k) in the sandbox, bootstrap CIs, failure kinds, and
contamination against the training data. Writes metrics.json, details.jsonl, report.md and PNG plots.

Run as: cpp2py evaluate --benchmark B.jsonl --predictions P.jsonl [--predictions Q.jsonl] --out DIR --allow-exec

Inputs: a benchmark JSONL (``id``, ``cpp``, ``python``, ``test``, ``stdin``, ``compare_stdout``) and, per
system, a predictions JSONL named after the system (``base.jsonl`` -> system ``base``). A predictions line is
``{"id", "prediction": str}``, or ``{"id", "predictions": [str, ...]}`` for several samples; repeated ids add
samples too. Text metrics use each id's first sample; CA@k uses all of them (unbiased estimator). Missing
ids count as one empty sample: 0 on every metric and a failure of kind ``missing``, never skipped.
"""
from __future__ import annotations

import os
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cpp2py.scoring import metrics
from cpp2py.scoring.report import plot, render_report
from cpp2py.errors import Cpp2PyError
from cpp2py.files import atomic_write, ensure_writable, read_jsonl, write_json, write_jsonl
from cpp2py.schema import BenchmarkItem, EvaluateConfig, Prediction, TranslateConfig, read_items

BASELINES = ("naive-copy",)


@dataclass
class System:
    name: str
    samples: dict[str, list[str]]     # id -> candidate programs; every benchmark id is present
    missing: list[str]
    extra: list[str]
    token_cap_hits: list[bool]


def load_predictions(path: str | Path, items: list[BenchmarkItem], name: str | None = None) -> System:
    ids = {it.id for it in items}
    got: dict[str, list[str]] = {}
    extra: list[str] = []
    caps: list[bool] = []
    for n, r in enumerate(read_jsonl(path), 1):
        pred = Prediction.from_dict(r, f"{path}: record {n}")
        if pred.id not in ids:
            extra.append(pred.id)
            continue
        got.setdefault(pred.id, []).extend(pred.samples)
        if pred.hit_token_cap is not None:
            caps.append(pred.hit_token_cap)
    if not got:
        sample = ", ".join(sorted(extra)[:3]) or "none"
        raise Cpp2PyError(f"{path}: no prediction id matches the benchmark (e.g. {sample} vs "
                          f"{', '.join(it.id for it in items[:3])}); nothing to score")
    if extra:
        # usually predictions of another benchmark (or split) mixed in: say so, the score would look fine
        print(f"warning: {path}: {len(extra)} prediction id(s) not in the benchmark are ignored "
              f"(e.g. {', '.join(sorted(set(extra))[:3])})", file=sys.stderr)
    missing = [it.id for it in items if it.id not in got]
    samples = {it.id: got.get(it.id, [""]) for it in items}
    return System(name or Path(path).stem, samples, missing, extra, caps)


def naive_copy(items: list[BenchmarkItem]) -> dict[str, list[str]]:
    """The C++ itself as the "translation": the floor any CodeBLEU number should be read against."""
    return {it.id: [it.cpp] for it in items}


def _per_item_text(item: BenchmarkItem, pred: str) -> dict[str, Any]:
    row: dict[str, Any] = {"parses": metrics.parses(pred), "pred_tokens": len(metrics.code_tokens(pred))}
    if item.python is not None:
        row.update(metrics.codebleu_one(item.python, pred))
        row["ref_tokens"] = len(metrics.code_tokens(item.python))
        row["exact_match"] = bool(pred.strip()) and metrics.normalise_ws(pred) == metrics.normalise_ws(item.python)
    return row


def summarise(rows: list[dict], items: dict[str, BenchmarkItem], cfg: EvaluateConfig, executed: bool) -> dict[str, Any]:
    """Headline metrics (and CIs) over the given per-item rows of one system."""
    out: dict[str, Any] = {"n": len(rows)}
    with_ref = [r for r in rows if items[r["id"]].python is not None]
    out["n_with_reference"] = len(with_ref)
    if with_ref:
        cb = [r["codebleu"] for r in with_ref]
        out["codebleu"] = metrics.mean(cb)
        for k in ("ngram_match", "weighted_ngram_match", "syntax_match", "dataflow_match"):
            out[k] = metrics.mean([r[k] for r in with_ref])
        out["codebleu_ci"] = metrics.bootstrap_ci(cb, resamples=cfg.bootstrap)
        refs = [items[r["id"]].python for r in with_ref]
        preds = [r["prediction"] for r in with_ref]
        out["bleu"] = metrics.corpus_bleu(refs, preds)
        out["exact_match"] = sum(r["exact_match"] for r in with_ref) / len(with_ref)
        ref_toks = sum(r["ref_tokens"] for r in with_ref)
        out["length_ratio"] = sum(r["pred_tokens"] for r in with_ref) / ref_toks if ref_toks else None
        out["codebleu_corpus"] = metrics.codebleu_corpus(refs, preds)
    else:
        out.update(dict.fromkeys(("codebleu", "ngram_match", "weighted_ngram_match", "syntax_match",
                                  "dataflow_match", "bleu", "exact_match", "length_ratio", "codebleu_ci")))
    out["parse_rate"] = sum(r["parses"] for r in rows) / len(rows) if rows else None
    runs = [r for r in rows if "passed" in r]
    out["n_executed"] = len(runs)
    for k in cfg.ks:
        key = f"ca@{k}"
        if not executed or not runs or any(len(r["passed"]) < k for r in runs):
            out[key] = None
            continue
        per = [metrics.pass_at_k(len(r["passed"]), sum(r["passed"]), k) for r in runs]
        out[key] = sum(per) / len(per)
        out[f"{key}_ci"] = metrics.bootstrap_ci(per, resamples=cfg.bootstrap)
    out.setdefault("ca@1_ci", None)
    out["failures"] = dict(Counter(k for r in runs for k in r["kinds"] if k != "pass"))
    return out


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    disable=not enabled, transient=False)


def _translate(cfg: EvaluateConfig, out: Path) -> Path:
    """One-shot mode: translate the benchmark through the translation stage, then score the file."""
    from cpp2py.jobs.translate import translate_jsonl

    name = Path(cfg.adapter).name if cfg.adapter else Path(cfg.model or "default").name.replace(".gguf", "")
    path = out / "predictions" / f"{name}.jsonl"
    return Path(translate_jsonl(cfg.benchmark, path, TranslateConfig(**cfg.model_section())))


def _contamination(cfg: EvaluateConfig, items: list[BenchmarkItem]) -> tuple[list[float] | None, list[str]]:
    from cpp2py.scoring import contamination

    paths = [Path(p) for p in cfg.train_data]
    if not paths and cfg.adapter:
        from cpp2py.generation.model import resolve_adapter

        paths = contamination.train_data_from_adapter(resolve_adapter(cfg.adapter))
    if not paths:
        return None, []
    train = contamination.read_train_cpp(paths)
    sims = contamination.max_similarity([it.cpp for it in items], train)
    return [s for s, _ in sims], [str(p) for p in paths]


def _notes(cfg: EvaluateConfig, items: list[BenchmarkItem]) -> list[str]:
    """What the report must say about what could not be scored; refuses a benchmark with nothing to score."""
    notes: list[str] = []
    has_refs = any(it.python is not None for it in items)
    has_tests = any(it.executable for it in items)
    if not has_refs and not has_tests:
        raise Cpp2PyError(f"{cfg.benchmark}: no item has a reference `python`, a `test` or `compare_stdout`; "
                          "there is nothing to score against")
    if not has_refs:
        notes.append("The benchmark has no reference translations: CodeBLEU, BLEU, exact match and length "
                     "ratio are skipped (null).")
    if not has_tests:
        notes.append("The benchmark has no tests: CA@k is skipped (null).")
    elif not cfg.allow_exec:
        notes.append("Execution was not allowed (pass --allow-exec): CA@k is null.")
    return notes


def _systems(cfg: EvaluateConfig, items: list[BenchmarkItem], out: Path, notes: list[str]) -> list[System]:
    """Baselines, predictions files and the one-shot model's predictions, each named once."""
    systems: list[System] = []
    for b in cfg.baselines:
        if b not in BASELINES:
            raise Cpp2PyError(f"unknown baseline {b!r}; known: {', '.join(BASELINES)}")
        samples = naive_copy(items)
        write_jsonl(out / "predictions" / f"{b}.jsonl", ({"id": i, "prediction": s[0]} for i, s in samples.items()))
        systems.append(System(b, samples, [], [], []))
    pred_paths = [Path(p) for p in cfg.predictions]
    if cfg.model or cfg.adapter:
        pred_paths.append(_translate(cfg, out))
    for p in pred_paths:
        systems.append(load_predictions(p, items))
    if not systems:
        raise Cpp2PyError("nothing to evaluate: give --predictions, --baseline or --model")
    names = [s.name for s in systems]
    if len(set(names)) != len(names):
        raise Cpp2PyError(f"two systems share a name ({', '.join(names)}); systems are named after their "
                          "predictions file, so rename one")
    for s in systems:
        if s.missing or s.extra:
            notes.append(f"`{s.name}`: {len(s.missing)} benchmark id(s) without a prediction (scored as failures"
                         f"{': ' + ', '.join(s.missing[:5]) if s.missing else ''}), {len(s.extra)} prediction id(s)"
                         f" not in the benchmark (ignored{': ' + ', '.join(s.extra[:5]) if s.extra else ''}).")
    return systems


def _score(cfg: EvaluateConfig, systems: list[System], items: list[BenchmarkItem],
           executed: bool) -> dict[str, list[dict]]:
    """Per-item rows of every system: text metrics, and with ``executed`` the sandbox verdicts of all samples."""
    by_id = {it.id: it for it in items}
    rows: dict[str, list[dict]] = {s.name: [] for s in systems}
    workers = cfg.workers or os.cpu_count() or 1
    with _progress(cfg.progress) as progress, ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {}
        if executed:
            from cpp2py.execution.checks import check_candidate

            jobs = [(s.name, it.id, j, cand) for s in systems for it in items if it.executable
                    for j, cand in enumerate(s.samples[it.id])]
            exec_task = progress.add_task("executing (sandbox)", total=len(jobs))

            def run(job):
                verdict = check_candidate(job[3], by_id[job[1]], timeout=cfg.timeout)
                progress.advance(exec_task)
                return verdict

            futures = {job[:3]: pool.submit(run, job) for job in jobs}
            # Text scoring waits until execution is done: pure-Python CodeBLEU would hold the GIL that the
            # sandbox threads need between their system calls.
            for f in futures.values():
                f.result()
        text_task = progress.add_task("scoring (CodeBLEU)", total=len(systems) * len(items))
        for s in systems:
            for it in items:
                pred = s.samples[it.id][0]
                row = {"id": it.id, "system": s.name, "prediction": pred, **_per_item_text(it, pred)}
                rows[s.name].append(row)
                progress.advance(text_task)
        for s in systems:
            for row in rows[s.name]:
                it = by_id[row["id"]]
                if executed and it.executable:
                    verdicts = [futures[(s.name, it.id, j)].result() for j in range(len(s.samples[it.id]))]
                    row["passed"] = [v.passed for v in verdicts]
                    row["kinds"] = ["missing" if it.id in s.missing else v.kind for v in verdicts]
                    row["detail"] = next((v.detail for v in verdicts if not v.passed), "")
    return rows


def evaluate(cfg: EvaluateConfig) -> dict[str, Any]:
    """Score every system; write the report folder; return metrics.json's content."""
    out = Path(cfg.out)
    items = read_items(cfg.benchmark)
    by_id = {it.id: it for it in items}
    notes = _notes(cfg, items)
    ensure_writable(out, "directory")  # before any translation, sandbox run or scoring
    systems = _systems(cfg, items, out, notes)
    executed = cfg.allow_exec and any(it.executable for it in items)
    rows = _score(cfg, systems, items, executed)
    sims, train_paths = _contamination(cfg, items)
    if sims is not None:
        for rs in rows.values():
            for r, sim in zip(rs, sims):
                r["max_train_similarity"] = sim
    result: dict[str, Any] = {}
    for s in systems:
        m = summarise(rows[s.name], by_id, cfg, executed)
        m["missing_ids"] = len(s.missing)
        m["extra_ids"] = len(s.extra)
        m["token_cap_rate"] = sum(s.token_cap_hits) / len(s.token_cap_hits) if s.token_cap_hits else None
        if sims is not None:
            clean = [r for r in rows[s.name] if r["max_train_similarity"] < cfg.threshold]
            m["contamination_threshold"] = cfg.threshold
            m["contaminated_items"] = len(rows[s.name]) - len(clean)
            m["clean"] = {k: v for k, v in summarise(clean, by_id, cfg, executed).items()
                          if k != "codebleu_corpus"} if clean else None
        result[s.name] = m

    write_json(out / "metrics.json", result)
    write_jsonl(out / "details.jsonl", (r for s in systems for r in rows[s.name]))
    meta = {"benchmark": str(cfg.benchmark), "n_items": len(items), "executed": executed, "notes": notes,
            "train_data": train_paths, "similarities": sims, "threshold": cfg.threshold}
    with atomic_write(out / "report.md") as f:
        f.write(render_report(result, rows, by_id, meta))
    if cfg.plots:
        plot(result, rows, out)
    return result

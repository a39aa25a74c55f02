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

import difflib
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cpp2py import metrics
from cpp2py.contamination import THRESHOLD
from cpp2py.errors import Cpp2PyError
from cpp2py.files import atomic_write, read_jsonl, write_json, write_jsonl

HEADLINE = ("codebleu", "ngram_match", "weighted_ngram_match", "syntax_match", "dataflow_match", "bleu",
            "exact_match", "parse_rate", "length_ratio", "ca@1")
BASELINES = ("naive-copy",)


@dataclass
class EvaluateConfig:
    benchmark: str
    predictions: list[str] = field(default_factory=list)
    out: str = "eval"
    allow_exec: bool = False          # run predictions against the benchmark's tests (in cpp2py.sandbox)
    baselines: list[str] = field(default_factory=list)   # "naive-copy"
    model: str | None = None          # one-shot: translate the benchmark with this model first
    adapter: str | None = None
    backend: str = "auto"             # as TranslateConfig.backend
    base_url: str | None = None
    train_data: list[str] = field(default_factory=list)  # training JSONL for the contamination check
    threshold: float = THRESHOLD
    workers: int = 0                  # parallel sandbox runs; 0 = number of CPUs
    timeout: float = 10.0             # per program run, seconds
    ks: list[int] = field(default_factory=lambda: [1])
    bootstrap: int = 1000
    plots: bool = True
    progress: bool = True


@dataclass
class Item:
    id: str
    cpp: str
    python: str | None
    record: dict

    @property
    def executable(self) -> bool:
        return bool(self.record.get("test")) or bool(self.record.get("compare_stdout"))


@dataclass
class System:
    name: str
    samples: dict[str, list[str]]     # id -> candidate programs; every benchmark id is present
    missing: list[str]
    extra: list[str]
    token_cap_hits: list[bool]


def load_benchmark(path: str | Path) -> list[Item]:
    items: list[Item] = []
    seen: set[str] = set()
    for n, r in enumerate(read_jsonl(path), 1):
        if "id" not in r or not isinstance(r.get("cpp"), str):
            raise Cpp2PyError(f"{path}: record {n} lacks `id` or a string `cpp` (benchmark format: id, cpp, "
                              "python, test, stdin, compare_stdout)")
        rid = str(r["id"])
        if rid in seen:
            raise Cpp2PyError(f"{path}: id {rid!r} appears twice")
        seen.add(rid)
        py = r.get("python")
        items.append(Item(rid, r["cpp"], py if isinstance(py, str) and py.strip() else None, r))
    if not items:
        raise Cpp2PyError(f"{path}: the benchmark is empty")
    return items


def load_predictions(path: str | Path, items: list[Item], name: str | None = None) -> System:
    ids = {it.id for it in items}
    got: dict[str, list[str]] = {}
    extra: list[str] = []
    caps: list[bool] = []
    for n, r in enumerate(read_jsonl(path), 1):
        if "id" not in r:
            raise Cpp2PyError(f"{path}: record {n} has no `id`")
        preds = r.get("predictions", r.get("prediction"))
        if isinstance(preds, str) or preds is None:
            preds = [preds or ""]
        if not isinstance(preds, list) or not all(isinstance(p, str) for p in preds):
            raise Cpp2PyError(f"{path}: record {n}: `prediction` must be a string (or `predictions` a list "
                              "of strings)")
        rid = str(r["id"])
        if rid not in ids:
            extra.append(rid)
            continue
        got.setdefault(rid, []).extend(preds)
        if isinstance(r.get("hit_token_cap"), bool):
            caps.append(r["hit_token_cap"])
    if not got:
        sample = ", ".join(sorted(extra)[:3]) or "none"
        raise Cpp2PyError(f"{path}: no prediction id matches the benchmark (e.g. {sample} vs "
                          f"{', '.join(it.id for it in items[:3])}); nothing to score")
    missing = [it.id for it in items if it.id not in got]
    samples = {it.id: got.get(it.id, [""]) for it in items}
    return System(name or Path(path).stem, samples, missing, extra, caps)


def naive_copy(items: list[Item]) -> dict[str, list[str]]:
    """The C++ itself as the "translation": the floor any CodeBLEU number should be read against."""
    return {it.id: [it.cpp] for it in items}


def _per_item_text(item: Item, pred: str) -> dict[str, Any]:
    row: dict[str, Any] = {"parses": metrics.parses(pred), "pred_tokens": len(metrics.code_tokens(pred))}
    if item.python is not None:
        row.update(metrics.codebleu_one(item.python, pred))
        row["ref_tokens"] = len(metrics.code_tokens(item.python))
        row["exact_match"] = bool(pred.strip()) and metrics.normalise_ws(pred) == metrics.normalise_ws(item.python)
    return row


def summarise(rows: list[dict], items: dict[str, Item], cfg: EvaluateConfig, executed: bool) -> dict[str, Any]:
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
    from cpp2py.translate import TranslateConfig, translate_jsonl

    name = Path(cfg.adapter).name if cfg.adapter else Path(cfg.model or "default").name.replace(".gguf", "")
    path = out / "predictions" / f"{name}.jsonl"
    tcfg = TranslateConfig(model=cfg.model, adapter=cfg.adapter, backend=cfg.backend, base_url=cfg.base_url)
    return Path(translate_jsonl(cfg.benchmark, path, tcfg))


def _contamination(cfg: EvaluateConfig, items: list[Item]) -> tuple[list[float] | None, list[str]]:
    from cpp2py import contamination

    paths = [Path(p) for p in cfg.train_data]
    if not paths and cfg.adapter:
        paths = contamination.train_data_from_adapter(cfg.adapter)
    if not paths:
        return None, []
    train = contamination.read_train_cpp(paths)
    sims = contamination.max_similarity([it.cpp for it in items], train)
    return [s for s, _ in sims], [str(p) for p in paths]


def evaluate(cfg: EvaluateConfig) -> dict[str, Any]:
    """Score every system; write the report folder; return metrics.json's content."""
    out = Path(cfg.out)
    items = load_benchmark(cfg.benchmark)
    by_id = {it.id: it for it in items}
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

    executed = cfg.allow_exec and has_tests
    rows: dict[str, list[dict]] = {s.name: [] for s in systems}
    workers = cfg.workers or os.cpu_count() or 1
    with _progress(cfg.progress) as progress, ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {}
        if executed:
            from cpp2py.sandbox import check_candidate

            jobs = [(s.name, it.id, j, cand) for s in systems for it in items if it.executable
                    for j, cand in enumerate(s.samples[it.id])]
            exec_task = progress.add_task("executing (sandbox)", total=len(jobs))

            def run(job):
                verdict = check_candidate(job[3], by_id[job[1]].record, timeout=cfg.timeout)
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

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", result)
    write_jsonl(out / "details.jsonl", (r for s in systems for r in rows[s.name]))
    meta = {"benchmark": str(cfg.benchmark), "n_items": len(items), "executed": executed, "notes": notes,
            "train_data": train_paths, "similarities": sims, "threshold": cfg.threshold}
    with atomic_write(out / "report.md") as f:
        f.write(render_report(result, rows, by_id, meta))
    if cfg.plots:
        plot(result, rows, out)
    return result


def _fmt(v: Any, ci: list[float] | None = None) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        s = f"{100 * v:.2f}"
        return f"{s} [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else s
    return str(v)


def _table(result: dict[str, Any], key: str | None = None) -> list[str]:
    names = list(result)
    lines = ["| metric | " + " | ".join(f"`{n}`" for n in names) + " |", "|---" * (len(names) + 1) + "|"]
    for k in ("n", *HEADLINE):
        vals = []
        for n in names:
            m = result[n] if key is None else (result[n].get(key) or {})
            v = m.get(k)
            if k == "length_ratio":
                vals.append("–" if v is None else f"{v:.2f}")
            else:
                vals.append(_fmt(v, m.get(f"{k}_ci")))
        lines.append(f"| {k} | " + " | ".join(vals) + " |")
    return lines


def render_report(result: dict[str, Any], rows: dict[str, list[dict]], items: dict[str, Item],
                  meta: dict[str, Any]) -> str:
    L = [f"# cpp2py evaluation: `{meta['benchmark']}`", "",
         f"{meta['n_items']} items; systems are named after their predictions files. Scores in percent; "
         "brackets are 95% bootstrap confidence intervals. CodeBLEU is the mean of per-example scores (see "
         "docs/evaluation.md); `codebleu_corpus` in metrics.json is `codebleu.calc_codebleu` as published. "
         "Length ratio is prediction tokens / reference tokens (1.00 = same length; run-on output shows up "
         "here before anywhere else).", ""]
    for note in meta["notes"]:
        L.append(f"- {note}")
    L += ["", "## All items", "", *_table(result)]
    caps = {n: m["token_cap_rate"] for n, m in result.items() if m.get("token_cap_rate") is not None}
    if caps:
        L += ["", "Predictions that hit the token cap: " + ", ".join(f"`{n}` {100 * v:.1f}%" for n, v in caps.items())]
    if meta["similarities"] is not None:
        sims = meta["similarities"]
        dirty = sum(s >= meta["threshold"] for s in sims)
        L += ["", "## Contamination", "",
              f"Training data: {', '.join(meta['train_data'])}. For each item, the highest Jaccard similarity of "
              f"its C++ token 5-grams to any training program: {dirty}/{len(sims)} items are at or above "
              f"{meta['threshold']} (mean similarity {sum(sims) / len(sims):.3f}). The clean subset is the rest.",
              "", "### Clean subset", "", *_table(result, "clean")]
    if meta["executed"]:
        kinds = sorted({k for m in result.values() for k in m["failures"]})
        L += ["", "## Failures (all samples of executable items)", ""]
        if kinds:
            L += ["| kind | " + " | ".join(f"`{n}`" for n in result) + " |", "|---" * (len(result) + 1) + "|"]
            L += [f"| {k} | " + " | ".join(str(result[n]["failures"].get(k, 0)) for n in result) + " |"
                  for k in kinds]
        else:
            L.append("None: every sample passed.")
    L += ["", "## Worst examples", ""]
    for name, rs in rows.items():
        def badness(r: dict) -> tuple:
            return (all(r.get("passed", [True])), r.get("codebleu", 0.0) if items[r["id"]].python else 0.0)

        worst = sorted(rs, key=badness)[:5]
        L += [f"### `{name}`", ""]
        for r in worst:
            ref = items[r["id"]].python or ""
            head = f"**{r['id']}**"
            if "codebleu" in r:
                head += f" — CodeBLEU {100 * r['codebleu']:.1f}"
            if "kinds" in r:
                head += f" — {', '.join(sorted(set(r['kinds'])))}"
            diff = list(difflib.unified_diff(ref.splitlines(), r["prediction"].splitlines(), "reference",
                                             "prediction", lineterm="", n=2))
            if len(diff) > 60:
                diff = diff[:60] + [f"... ({len(diff) - 60} more diff lines)"]
            L += [head, "", "```diff", *(diff or ["(identical)"]), "```"]
            if r.get("detail"):
                L += ["", "```", r["detail"][-400:], "```"]
            L.append("")
    return "\n".join(L) + "\n"


def plot(result: dict[str, Any], rows: dict[str, list[dict]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in ("codebleu", "bleu", "exact_match", "parse_rate", "ca@1")
            if any(m.get(k) is not None for m in result.values())]
    names = list(result)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(keys) * max(1, len(names)) / 2), 4))
    width = 0.8 / len(names)
    for j, n in enumerate(names):
        vals = [result[n].get(k) or 0.0 for k in keys]
        err = [[0, 0] if not result[n].get(f"{k}_ci") else
               [max(0.0, (result[n][k] or 0) - result[n][f"{k}_ci"][0]), max(0.0, result[n][f"{k}_ci"][1] - (result[n][k] or 0))]
               for k in keys]
        ax.bar([i + j * width for i in range(len(keys))], vals, width, label=n,
               yerr=list(zip(*err)) if err else None, capsize=3)
    ax.set_xticks([i + width * (len(names) - 1) / 2 for i in range(len(keys))], keys)
    ax.set_ylim(0, 1)
    ax.set_ylabel("score (95% CI)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "metrics.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for n, rs in rows.items():
        pts = [(r["pred_tokens"] / r["ref_tokens"], r["codebleu"]) for r in rs if r.get("ref_tokens")]
        if pts:
            ax.scatter(*zip(*pts), s=8, alpha=0.5, label=n)
    ax.axvline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("length ratio (prediction / reference tokens)")
    ax.set_ylabel("CodeBLEU")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "codebleu_vs_length.png", dpi=120)
    plt.close(fig)

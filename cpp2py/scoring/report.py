"""The evaluation report: report.md (tables with CIs, contamination, failure kinds, worst examples as
diffs) and the PNG plots, rendered from what :mod:`cpp2py.jobs.evaluate` computed.

Run as: cpp2py evaluate ... --out DIR (writes DIR/report.md, DIR/metrics.png, DIR/codebleu_vs_length.png)
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from cpp2py.schema import BenchmarkItem

HEADLINE = ("codebleu", "ngram_match", "weighted_ngram_match", "syntax_match", "dataflow_match", "bleu",
            "exact_match", "parse_rate", "length_ratio", "ca@1")


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


def render_report(result: dict[str, Any], rows: dict[str, list[dict]], items: dict[str, BenchmarkItem],
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

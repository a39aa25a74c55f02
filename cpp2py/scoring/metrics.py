"""Text and execution metrics for translations: per-example CodeBLEU, BLEU, exact match, parse rate, length
ratio, unbiased CA@k and bootstrap confidence intervals.

Run as: python -c "from cpp2py.scoring.metrics import codebleu_per_example as f; print(f(['x = 1'], ['x = 1']))"

Why per-example CodeBLEU: ``codebleu.calc_codebleu`` returns one corpus score, which gives no
confidence interval and cannot be split into the clean (uncontaminated) subset. We compute the four
components of each example with the library's own functions (``lang="python"``, whitespace tokens, the
library's keyword weights) and combine them with weights 0.25 each. Two deliberate differences from
``calc_codebleu`` called on a single pair:

* ``calc_codebleu`` adds ``theta * (dataflow or 1)``: a dataflow score of 0 counts as 1, so an empty or
  unrelated prediction still collects 0.25. We use the score as is; when the *reference* has no data flow
  at all the component is undefined and the other three are re-weighted to sum to 1.
* an empty prediction scores 0 on every component by definition.

The library's corpus score (with its quirks) is reported beside ours as ``codebleu_corpus`` so numbers stay
comparable with papers.
"""
from __future__ import annotations

import logging
import math
import re
from functools import cache
from typing import Sequence

from cpp2py import prompt

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\"(?:\\.|[^\"\\\n])*\"|"
                    r"'(?:\\.|[^'\\\n])*'|==|!=|<=|>=|<<|>>|\*\*|//|->|::|\+\+|--|&&|\|\||[-+*/%]=|\S")


def code_tokens(code: str) -> list[str]:
    """Language-agnostic code tokens (identifiers, numbers, string literals, operators); used for BLEU,
    length ratio and C++ n-grams, so that ``a+b`` and ``a + b`` count alike."""
    return _TOKEN.findall(code)


def normalise_ws(code: str) -> str:
    return " ".join(code.split())


def parses(code: str) -> bool:
    """Non-empty and accepted by ``ast.parse``."""
    return bool(code.strip()) and prompt.parses(code)


@cache
def _codebleu_parts():
    from codebleu import bleu, dataflow_match, syntax_match, weighted_ngram_match
    from codebleu.codebleu import PACKAGE_DIR
    from codebleu.utils import get_tree_sitter_language
    from tree_sitter import Parser

    language = get_tree_sitter_language("python")
    keywords = set((PACKAGE_DIR / "keywords" / "python.txt").read_text(encoding="utf-8").split())
    parser = Parser()
    parser.language = language
    return bleu, weighted_ngram_match, syntax_match, dataflow_match, language, keywords, parser


def _dataflow(reference: str, candidate: str, parts) -> float | None:
    """The library's dataflow match for one pair, or None when the reference has no data flow."""
    _, _, _, dfm, _, _, parser = parts

    def flows(code: str) -> list:
        try:
            code = dfm.remove_comments_and_docstrings(code, "python")
        except Exception:  # the library does the same: score the raw code when stripping fails
            pass
        return dfm.normalize_dataflow(dfm.get_data_flow(code, [parser, dfm.dfg_function["python"]]))

    ref = flows(reference)
    if not ref:
        return None
    cand = flows(candidate)
    matched = 0
    for f in ref:
        if f in cand:
            matched += 1
            cand.remove(f)
    return matched / len(ref)


def codebleu_one(reference: str, prediction: str) -> dict[str, float | None]:
    """CodeBLEU and its four components for one pair (see the module docstring for the combination)."""
    reference, prediction = reference.strip(), prediction.strip()
    keys = ("codebleu", "ngram_match", "weighted_ngram_match", "syntax_match", "dataflow_match")
    if not prediction:
        return dict.fromkeys(keys, 0.0)
    parts = _codebleu_parts()
    bleu, wbleu, sm, _, language, keywords, _ = parts
    ref_toks, hyp_toks = reference.split(), prediction.split()
    ngram = bleu.corpus_bleu([[ref_toks]], [hyp_toks])
    weights = {t: 1 if t in keywords else 0.2 for t in ref_toks}
    wngram = wbleu.corpus_bleu([[[ref_toks, weights]]], [hyp_toks])
    syntax = sm.corpus_syntax_match([[reference]], [prediction], "python", tree_sitter_language=language)
    dataflow = _dataflow(reference, prediction, parts)
    if dataflow is None:
        score = (ngram + wngram + syntax) / 3
    else:
        score = (ngram + wngram + syntax + dataflow) / 4
    return {"codebleu": score, "ngram_match": ngram, "weighted_ngram_match": wngram, "syntax_match": syntax,
            "dataflow_match": dataflow}


def codebleu_corpus(references: Sequence[str], predictions: Sequence[str]) -> dict[str, float]:
    """``codebleu.calc_codebleu`` as published (corpus-level, including its ``dataflow or 1`` rule)."""
    from codebleu import calc_codebleu

    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)  # the library warns through the root logger when no data flow exists
    try:
        r = calc_codebleu(list(references), list(predictions), lang="python")
    finally:
        logger.setLevel(level)
    return {"codebleu": r["codebleu"], "ngram_match": r["ngram_match_score"],
            "weighted_ngram_match": r["weighted_ngram_match_score"], "syntax_match": r["syntax_match_score"],
            "dataflow_match": r["dataflow_match_score"]}


def corpus_bleu(references: Sequence[str], predictions: Sequence[str]) -> float:
    """Corpus BLEU-4 over ``code_tokens`` (so spacing differences do not matter), no smoothing."""
    from codebleu import bleu

    refs = [[code_tokens(r)] for r in references]
    hyps = [code_tokens(p) for p in predictions]
    if not any(hyps):
        return 0.0
    return float(bleu.corpus_bleu(refs, hyps))


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimator of pass@k (Chen et al. 2021) from ``n`` samples of which ``c`` passed."""
    if n < k:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod((n - c - i) / (n - i) for i in range(k))


def _defined(values: Sequence[float | None]) -> list[float]:
    return [v for v in values if v is not None and not math.isnan(v)]


def mean(values: Sequence[float | None]) -> float | None:
    """Mean of the defined values (None/NaN, e.g. an undefined dataflow component, are left out)."""
    vals = _defined(values)
    return sum(vals) / len(vals) if vals else None


def bootstrap_ci(values: Sequence[float | None], *, resamples: int = 1000, level: float = 0.95,
                 seed: int = 0) -> list[float] | None:
    """Percentile bootstrap interval of the mean (undefined values left out); None when there are none."""
    import numpy as np

    arr = np.asarray(_defined(values), dtype=float)
    if arr.size == 0:
        return None
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, arr.size, size=(resamples, arr.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return [float(lo), float(hi)]

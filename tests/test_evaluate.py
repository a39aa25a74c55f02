"""Evaluation: metrics behave as a reviewer expects, bad input is refused clearly, the report is complete."""
from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

from cpp2py.scoring import contamination, metrics
from cpp2py.cli import app
from cpp2py.errors import Cpp2PyError
from cpp2py.jobs.evaluate import EvaluateConfig, evaluate
from cpp2py.execution.checks import check_candidate
from cpp2py.schema import BenchmarkItem

ITEMS = [
    {"id": "add", "cpp": "int add(int a, int b) { return a + b; }",
     "python": "def add(a, b):\n    return a + b\n", "test": "assert add(2, 3) == 5\nassert add(-1, 1) == 0"},
    {"id": "fact", "cpp": "long fact(int n) { long r = 1; for (int i = 2; i <= n; i++) r *= i; return r; }",
     "python": "def fact(n):\n    r = 1\n    for i in range(2, n + 1):\n        r *= i\n    return r\n",
     "test": "assert fact(5) == 120\nassert fact(0) == 1"},
    {"id": "maxof", "cpp": "int maxof(vector<int> v) { int m = v[0]; for (int x : v) if (x > m) m = x; return m; }",
     "python": "def maxof(v):\n    m = v[0]\n    for x in v:\n        if x > m:\n            m = x\n    return m\n",
     "test": "assert maxof([3, 9, 2]) == 9"},
    # The reference itself is wrong: the benchmark's own pass rate is 3/4.
    {"id": "broken", "cpp": "int twice(int x) { return 2 * x; }",
     "python": "def twice(x):\n    return x + x + 1\n", "test": "assert twice(4) == 8"},
]


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _preds(path, mapping):
    return _write(path, [{"id": k, "prediction": v} for k, v in mapping.items()])


@pytest.fixture()
def bench(tmp_path):
    return _write(tmp_path / "bench.jsonl", ITEMS)


def _cfg(bench, preds, out, **kw):
    return EvaluateConfig(benchmark=str(bench), predictions=[str(p) for p in preds], out=str(out),
                          allow_exec=True, progress=False, bootstrap=200, **kw)


def test_reference_predictions_and_benchmark_pass_rate(tmp_path, bench):
    ref = _preds(tmp_path / "reference.jsonl", {r["id"]: r["python"] for r in ITEMS})
    m = evaluate(_cfg(bench, [ref], tmp_path / "out"))["reference"]
    assert m["codebleu"] == pytest.approx(1.0) and m["exact_match"] == 1.0 and m["parse_rate"] == 1.0
    assert m["length_ratio"] == pytest.approx(1.0)
    own_rate = sum(check_candidate(r["python"], BenchmarkItem.from_dict(r)).passed for r in ITEMS) / len(ITEMS)
    assert own_rate == 0.75 and m["ca@1"] == pytest.approx(own_rate)
    assert m["failures"] == {"wrong_answer": 1}
    for key in ("codebleu", "ca@1"):
        lo, hi = m[f"{key}_ci"]
        assert lo <= m[key] <= hi


def test_empty_and_missing_predictions_score_zero_and_fail(tmp_path, bench):
    preds = _preds(tmp_path / "empty.jsonl", {"add": "", "fact": ITEMS[1]["python"]})
    m = evaluate(_cfg(bench, [preds], tmp_path / "out"))["empty"]
    rows = [json.loads(line) for line in (tmp_path / "out" / "details.jsonl").read_text().splitlines()]
    by_id = {r["id"]: r for r in rows}
    assert by_id["add"]["codebleu"] == 0.0 and by_id["add"]["passed"] == [False]
    assert by_id["maxof"]["codebleu"] == 0.0 and by_id["maxof"]["kinds"] == ["missing"]
    assert m["missing_ids"] == 2 and m["n"] == 4
    assert m["ca@1"] == pytest.approx(0.25) and m["failures"]["missing"] == 2
    assert metrics.codebleu_one(ITEMS[0]["python"], "")["codebleu"] == 0.0


def test_run_on_output_reports_worse_than_answer(tmp_path, bench):
    answer = {r["id"]: r["python"] for r in ITEMS}
    junk = " ".join(random.Random(0).choice(["x", "foo", "(", "bar", "=", "1"]) for _ in range(200))
    runon = {k: v + "\n" + junk for k, v in answer.items()}
    res = evaluate(_cfg(bench, [_preds(tmp_path / "answer.jsonl", answer), _preds(tmp_path / "runon.jsonl", runon)],
                        tmp_path / "out"))
    a, r = res["answer"], res["runon"]
    assert r["length_ratio"] > 2 * a["length_ratio"]
    assert r["ca@1"] < a["ca@1"]
    assert r["codebleu"] < a["codebleu"] and r["parse_rate"] < a["parse_rate"]


def test_known_wrong_function_fails_its_test():
    v = check_candidate("def add(a, b):\n    return a * b\n", BenchmarkItem.from_dict(ITEMS[0]))
    assert not v.passed and v.kind == "wrong_answer"


def test_ca_at_k_with_several_samples(tmp_path, bench):
    good, bad = ITEMS[0]["python"], "def add(a, b):\n    return 0\n"
    path = _write(tmp_path / "sampled.jsonl", [{"id": "add", "predictions": [bad, good, bad]},
                                               {"id": "fact", "prediction": ITEMS[1]["python"]},
                                               {"id": "fact", "prediction": "def fact(n):\n    return 1\n"},
                                               {"id": "fact", "prediction": ITEMS[1]["python"]}])
    m = evaluate(_cfg(bench, [path], tmp_path / "out", ks=[1, 2]))["sampled"]
    # add: 1 of 3, fact: 2 of 3, the two missing ids: 0 (and a single sample, so CA@2 is undefined).
    assert m["ca@1"] == pytest.approx((1 / 3 + 2 / 3) / 4)
    assert m["ca@2"] is None
    assert metrics.pass_at_k(3, 1, 2) == pytest.approx(1 - (2 * 1) / (3 * 2))


def test_bootstrap_ci_contains_point_estimate():
    rng = random.Random(1)
    vals = [rng.random() for _ in range(50)]
    lo, hi = metrics.bootstrap_ci(vals)
    assert lo <= sum(vals) / len(vals) <= hi and lo < hi


def test_missing_extra_and_no_overlap(tmp_path, bench):
    preds = _preds(tmp_path / "p.jsonl", {"add": ITEMS[0]["python"], "nope": "x = 1"})
    m = evaluate(_cfg(bench, [preds], tmp_path / "out", plots=False))["p"]
    assert m["missing_ids"] == 3 and m["extra_ids"] == 1
    assert "3 benchmark id(s) without a prediction" in (tmp_path / "out" / "report.md").read_text()
    none = _preds(tmp_path / "q.jsonl", {"zzz": "x = 1"})
    with pytest.raises(Cpp2PyError, match="no prediction id matches"):
        evaluate(_cfg(bench, [none], tmp_path / "out2"))


def test_malformed_jsonl_names_the_line(tmp_path, bench):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "add", "prediction": "x"}) + "\n{not json\n")
    result = CliRunner().invoke(app, ["evaluate", "--benchmark", str(bench), "--predictions", str(bad),
                                      "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    with pytest.raises(Cpp2PyError, match=r"bad.jsonl:2: malformed JSON"):
        evaluate(_cfg(bench, [bad], tmp_path / "o"))


def test_benchmark_without_references_or_tests(tmp_path):
    only_tests = _write(tmp_path / "t.jsonl", [{k: v for k, v in r.items() if k != "python"} for r in ITEMS])
    preds = _preds(tmp_path / "p.jsonl", {r["id"]: r["python"] for r in ITEMS})
    m = evaluate(_cfg(only_tests, [preds], tmp_path / "out", plots=False))["p"]
    assert m["codebleu"] is None and m["ca@1"] == pytest.approx(0.75)
    assert "no reference translations" in (tmp_path / "out" / "report.md").read_text()
    nothing = _write(tmp_path / "n.jsonl", [{"id": r["id"], "cpp": r["cpp"]} for r in ITEMS])
    with pytest.raises(Cpp2PyError, match="nothing to score"):
        evaluate(_cfg(nothing, [preds], tmp_path / "out2"))


def test_contamination_index_finds_planted_near_duplicate():
    rng = random.Random(0)
    words = ["int", "x", "y", "for", "(", ")", "{", "}", "+", "-", "*", "=", ";", "return", "i", "n", "a", "b"]
    train = [" ".join(rng.choice(words) + str(rng.randrange(50)) for _ in range(60)) for _ in range(300)]
    planted = train[137].replace("x3", "z3", 1) + " extra ;"
    fresh = " ".join(rng.choice(words) + str(rng.randrange(50, 99)) for _ in range(60))
    (s1, i1), (s2, _) = contamination.max_similarity([planted, fresh], train)
    assert i1 == 137 and s1 > 0.8
    assert s2 < 0.1


def test_metrics_schema_report_plots_and_clean_subset(tmp_path, bench):
    ref = _preds(tmp_path / "sys.jsonl", {r["id"]: r["python"] for r in ITEMS})
    train = _write(tmp_path / "train.jsonl", [{"id": "t", "cpp": ITEMS[1]["cpp"], "python": ""}])
    res = evaluate(_cfg(bench, [ref], tmp_path / "out", baselines=["naive-copy"], train_data=[str(train)]))
    data = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert set(data) == {"naive-copy", "sys"} and data == json.loads(json.dumps(res))
    for m in data.values():
        for key in ("n", "codebleu", "ngram_match", "weighted_ngram_match", "syntax_match", "dataflow_match",
                    "bleu", "exact_match", "parse_rate", "length_ratio", "ca@1", "ca@1_ci", "codebleu_ci"):
            assert key in m
        for key in ("codebleu", "ngram_match", "weighted_ngram_match", "syntax_match", "dataflow_match", "bleu",
                    "exact_match", "parse_rate", "ca@1"):
            assert 0.0 <= m[key] <= 1.0
        assert m["contaminated_items"] == 1 and m["clean"]["n"] == 3
    assert data["naive-copy"]["codebleu"] < 0.5 and data["naive-copy"]["parse_rate"] == 0.0
    report = (tmp_path / "out" / "report.md").read_text()
    assert "Clean subset" in report and "## Worst examples" in report and "```diff" in report
    for png in ("metrics.png", "codebleu_vs_length.png"):
        assert (tmp_path / "out" / png).read_bytes()[:4] == b"\x89PNG"


def test_cli_evaluate_without_exec_leaves_ca_null(tmp_path, bench):
    ref = _preds(tmp_path / "r.jsonl", {r["id"]: r["python"] for r in ITEMS})
    result = CliRunner().invoke(app, ["evaluate", "--benchmark", str(bench), "--predictions", str(ref),
                                      "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())["r"]
    assert m["ca@1"] is None and m["codebleu"] == pytest.approx(1.0)
    assert "--allow-exec" in (tmp_path / "o" / "report.md").read_text()


def test_cli_one_shot_translates_then_scores(tmp_path, tiny_model_dir):
    # One-shot mode runs the real translation stage (tiny random model), then scores its predictions file.
    two = _write(tmp_path / "two.jsonl", ITEMS[:2])
    result = CliRunner().invoke(app, ["evaluate", "--benchmark", str(two), "--model", str(tiny_model_dir),
                                      "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    name = tiny_model_dir.name
    metrics_ = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert list(metrics_) == [name] and metrics_[name]["n"] == 2
    preds = [json.loads(line) for line in (tmp_path / "o" / "predictions" / f"{name}.jsonl").read_text().splitlines()]
    assert sorted(p["id"] for p in preds) == ["add", "fact"]

"""The shared records and configs: validated on construction, JSONL lines round-trip unchanged."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cpp2py.cli import app
from cpp2py.errors import Cpp2PyError
from cpp2py.schema import (BenchmarkItem, EvaluateConfig, Prediction, ServeConfig, TranslateConfig, read_items)

LINE = {"id": "humaneval-x/0", "cpp": "int f();", "python": "def f(): ...", "test": "assert f() is None",
        "stdin": None, "compare_stdout": False}


def test_a_benchmark_line_round_trips_and_knows_its_oracle():
    item = BenchmarkItem.from_dict(LINE)
    assert item.to_dict() == LINE
    assert item.executable
    bare = BenchmarkItem.from_dict({"id": 7, "cpp": "int x;", "python": "  ", "source": "xlcost"})
    assert bare.id == "7" and bare.python is None and not bare.executable


@pytest.mark.parametrize("rec, msg", [
    ({"cpp": "int x;"}, "needs an \"id\""),
    ({"id": "a", "cpp": "  "}, "non-empty \"cpp\""),
    ({"id": "a", "cpp": "int x;", "test": ["assert 1"]}, "`test` must be a string"),
])
def test_bad_items_are_refused_with_the_record_named(rec, msg):
    with pytest.raises(Cpp2PyError, match=msg):
        BenchmarkItem.from_dict(rec, "b.jsonl: record 3")


def test_read_items_refuses_duplicate_ids_and_empty_files(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_text("".join(json.dumps({"id": i, "cpp": "int x;"}) + "\n" for i in ("a", "b", "a")))
    with pytest.raises(Cpp2PyError, match="id 'a' appears twice"):
        read_items(path)
    path.write_text("")
    with pytest.raises(Cpp2PyError, match="no records"):
        read_items(path)


def test_a_prediction_reads_either_form_and_writes_the_translate_line():
    several = Prediction.from_dict({"id": 1, "predictions": ["a", "b"], "hit_token_cap": True})
    assert several.samples == ["a", "b"] and several.id == "1" and several.hit_token_cap is True
    one = Prediction("x", ["print(1)"], parses=True, hit_token_cap=False, repairs=1, verified=True, seconds=0.123456)
    assert one.to_dict() == {"id": "x", "prediction": "print(1)", "parses": True, "hit_token_cap": False,
                             "repairs": 1, "verified": True, "seconds": 0.1235}
    with pytest.raises(Cpp2PyError, match="must be a string"):
        Prediction.from_dict({"id": "x", "prediction": 3})


@pytest.mark.parametrize("make", [lambda: TranslateConfig(backend="foo"), lambda: ServeConfig(backend="foo"),
                                  lambda: EvaluateConfig(benchmark="b.jsonl", backend="foo")])
def test_an_unknown_backend_is_an_error_in_every_stage(make):
    with pytest.raises(Cpp2PyError, match="--backend: 'foo' is not one of hf, openai"):
        make()


def test_serve_and_evaluate_pass_device_and_dtype_to_the_model_section():
    cfg = ServeConfig(model="m", device="cpu", dtype="int8", port=1)
    assert TranslateConfig(**cfg.model_section()).backend_key() == ("hf", "m", None, "cpu", "int8", False)


@pytest.mark.parametrize("argv", [["serve", "--backend", "foo"], ["evaluate", "--benchmark", "b.jsonl", "--backend", "foo"],
                                  ["translate", "x.cpp", "--backend", "foo"],
                                  ["self-train", "--inputs", "a.jsonl", "--out", "o.jsonl", "--round", "1",
                                   "--no-leak-check", "--backend", "foo"]])
def test_cli_refuses_an_unknown_backend(argv):
    result = CliRunner().invoke(app, argv)
    assert result.exit_code != 0 and isinstance(result.exception, Cpp2PyError), result.output
    assert "--backend" in str(result.exception)

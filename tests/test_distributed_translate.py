"""`cpp2py translate --num-gpus N` end to end: the real translate stage in N spawned processes (CPU here)."""
from __future__ import annotations

from cpp2py.files import read_jsonl, write_jsonl


def test_translate_num_gpus_on_cpu_matches_one_process(tmp_path, tiny_model_dir, monkeypatch):
    """The real worker (translate stage in spawned processes) on CPU: same predictions, input order."""
    from cpp2py.jobs.translate import translate_path
    from cpp2py.schema import TranslateConfig

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    bench = tmp_path / "bench.jsonl"
    write_jsonl(tmp_path / "bench.jsonl", [
        {"id": f"f{i}", "cpp": f"int f{i}(int a) {{ return a + {i}; }}"} for i in range(5)])
    kw = dict(model=str(tiny_model_dir), device="cpu", max_new_tokens=8, retries=0, batch_size=4)
    one = translate_path(str(bench), tmp_path / "one.jsonl", TranslateConfig(**kw))
    two = translate_path(str(bench), tmp_path / "two.jsonl", TranslateConfig(num_gpus=2, **kw))
    strip = lambda path: [(r["id"], r["prediction"]) for r in read_jsonl(path)]  # noqa: E731
    assert [i for i, _ in strip(tmp_path / "two.jsonl")] == [f"f{i}" for i in range(5)]
    assert sorted(strip(tmp_path / "two.jsonl")) == sorted(strip(tmp_path / "one.jsonl"))
    assert two.translated == one.translated == 5 and two.output == str(tmp_path / "two.jsonl")

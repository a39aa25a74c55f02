"""The llama.cpp CPU engine: merging a LoRA adapter into the GGUF, prompt rendering, stopping, backend choice.

Skipped where llama-cpp-python is not installed (it is a source build, kept out of the `test` extra;
install it with `pip install 'cpp2py[cpu]'`).
"""
from __future__ import annotations

import ast
import dataclasses
import json
import os
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")

from cpp2py.generation import model as M  # noqa: E402
from cpp2py import prompt  # noqa: E402
from cpp2py.generation.backends import HFBackend, make_backend, resolved_backend  # noqa: E402
from cpp2py.errors import Cpp2PyError  # noqa: E402
from cpp2py.generation import llamacpp  # noqa: E402
from cpp2py.generation.translator import Translator  # noqa: E402
from cpp2py.schema import TranslateConfig  # noqa: E402

from conftest import CHATML  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def write_gguf(hf_dir: Path, out: Path) -> Path:
    """The tiny transformers Qwen2 model as an F32 GGUF (what convert_hf_to_gguf.py writes for it)."""
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    cfg = json.loads((hf_dir / "config.json").read_text())
    tok = json.loads((hf_dir / "tokenizer.json").read_text())
    n = cfg["num_hidden_layers"]
    w = gguf.GGUFWriter(str(out), "qwen2")
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(n)
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_rope_freq_base(cfg.get("rope_theta", 10000.0))
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    vocab = sorted({**tok["model"]["vocab"], **{t["content"]: t["id"] for t in tok["added_tokens"]}}.items(),
                   key=lambda kv: kv[1])
    specials = {t["content"] for t in tok["added_tokens"]}
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list([t for t, _ in vocab])
    w.add_token_types([gguf.TokenType.CONTROL if t in specials else gguf.TokenType.NORMAL for t, _ in vocab])
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]])
    w.add_eos_token_id(cfg["eos_token_id"])
    w.add_pad_token_id(cfg["pad_token_id"])
    tc = json.loads((hf_dir / "tokenizer_config.json").read_text())
    template = tc.get("chat_template") or ((hf_dir / "chat_template.jinja").read_text()
                                           if (hf_dir / "chat_template.jinja").is_file() else None)
    if template:
        w.add_chat_template(template)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2, n)
    for name, t in load_file(str(hf_dir / "model.safetensors")).items():
        w.add_tensor(names.get_name(name, try_suffixes=(".weight", ".bias")), t.astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_model_dir):
    """(hf dir, its GGUF, a peft LoRA adapter on it whose B matrices are not zero, so it changes the output)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    root = tmp_path_factory.mktemp("tiny-llamacpp")
    gguf_file = write_gguf(tiny_model_dir, root / "tiny.gguf")
    torch.manual_seed(1)
    peft_model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                                LoraConfig(r=4, lora_alpha=8, target_modules="all-linear"))
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    adapter = root / "adapter"
    peft_model.save_pretrained(adapter)
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = str(gguf_file)
    (adapter / "adapter_config.json").write_text(json.dumps(cfg))
    (adapter / "prompt.json").write_text(json.dumps(prompt.prompt_spec("chat")))
    return tiny_model_dir, gguf_file, adapter


def _torch_logits(hf_dir, adapter, ids):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
    if adapter is not None:
        m = PeftModel.from_pretrained(m, str(adapter))
    with torch.no_grad():
        return m(torch.tensor([ids])).logits[0].numpy()


def _llama(gguf_file, **kw):
    """A llama.cpp model loaded with the backend's model parameters (no AMX buffers where the CPU lists AMX)."""
    import llama_cpp

    with llamacpp.model_params(llama_cpp, use_extra_bufts=llamacpp.extra_buffers_safe()):
        return llama_cpp.Llama(str(gguf_file), verbose=False, **kw)


def _llama_logits(gguf_file, ids):
    import numpy as np

    llm = _llama(gguf_file, n_ctx=256, logits_all=True, type_k=0, type_v=0)  # f32 KV
    llm.eval(ids)
    return np.array(llm.scores[:len(ids)])


def _tensors(path: Path) -> dict:
    import gguf

    return {t.name: t for t in gguf.GGUFReader(str(path)).tensors}


def test_merged_lora_gives_the_logits_of_the_peft_model(tiny, tmp_path, monkeypatch):
    import numpy as np

    hf_dir, gguf_file, adapter = tiny
    monkeypatch.setenv("CPP2PY_HOME", str(tmp_path))
    merged = llamacpp.merged_model(adapter, str(gguf_file))
    assert merged.parent == tmp_path / "merged" and merged.suffix == ".gguf"
    ids = [5, 17, 42, 99, 7, 3, 250, 11]
    base_t, base_l = _torch_logits(hf_dir, None, ids), _llama_logits(gguf_file, ids)
    lora_t, lora_l = _torch_logits(hf_dir, adapter, ids), _llama_logits(merged, ids)
    assert np.abs(base_t - base_l).max() < 1e-3
    assert np.abs(lora_t - base_t).max() > 0.1  # the adapter matters, so the next check can fail
    assert np.abs(lora_t - lora_l).max() < 1e-3
    assert "output.weight" in _tensors(merged)  # an untied model keeps its own output matrix
    mtime = merged.stat().st_mtime_ns
    assert llamacpp.merged_model(adapter, str(gguf_file)) == merged and merged.stat().st_mtime_ns == mtime  # reused


def test_merge_into_a_quantised_tied_gguf_keeps_the_adapter(tiny, tmp_path):
    """A Q5_0 base (as the shipped model's 896-wide tensors) whose output matrix is its embedding in Q8_0:
    the changed tensors come out Q8_0 holding the adapter's change, and one embedding matrix is kept."""
    import gguf
    import numpy as np
    from gguf.quants import dequantize, quantize

    _, gguf_file, adapter = tiny
    Q5, Q8 = gguf.GGMLQuantizationType.Q5_0, gguf.GGMLQuantizationType.Q8_0
    reader = gguf.GGUFReader(str(gguf_file))
    quantised = tmp_path / "q5.gguf"
    w = gguf.GGUFWriter(str(quantised), "qwen2")
    for f in reader.fields.values():
        if f.name != "general.architecture" and not f.name.startswith("GGUF."):
            w.add_key_value(f.name, f.contents(), f.types[0],
                            sub_type=f.types[-1] if f.types[0] == gguf.GGUFValueType.ARRAY else None)
    embedding = reader.tensors[[t.name for t in reader.tensors].index("token_embd.weight")].data
    for t in reader.tensors:
        data, kind = np.array(t.data), Q5 if t.data.ndim == 2 else None
        if t.name == "output.weight":
            data, kind = embedding, Q8  # tied: the same matrix, quantised finer for the output
        if kind is None:
            w.add_tensor(t.name, data)
        else:
            q = quantize(data, kind)
            w.add_tensor(t.name, q, raw_shape=q.shape, raw_dtype=kind)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    merged = llamacpp.merge_lora(adapter, quantised, tmp_path / "merged.gguf")
    base, out = _tensors(quantised), _tensors(merged)
    deltas = llamacpp.lora_deltas(adapter, gguf.GGUFReader(str(quantised)))
    assert "output.weight" not in out and out["token_embd.weight"].tensor_type == Q8
    for name, delta in deltas.items():
        assert out[name].tensor_type == Q8
        change = dequantize(out[name].data, Q8) - dequantize(base[name].data, Q5)
        assert float(np.sum(change * delta) / np.sum(delta * delta)) > 0.9, name  # the change survived
    # llama.cpp takes the embedding as output; without logits_all, llama-cpp-python 0.3.36 writes no row of
    # `scores` at all, so reading one would judge whatever the buffer held
    llm = _llama(merged, n_ctx=64, logits_all=True)
    llm.eval([5, 17, 42])
    assert np.isfinite(np.array(llm.scores[: llm.n_tokens])).all()


def test_install_merges_the_shipped_adapter_and_drops_the_base(tiny, tmp_path, monkeypatch):
    import shutil

    _, gguf_file, adapter = tiny
    monkeypatch.setenv("CPP2PY_HOME", str(tmp_path))
    shipped = tmp_path / "default_adapter"
    shutil.copytree(adapter, shipped)
    cfg = json.loads((shipped / "adapter_config.json").read_text())
    (shipped / "adapter_config.json").write_text(json.dumps({**cfg, "base_model_name_or_path": "tiny"}))
    monkeypatch.setattr(M, "registry", lambda: {"tiny": {"gguf_file": "tiny.gguf", "size": gguf_file.stat().st_size,
                                                          "description": "tiny"}})
    monkeypatch.setattr(M, "default_adapter_dir", lambda: shipped)
    monkeypatch.setattr(M, "DEFAULT_BASE", "tiny")
    base = M.gguf_path("tiny", M.registry()["tiny"])
    base.parent.mkdir(parents=True)
    shutil.copy(gguf_file, base)  # installed: no download

    stale = tmp_path / "merged" / "default_adapter-0123456789abcdef.gguf"  # the previous release's merge
    mine = tmp_path / "merged" / "r1-0123456789abcdef.gguf"                 # a merge of the user's own adapter
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    mine.write_bytes(b"mine")
    merged = llamacpp.install("tiny")
    assert merged == llamacpp.default_merge("tiny") and merged.is_file() and not base.exists()
    assert not stale.exists() and mine.exists()
    assert llamacpp.install("tiny") == merged and not base.exists()  # again: no base fetched back
    assert llamacpp.merged_model(shipped, "tiny") == merged  # the backend finds it without the base
    loaded = llamacpp.LlamaCppBackend.load(TranslateConfig(backend="llamacpp", threads=1))
    assert loaded.llama.model_path == str(merged)


@pytest.mark.parametrize("preset, idle, chosen", [(None, 2.0, "ACTIVE"), (None, 0.7, "PASSIVE"), (None, None, "PASSIVE"),
                                                  ("PASSIVE", 2.0, "PASSIVE")])
def test_openmp_threads_spin_only_where_the_cpus_are_idle_unless_told(tiny, monkeypatch, preset, idle, chosen):
    _, gguf_file, _ = tiny
    if preset is None:
        monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    else:
        monkeypatch.setenv("OMP_WAIT_POLICY", preset)
    sampled = []
    monkeypatch.setattr(llamacpp, "idle_cpus", lambda: sampled.append(1) or idle)
    llamacpp.LlamaCppBackend.load(TranslateConfig(backend="llamacpp", model=str(gguf_file), threads=2))
    assert os.environ["OMP_WAIT_POLICY"] == chosen
    assert len(sampled) == (preset is None)  # a policy given is kept without sampling the CPUs


@pytest.mark.parametrize("flags, extra", [({"avx2", "avx512f"}, True), ({"avx512f", "amx_tile", "amx_int8"}, False)])
def test_extra_buffer_types_are_off_where_the_cpu_lists_amx(tiny, monkeypatch, flags, extra):
    import llama_cpp

    _, gguf_file, _ = tiny
    seen, real = [], llama_cpp.Llama
    monkeypatch.setattr(llama_cpp, "Llama", lambda *a, **k: seen.append(
        llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts) or real(*a, **k))
    monkeypatch.setattr(llamacpp, "cpu_flags", lambda: flags)
    llamacpp.LlamaCppBackend.load(TranslateConfig(backend="llamacpp", model=str(gguf_file), threads=1))
    assert seen == [extra]
    assert llama_cpp.llama_cpp.llama_model_default_params().use_extra_bufts  # only that load


def test_cpu_flags_come_from_proc_cpuinfo():
    flags = llamacpp.cpu_flags()
    assert not os.path.exists("/proc/cpuinfo") or "fpu" in flags or "fp" in flags or not flags


def test_idle_cpus_reads_the_processs_own_cpus():
    idle = llamacpp.idle_cpus(0.02)
    assert idle is None or 0 <= idle <= len(os.sched_getaffinity(0)) + 1e-9


def test_lora_for_an_unsupported_adapter_is_refused(tiny, tmp_path):
    _, gguf_file, adapter = tiny
    dora = tmp_path / "dora"
    dora.mkdir()
    for f in adapter.iterdir():
        (dora / f.name).write_bytes(f.read_bytes())
    cfg = json.loads((dora / "adapter_config.json").read_text())
    (dora / "adapter_config.json").write_text(json.dumps({**cfg, "use_dora": True}))
    with pytest.raises(llamacpp.EngineUnsupported, match="only plain LoRA"):
        llamacpp.merge_lora(dora, gguf_file, tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()


def test_chat_template_renders_as_transformers_does(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    msgs = prompt.repair_messages("int main() { return 0; }", "print(1)", "wrong_answer: expected 0")
    assert prompt.render(llamacpp.ChatTemplate(CHATML), msgs, "chat") == prompt.render(tok, msgs, "chat")


def test_greedy_replies_match_the_hf_backend_and_respect_the_budget(tiny, tmp_path, monkeypatch):
    hf_dir, gguf_file, adapter = tiny
    monkeypatch.setenv("CPP2PY_HOME", str(tmp_path))
    convs = [prompt.messages("int add(int a, int b) { return a + b; }"), prompt.messages("int x = 1;")]
    cfg = TranslateConfig(model=str(gguf_file), adapter=str(adapter), backend="llamacpp")
    engine = llamacpp.LlamaCppBackend.load(cfg)
    hf = HFBackend.load(TranslateConfig(model=str(hf_dir), adapter=str(adapter), backend="hf", device="cpu"))
    # a random model never closes a fence: every reply runs to its budget
    replies = engine.generate(convs, decoding=cfg.decoding(), max_new_tokens=12)
    assert all(r.hit_token_cap for r in replies)
    assert replies == hf.generate(convs, decoding=cfg.decoding(batch_size=1), max_new_tokens=12)
    shorter = engine.generate(convs, decoding=cfg.decoding(), max_new_tokens=4)
    assert all(s.hit_token_cap and len(s) < len(r) for r, s in zip(replies, shorter))
    # the same call again reuses the KV cache of the shared prompt prefix and gives the same text
    assert engine.generate(convs[::-1], decoding=cfg.decoding(), max_new_tokens=12) == replies[::-1]


def test_sampled_replies_are_reproducible_from_the_seed(tiny, tmp_path, monkeypatch):
    hf_dir, gguf_file, _ = tiny
    monkeypatch.setenv("CPP2PY_HOME", str(tmp_path))
    a, b = prompt.messages("int add(int a, int b) { return a + b; }"), prompt.messages("int x = 1;")
    sampled = TranslateConfig(model=str(gguf_file), backend="llamacpp", temperature=1.0).decoding()
    engine = llamacpp.LlamaCppBackend.load(TranslateConfig(model=str(gguf_file), backend="llamacpp", threads=1))
    first = engine.generate([a, a, b], decoding=sampled, max_new_tokens=12)
    assert first[0] != first[1]  # copies of one input sample apart
    assert engine.generate([b, a, a], decoding=sampled, max_new_tokens=12) == [first[2], first[0], first[1]]
    assert engine.generate([a], decoding=dataclasses.replace(sampled, seed=1), max_new_tokens=12) != first[:1]
    hf = HFBackend.load(TranslateConfig(model=str(hf_dir), backend="hf", device="cpu"))
    hf_sampled = dataclasses.replace(sampled, batch_size=1)
    assert hf.generate([a, b], decoding=hf_sampled, max_new_tokens=12) == \
        hf.generate([a, b], decoding=hf_sampled, max_new_tokens=12)


def test_auto_picks_the_engine_on_cpu_and_hf_for_hf_only_options(monkeypatch):
    monkeypatch.setattr(llamacpp, "cuda_present", lambda: False)
    auto = {"backend": "auto"}
    assert resolved_backend(TranslateConfig(**auto)) == "llamacpp"
    assert resolved_backend(TranslateConfig(**auto, dtype="int8")) == "hf"
    assert resolved_backend(TranslateConfig(backend="hf")) == "hf"
    assert resolved_backend(TranslateConfig()) == "llamacpp"  # auto is the default backend
    monkeypatch.setattr(llamacpp, "cuda_present", lambda: True)
    assert resolved_backend(TranslateConfig(**auto)) == "hf"
    assert resolved_backend(TranslateConfig(**auto, device="cpu")) == "llamacpp"


def test_auto_falls_back_to_hf_for_a_transformers_model_dir(tiny_model_dir, monkeypatch):
    monkeypatch.setattr(llamacpp, "cuda_present", lambda: False)
    assert isinstance(make_backend(TranslateConfig(model=str(tiny_model_dir), backend="auto")), HFBackend)
    with pytest.raises(Cpp2PyError, match="reads a registered model"):
        make_backend(TranslateConfig(model=str(tiny_model_dir), backend="llamacpp"))


def test_unknown_backend_is_refused():
    with pytest.raises(Cpp2PyError, match="is not one of hf, openai, llamacpp, vllm, auto"):
        TranslateConfig(backend="llama")  # type: ignore[arg-type]


@pytest.mark.real_model
def test_default_model_translates_primes_and_stops_at_the_fence():
    reg = M.registry()
    if not M.gguf_installed(M.DEFAULT_BASE, reg[M.DEFAULT_BASE]):
        pytest.skip("the default model is not installed")
    cfg = TranslateConfig(backend="llamacpp")
    backend = make_backend(cfg)
    result = Translator(backend, cfg).translate_many([(EXAMPLES / "primes.cpp").read_text()])[0]
    assert result.parses and not result.hit_token_cap
    assert result.raw.rstrip().endswith("```")
    assert "primesUpTo" in {n.name for n in ast.parse(result.python).body if isinstance(n, ast.FunctionDef)}


@pytest.mark.real_model
def test_default_model_prompt_is_the_hf_tokenizers():
    from transformers import AutoTokenizer

    if not M.is_installed(M.DEFAULT_BASE):
        pytest.skip("the hf copy of the default model is not installed")
    backend = make_backend(TranslateConfig(backend="llamacpp"))
    tok = AutoTokenizer.from_pretrained(M.installed_dir(M.DEFAULT_BASE))
    msgs = prompt.messages((EXAMPLES / "primes.cpp").read_text())
    text = prompt.render(backend.tokenizer, msgs, "chat")
    assert text == prompt.render(tok, msgs, "chat")
    assert backend.count_tokens(text) == len(tok(text, add_special_tokens=False)["input_ids"])


@pytest.mark.real_model
@pytest.mark.parametrize("verify", [False, True])
def test_every_example_translates_into_what_gpp_prints(tmp_path, verify):
    """Issue 11's bar, on the CPU default: each program in examples/ translated (plain and --verify) prints what
    g++'s binary prints, judged by the oracle built from the C++ (benchmarks/examples_check.py)."""
    import subprocess
    import sys

    reg, merged = M.registry(), llamacpp.default_merge(M.DEFAULT_BASE)
    if not M.gguf_installed(M.DEFAULT_BASE, reg[M.DEFAULT_BASE]) and not (merged and merged.is_file()):
        pytest.skip("the default model is not installed")
    check = EXAMPLES.parent / "benchmarks" / "examples_check.py"
    r = subprocess.run([sys.executable, str(check), *(["--verify"] if verify else []), "--out", str(tmp_path), "--",
                        "--backend", "llamacpp"], capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert r.stdout.count("PASS") == len(list(EXAMPLES.glob("*.cpp")))

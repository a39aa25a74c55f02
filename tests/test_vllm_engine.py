"""``--backend vllm`` without a GPU: vLLM itself is replaced by a stand-in that decodes greedily with the tiny
transformers model and, like vLLM, stops a request only at a stop token or its ``max_tokens``. What is tested is
cpp2py's side: the same prompts, budgets, EOS ids and seeds as the other engines, replies cut at the closing
fence, the adapter merged once into a cached directory, and clear errors. The real engine is measured on a GPU
(benchmarks/translate_speed.py, docs/translation.md)."""
from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from cpp2py import prompt
from cpp2py.errors import Cpp2PyError
from cpp2py.schema import TranslateConfig

ADD = "int add(int a, int b) { return a + b; }"
SOURCES = [ADD, "int f() { return 1; }", "for (int i = 0; i < n; i++) { cout << i << endl; }", "x"]


class FakeSamplingParams:
    def __init__(self, **kw):
        self.__dict__.update(kw)


class FakeLLM:
    """vllm.LLM's surface that cpp2py uses; greedy decoding with transformers, stopping as vLLM does."""

    made: list["FakeLLM"] = []
    scripted: list[list[int]] | None = None  # replies to return instead of decoding

    def __init__(self, model: str, tokenizer: str, **kwargs):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.manual_seed(0)
        self.path, self.kwargs = model, kwargs
        self.model = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
        self.tok = AutoTokenizer.from_pretrained(tokenizer)
        self.llm_engine = types.SimpleNamespace(model_config=types.SimpleNamespace(max_model_len=2048))
        self.calls: list[tuple[list, list]] = []
        FakeLLM.made.append(self)

    def get_tokenizer(self):
        return self.tok

    def generate(self, prompts, params, use_tqdm=True):
        import torch

        self.calls.append((prompts, params))
        outs = []
        for k, (p, sp) in enumerate(zip(prompts, params)):
            if FakeLLM.scripted is not None:
                new = FakeLLM.scripted[k]
            else:
                ids = torch.tensor([p["prompt_token_ids"]])
                with torch.inference_mode():
                    gen = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                              max_new_tokens=sp.max_tokens, eos_token_id=getattr(sp, "stop_token_ids", None),
                                              pad_token_id=self.tok.pad_token_id)
                new = gen[0, ids.shape[1]:].tolist()
            outs.append(types.SimpleNamespace(outputs=[types.SimpleNamespace(token_ids=new)]))
        return outs


@pytest.fixture
def fake_vllm(monkeypatch, tmp_path):
    vllm = types.ModuleType("vllm")
    vllm.LLM, vllm.SamplingParams = FakeLLM, FakeSamplingParams
    inputs = types.ModuleType("vllm.inputs")
    inputs.TokensPrompt = dict
    vllm.inputs = inputs
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.inputs", inputs)
    monkeypatch.setenv("CPP2PY_HOME", str(tmp_path / "home"))
    from cpp2py.generation import vllm_engine

    monkeypatch.setattr(vllm_engine, "gpu_visible", lambda: True)  # the stand-in needs no GPU
    FakeLLM.made, FakeLLM.scripted = [], None
    return vllm


@pytest.fixture
def tiny_adapter(tiny_model_dir, tmp_path) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    adapter = tmp_path / "adapter"
    # init_lora_weights=False: a non-zero B, so merging changes the weights and the replies
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                   LoraConfig(r=2, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM",
                              init_lora_weights=False)).save_pretrained(adapter)
    return adapter


def test_vllm_replies_are_the_eager_engines_replies(fake_vllm, tiny_model_dir):
    """Same prompts, budgets and EOS ids as the hf backend: greedy replies and token-cap flags are equal."""
    from cpp2py.generation.backends import HFBackend
    from cpp2py.generation.vllm_engine import VLLMBackend

    cfg = TranslateConfig(model=str(tiny_model_dir), backend="vllm", device="cuda")
    backend = VLLMBackend.load(cfg)
    hf = HFBackend.load(TranslateConfig(model=str(tiny_model_dir), backend="hf", device="cpu"))
    convs = [prompt.messages(s) for s in SOURCES]
    for budget in (5, None):
        mine = backend.generate(convs, decoding=cfg.decoding(), max_new_tokens=budget)
        eager = hf.generate(convs, decoding=TranslateConfig(batch_size=2).decoding(), max_new_tokens=budget)
        assert mine == eager and [r.hit_token_cap for r in mine] == [r.hit_token_cap for r in eager]
    assert any(r.hit_token_cap for r in backend.generate(convs, decoding=cfg.decoding(), max_new_tokens=5))
    llm = FakeLLM.made[0]
    assert llm.kwargs["generation_config"] == "vllm"  # the checkpoint's sampling defaults stay out
    _, params = llm.calls[0]
    assert all(p.temperature == 0 and p.seed is None and p.detokenize is False for p in params)
    assert all(p.stop_token_ids == sorted(backend.eos_ids) for p in params)


def test_vllm_replies_are_cut_at_the_closing_fence(fake_vllm, tiny_model_dir):
    from cpp2py.generation.vllm_engine import VLLMBackend

    backend = VLLMBackend.load(TranslateConfig(model=str(tiny_model_dir), backend="vllm"))
    tok = backend.tokenizer
    fenced = tok("```python\nprint('hello', end='')\n```", add_special_tokens=False)["input_ids"]
    after = tok("for i in range(n):", add_special_tokens=False)["input_ids"]
    plain = tok("def add(a, b):", add_special_tokens=False)["input_ids"]
    eos = sorted(backend.eos_ids)[0]
    FakeLLM.scripted = [fenced + after + [eos], plain + [eos], plain[:4]]
    replies = backend.generate([prompt.messages(ADD)] * 3, decoding=TranslateConfig().decoding(), max_new_tokens=4)
    assert replies == ["```python\nprint('hello', end='')\n```", "def add(a, b):", tok.decode(plain[:4])]
    assert [r.hit_token_cap for r in replies] == [False, False, True]


def test_vllm_sampling_uses_the_shared_per_conversation_seeds(fake_vllm, tiny_model_dir):
    """Each request samples from the seed every engine gives its conversation: a rerun samples the same,
    copies of one input sample apart."""
    from cpp2py.generation.common import sampling_seeds
    from cpp2py.generation.vllm_engine import VLLMBackend

    cfg = TranslateConfig(model=str(tiny_model_dir), backend="vllm", temperature=0.8, seed=7)
    backend = VLLMBackend.load(cfg)
    convs = [prompt.messages(ADD)] * 2 + [prompt.messages(SOURCES[1])]
    backend.generate(convs, decoding=cfg.decoding(), max_new_tokens=3)
    _, params = FakeLLM.made[0].calls[0]
    assert [p.seed for p in params] == sampling_seeds(convs, 7)
    assert len({p.seed for p in params}) == 3 and all(p.temperature == 0.8 and p.top_p == cfg.top_p for p in params)


def test_an_adapter_is_merged_once_into_a_cached_directory(fake_vllm, tiny_model_dir, tiny_adapter, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from cpp2py.generation.vllm_engine import VLLMBackend

    cfg = TranslateConfig(model=str(tiny_model_dir), adapter=str(tiny_adapter), backend="vllm")
    VLLMBackend.load(cfg)
    merged = Path(FakeLLM.made[0].path)
    assert merged.parent == tmp_path / "home" / "merged-hf" and (merged / "prompt.json").is_file()
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    got = AutoModelForCausalLM.from_pretrained(merged)
    assert not torch.allclose(got.model.layers[0].self_attn.q_proj.weight.float(),
                              base.model.layers[0].self_attn.q_proj.weight)
    stamp = (merged / "config.json").stat().st_mtime_ns
    VLLMBackend.load(cfg)
    assert FakeLLM.made[1].path == str(merged) and (merged / "config.json").stat().st_mtime_ns == stamp


@pytest.mark.parametrize("kwargs,message", [
    (dict(device="cpu"), "runs on CUDA GPUs"),
    (dict(device="cuda:1"), "CUDA_VISIBLE_DEVICES"),
    (dict(load_in_4bit=True), "no --load-in-4bit"),
    (dict(dtype="int8"), "int8 is the CPU path"),
])
def test_vllm_refuses_what_it_cannot_run_before_loading(fake_vllm, tiny_model_dir, kwargs, message):
    from cpp2py.generation.vllm_engine import VLLMBackend

    with pytest.raises(Cpp2PyError, match=message):
        VLLMBackend.load(TranslateConfig(model=str(tiny_model_dir), backend="vllm", **kwargs))
    assert FakeLLM.made == []


def test_vllm_without_a_visible_gpu_says_so(fake_vllm, tiny_model_dir, monkeypatch):
    from cpp2py.generation import vllm_engine
    from cpp2py.generation.vllm_engine import VLLMBackend

    monkeypatch.setattr(vllm_engine, "gpu_visible", lambda: False)
    with pytest.raises(Cpp2PyError, match="needs a CUDA GPU and none is visible"):
        VLLMBackend.load(TranslateConfig(model=str(tiny_model_dir), backend="vllm"))
    assert FakeLLM.made == []


def test_translate_with_vllm_missing_names_the_extra(tmp_path, monkeypatch):
    """Without vllm installed the command says which extra brings it, in one line, exit 1."""
    import subprocess

    src = tmp_path / "a.cpp"
    src.write_text(ADD)
    # a module that fails to import stands in for a missing vllm on machines that have one
    stub = tmp_path / "stub"
    (stub / "vllm").mkdir(parents=True)
    (stub / "vllm" / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'vllm'\", name='vllm')\n")
    env = {**__import__("os").environ, "PYTHONPATH": str(stub)}
    r = subprocess.run([sys.executable, "-m", "cpp2py", "translate", str(src), "--backend", "vllm", "--device", "cuda"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip().splitlines()[-1] == ("error: cpp2py translate needs the vllm extra (vllm is not installed): "
                                                "pip install 'cpp2py[vllm]'")

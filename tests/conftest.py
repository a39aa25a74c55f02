"""Shared fixtures: a tiny random causal LM and tokenizer built locally (no hub), and marker skips."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CORPUS = [
    "int add(int a, int b) { return a + b; }",
    "def add(a, b):\n    return a + b\n",
    "```python\nprint('hello', end='')\n```",
    "for (int i = 0; i < n; i++) { cout << i << endl; }",
    "for i in range(n):\n    print(i)\n",
    "Translate this C++ code to Python: ### C++ ### Python",
]


def build_tiny_model(path: Path, *, chat: bool = True, seed: int = 0) -> Path:
    """A 2-layer Qwen2-architecture model (hidden 32) with a byte-level BPE tokenizer, saved to ``path``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS * 4, trainer)
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>" if chat else "<|endoftext|>", pad_token="<|endoftext|>",
    )
    if chat:
        hf_tok.chat_template = CHATML
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(hf_tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        eos_token_id=hf_tok.eos_token_id, pad_token_id=hf_tok.pad_token_id, tie_word_embeddings=False,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = hf_tok.eos_token_id
    model.generation_config.pad_token_id = hf_tok.pad_token_id
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    hf_tok.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny chat model (ChatML template, EOS = <|im_end|>)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-chat"), chat=True)


@pytest.fixture(scope="session")
def tiny_plain_model_dir(tmp_path_factory) -> Path:
    """A tiny base model without a chat template (EOS = <|endoftext|>)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-plain"), chat=False)


def pytest_collection_modifyitems(config, items):
    import importlib.util

    has_gpu = False
    if importlib.util.find_spec("torch") is not None:
        import torch

        has_gpu = torch.cuda.is_available()
    has_chromium = shutil.which("chromium") is not None or os.path.exists("/usr/bin/chromium")
    for item in items:
        if "gpu" in item.keywords and not has_gpu:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))
        if "browser" in item.keywords and not has_chromium:
            item.add_marker(pytest.mark.skip(reason="needs Chromium (apt-get install chromium)"))

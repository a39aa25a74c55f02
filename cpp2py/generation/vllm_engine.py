"""The GPU scale path: vLLM (continuous batching, a paged KV cache and CUDA graphs, its scheduler off the Python
decode loop) behind the backend interface.

Run as: ``cpp2py translate DIR|B.jsonl -o OUT --backend vllm`` (``pip install 'cpp2py[vllm]'``; CUDA GPUs only).
``--num-gpus N`` runs N such engines, one process per GPU (:mod:`cpp2py.jobs.sharding`): data parallel, which
is what a model of 0.5-1.5B needs (its weights fit one GPU many times over).

vLLM reads a plain transformers directory, so an adapter is folded into its base once and cached
(:func:`cpp2py.generation.model.merged_dir`): no LoRA kernels at decode time, and the weights are the hf
backend's bf16 ones. Replies are the other engines' replies: the same prompt (:func:`cpp2py.prompt.render`),
the same token budget, EOS ids and sampling seeds; vLLM stops a request at EOS or its budget, and the reply is
then cut where its code fence closes (:func:`cpp2py.generation.common.until_stop`), as continuous batching's are.
"""
from __future__ import annotations

import threading
from typing import Any

from cpp2py import prompt
from cpp2py.cancel import raise_if_cancelled
from cpp2py.errors import Cpp2PyError
from cpp2py.generation.common import (Reply, backtick_ids, encode_prompts, eos_ids, reply_budget, sampling_seeds,
                                      until_stop)
from cpp2py.schema import Decoding, ModelConfig


def gpu_visible() -> bool:
    import torch

    return torch.cuda.is_available()


def model_dir(cfg: ModelConfig) -> tuple[str, Any]:
    """(the directory vLLM loads, its prompt style or None): the adapter merged into its base, or the base."""
    from cpp2py.generation import model as model_lib

    base, adapter = model_lib.base_and_adapter(cfg)
    if adapter is None:
        return model_lib.resolve_model(base or model_lib.DEFAULT_BASE), None
    path = model_lib.merged_dir(adapter, base)
    return str(path), model_lib.adapter_style(path)


class VLLMBackend:
    """One ``vllm.LLM`` in this process; every ``generate`` call hands all its requests to it at once."""

    def __init__(self, llm, path: str, style: prompt.Style | None):
        from transformers import GenerationConfig

        self.llm = llm
        self.tokenizer = llm.get_tokenizer()
        self.style = style or prompt.style_for(self.tokenizer)
        try:
            gen = GenerationConfig.from_pretrained(path)
        except OSError:  # a directory without generation_config.json: the tokenizer's EOS alone
            gen = None
        self.eos_ids = eos_ids(self.tokenizer, gen)
        self._backticks = set(backtick_ids(self.tokenizer))
        self._window = int(llm.llm_engine.model_config.max_model_len)
        # vLLM's offline engine is not re-entrant: serve's threads and a library call take turns.
        self._lock = threading.Lock()

    @classmethod
    def load(cls, cfg: ModelConfig, **llm_kwargs: Any) -> "VLLMBackend":
        """``llm_kwargs`` go to ``vllm.LLM`` (e.g. ``gpu_memory_utilization`` when another model shares the GPU)."""
        if cfg.device == "cpu":
            raise Cpp2PyError("--backend vllm runs on CUDA GPUs; on a CPU use --backend llamacpp or hf")
        if cfg.load_in_4bit:
            raise Cpp2PyError("--backend vllm: no --load-in-4bit (a 0.5-1.5B model in bf16 fits any GPU); "
                              "use --backend hf for NF4")
        if cfg.dtype == "int8":
            raise Cpp2PyError("--dtype int8 is the CPU path; --backend vllm runs bf16 or fp16")
        if cfg.device.startswith("cuda:"):
            raise Cpp2PyError("--backend vllm takes the GPUs CUDA_VISIBLE_DEVICES shows; pass --device cuda")
        import vllm

        if not gpu_visible():  # vLLM would fail later, naming a platform rather than the cause
            raise Cpp2PyError("--backend vllm needs a CUDA GPU and none is visible; on a CPU use --backend "
                              "llamacpp or hf")

        path, style = model_dir(cfg)
        kwargs: dict[str, Any] = dict(
            dtype="bfloat16" if cfg.dtype == "auto" else cfg.dtype,
            # the checkpoint's sampling defaults (top_k, repetition_penalty) must not leak into greedy decoding
            generation_config="vllm",
            enable_prefix_caching=True,  # every request starts with the same system prompt
            seed=0,
        )
        return cls(vllm.LLM(model=path, tokenizer=path, **{**kwargs, **llm_kwargs}), path, style)

    @property
    def context_window(self) -> int:
        return self._window

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def inputs_per_call(self, decoding: Decoding) -> int:
        # The scheduler keeps the GPU full only with hundreds of requests queued; a batch job writes its
        # results after each call, so this is also how much an interrupted job can lose.
        return max(decoding.batch_size, 1024)

    def sampling_params(self, budgets: list[int], decoding: Decoding, seeds: list[int]) -> list[Any]:
        """One ``SamplingParams`` per request: greedy or top-p sampling from its own seed, stopping at EOS or
        its budget; tokens only (the reply is decoded here, after its cut at the fence)."""
        from vllm import SamplingParams

        sampled = decoding.temperature > 0
        return [SamplingParams(temperature=decoding.temperature, top_p=decoding.top_p if sampled else 1.0,
                               seed=seed if sampled else None, max_tokens=budget,
                               repetition_penalty=decoding.repetition_penalty,
                               stop_token_ids=sorted(self.eos_ids), detokenize=False)
                for budget, seed in zip(budgets, seeds)]

    def generate(self, conversations: list[list[dict]], *, decoding: Decoding,
                 max_new_tokens: int | None = None) -> list[Reply]:
        from vllm.inputs import TokensPrompt

        raise_if_cancelled()
        ids = encode_prompts(self.tokenizer, conversations, self.style)
        budgets = [reply_budget(self, conv, len(i), decoding, max_new_tokens) for conv, i in zip(conversations, ids)]
        params = self.sampling_params(budgets, decoding, sampling_seeds(conversations, decoding.seed))
        with self._lock:
            outputs = self.llm.generate([TokensPrompt(prompt_token_ids=i) for i in ids], params, use_tqdm=False)
        replies = []
        for out, budget in zip(outputs, budgets):
            new = list(out.outputs[0].token_ids)
            kept, end = until_stop(self.tokenizer, new, self.eos_ids, self._backticks)
            replies.append(Reply(self.tokenizer.decode(kept, skip_special_tokens=True),
                                 hit_token_cap=end is None and len(new) >= budget))
        return replies

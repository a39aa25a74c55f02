"""Generation backends behind one interface: a local transformers model, or any OpenAI-compatible server.

Run as: (library) ``from cpp2py.backends import HFBackend, OpenAIBackend``; users reach them through
``cpp2py translate --backend hf|openai`` (the CPU engine, ``--backend llamacpp``, is in
:mod:`cpp2py.generation.llamacpp`).

A backend turns chat conversations (built by :mod:`cpp2py.prompt`) into raw replies, in input order.
Each reply is a :class:`Reply`, a ``str`` that also records whether it was cut by the token cap.
How to decode (:class:`Decoding`) is passed with every call, not kept by the backend: one loaded model
serves callers with different settings (``serve`` beside a library call, a retry at a higher temperature).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from cpp2py import prompt
from cpp2py.errors import Cpp2PyError

if TYPE_CHECKING:
    from cpp2py.translate import TranslateConfig


class Reply(str):
    """A model's raw reply; ``hit_token_cap`` is True when generation stopped at the token budget."""

    hit_token_cap: bool = False

    def __new__(cls, text: str, hit_token_cap: bool = False) -> "Reply":
        obj = super().__new__(cls, text)
        obj.hit_token_cap = hit_token_cap
        return obj


@dataclass(frozen=True)
class Decoding:
    """How one ``generate`` call decodes; built from a config by ``TranslateConfig.decoding()``."""

    temperature: float       # 0 = greedy; > 0 samples with top_p
    top_p: float
    repetition_penalty: float
    max_new_tokens_cap: int  # the most new tokens an input's budget may reach
    batch_size: int          # hf: sequences per model.generate call
    concurrency: int         # openai: requests in flight
    compile: bool            # hf: static KV cache + compiled decode step


class Backend(Protocol):
    def generate(self, conversations: list[list[dict]], *, decoding: Decoding,
                 max_new_tokens: int | None = None) -> list[str]:
        """Raw replies to ``conversations``, same order. ``None`` budgets scale with each input."""
        ...

    def count_tokens(self, text: str) -> int: ...

    @property
    def context_window(self) -> int: ...


def _source_of(conversation: list[dict]) -> str:
    """The first user turn: what the budget of new tokens scales with (the C++ being translated)."""
    return next(m["content"] for m in conversation if m["role"] == "user")


def token_budget(input_tokens: int, cap: int) -> int:
    """New tokens allowed for an input of ``input_tokens``: Python is rarely over twice the C++ length,
    so 2x + 64 leaves room for a correct answer while a model that never stops is cut early."""
    return max(16, min(cap, 2 * input_tokens + 64))


def reply_budget(backend: Backend, conversation: list[dict], prompt_tokens: int, decoding: Decoding,
                 max_new_tokens: int | None) -> int:
    """New tokens one reply may take: the caller's fixed cap, else scaled to the C++ being translated;
    never past the end of the backend's context window."""
    wanted = max_new_tokens or token_budget(backend.count_tokens(_source_of(conversation)),
                                            decoding.max_new_tokens_cap)
    return min(wanted, max(1, backend.context_window - prompt_tokens))


class _StopAtFenceOrBudget:
    """Per-row stopping for batched generation: EOS, the closing ``` of the code block, or the row's budget.

    Rows stop independently (a BoolTensor per row), so one long item does not make the short ones in its
    batch run on. Decoding happens only when a row's newest token holds a backtick, keeping it cheap.
    """

    def __init__(self, tokenizer, prompt_len: int, budgets: list[int], eos_ids: set[int], backtick_ids):
        import torch

        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.budgets = budgets
        self.eos = torch.tensor(sorted(eos_ids))
        self.backtick_ids = backtick_ids
        self.done: Any = None
        self.hit_cap = [False] * len(budgets)

    def __call__(self, input_ids, scores=None, **kwargs):
        import torch

        if self.done is None:
            self.done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
            self.eos = self.eos.to(input_ids.device)
            self.backtick_ids = self.backtick_ids.to(input_ids.device)
        last = input_ids[:, -1]
        n_new = input_ids.shape[1] - self.prompt_len
        newly = ~self.done & torch.isin(last, self.eos)
        maybe_fence = (~self.done & ~newly & torch.isin(last, self.backtick_ids)).nonzero().flatten().tolist()
        for row in maybe_fence:
            text = self.tokenizer.decode(input_ids[row, self.prompt_len:], skip_special_tokens=True)
            if text.count("```") >= 2:
                newly[row] = True
        for row in (~self.done & ~newly).nonzero().flatten().tolist():
            if n_new >= self.budgets[row]:
                newly[row] = True
                self.hit_cap[row] = True
        self.done |= newly
        return self.done.clone()


class HFBackend:
    """A transformers causal LM (optionally with a peft adapter), generating in length-sorted batches.

    Left padding so that every row's prompt ends at the same position; greedy unless a temperature is
    set; stops at the tokenizer's EOS and the generation config's EOS ids, and at the closing fence.
    """

    def __init__(self, model, tokenizer, style: prompt.Style):
        import torch
        from transformers import GenerationConfig

        self.model, self.tokenizer, self.style = model, tokenizer, style
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        eos: set[int] = set()
        for ids in (tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
            eos.update([ids] if isinstance(ids, int) else list(ids or []))
        if not eos:
            raise Cpp2PyError("model: neither the tokenizer nor the generation config names an EOS token")
        self.eos_ids = eos
        # A clean generation config: a checkpoint's sampling defaults (top_k, repetition_penalty...) must
        # not leak into greedy decoding; what we decode with is what each call's Decoding says.
        # (set on the transformers model itself: a peft wrapper's generate() reads the inner model's config)
        inner = model.get_base_model() if hasattr(model, "get_base_model") else model
        inner.generation_config = GenerationConfig(
            eos_token_id=sorted(eos), pad_token_id=tokenizer.pad_token_id,
            bos_token_id=getattr(model.generation_config, "bos_token_id", None),
        )
        vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        self.backtick_ids = torch.tensor([i for i, t in enumerate(vocab) if t and "`" in t], dtype=torch.long)
        self.model.eval()

    @classmethod
    def load(cls, cfg: "TranslateConfig") -> "HFBackend":
        from cpp2py import model as model_lib

        base, adapter = cfg.resolved_model()
        device = cfg.resolved_device()
        dtype = cfg.dtype
        if dtype == "auto":
            # bf16 halves memory traffic on GPUs; on CPU fp32 measured faster on 2 cores (docs/translation.md).
            dtype = "bfloat16" if device.startswith("cuda") else "float32"
        int8 = dtype == "int8"
        if int8 and device != "cpu":
            raise Cpp2PyError("dtype int8 is the CPU path (torch dynamic quantisation); on a GPU use --load-in-4bit")
        model, tokenizer, style = model_lib.load_adapter_model(
            adapter, base=base, quantization="nf4" if cfg.load_in_4bit else "none",
            dtype="float32" if int8 else dtype, device_map={"": device} if device != "cpu" else None,
        )
        if int8:
            import torch

            # CPU decoding is bound by reading the weights: int8 Linear weights (fbgemm) read a quarter of
            # fp32's bytes. load_adapter_model has already folded LoRA in, so the merged weights get quantised.
            # One scale per output channel, not per tensor: as fast, and closer to fp32 (docs/translation.md).
            from torch.ao.quantization import per_channel_dynamic_qconfig

            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig},
                                                           dtype=torch.qint8)
        return cls(model, tokenizer, style)

    @property
    def context_window(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 4096))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(self, conversations: list[list[dict]], *, decoding: Decoding,
                 max_new_tokens: int | None = None) -> list[Reply]:
        import torch

        texts = [prompt.render(self.tokenizer, conv, self.style) for conv in conversations]
        # A chat template already holds its special tokens; a plain prompt needs the tokenizer's BOS.
        add_special = self.style == "plain"
        ids = [self.tokenizer(t, add_special_tokens=add_special)["input_ids"] for t in texts]
        budgets = [reply_budget(self, conv, len(i), decoding, max_new_tokens) for conv, i in zip(conversations, ids)]
        order = sorted(range(len(texts)), key=lambda k: -len(ids[k]))  # longest first: OOM shows up early
        out: list[Reply | None] = [None] * len(texts)
        bs = max(1, decoding.batch_size)
        with torch.inference_mode():
            for s in range(0, len(order), bs):
                rows = order[s:s + bs]
                for row, reply in zip(rows, self._generate_batch([ids[r] for r in rows],
                                                                   [budgets[r] for r in rows], decoding)):
                    out[row] = reply
        return out  # type: ignore[return-value]

    def _generate_batch(self, ids: list[list[int]], budgets: list[int], decoding: Decoding) -> list[Reply]:
        import torch
        from transformers import StoppingCriteriaList

        batch = self.tokenizer.pad({"input_ids": ids}, padding=True, return_tensors="pt")
        device = next(self.model.parameters()).device
        input_ids = batch["input_ids"].to(device)
        prompt_len = input_ids.shape[1]
        stop = _StopAtFenceOrBudget(self.tokenizer, prompt_len, budgets, self.eos_ids, self.backtick_ids)
        kwargs: dict[str, Any] = dict(do_sample=False)
        if decoding.temperature > 0:
            kwargs = dict(do_sample=True, temperature=decoding.temperature, top_p=decoding.top_p)
        if decoding.compile:
            # A static KV cache lets transformers compile the decode step (CUDA graphs): at batch 1 a
            # 0.5B model is bound by kernel launches, not by memory bandwidth, without it.
            kwargs["cache_implementation"] = "static"
        gen = self.model.generate(
            input_ids=input_ids, attention_mask=batch["attention_mask"].to(device),
            max_new_tokens=max(budgets), stopping_criteria=StoppingCriteriaList([stop]),
            repetition_penalty=decoding.repetition_penalty, **kwargs,
        )
        replies = []
        for row in range(len(ids)):
            new = gen[row, prompt_len:].tolist()
            cut = next((k for k, t in enumerate(new) if t in self.eos_ids), len(new))
            text = self.tokenizer.decode(new[:cut], skip_special_tokens=True)
            replies.append(Reply(text, hit_token_cap=stop.hit_cap[row]))
        return replies


def _first_env(*names: str) -> str | None:
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


class OpenAIBackend:
    """Any OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp server, Ollama, ``cpp2py serve``).

    Requests run concurrently on a thread pool; the reply order matches the input order. The base URL,
    model and key come from the config, else from CPP2PY_BASE_URL/OPENAI_BASE_URL, CPP2PY_MODEL,
    CPP2PY_API_KEY/OPENAI_API_KEY.
    """

    def __init__(self, cfg: "TranslateConfig"):
        try:
            import openai
        except ImportError:
            raise Cpp2PyError("the openai backend needs the openai package: pip install 'cpp2py[openai]'") from None
        self.base_url = cfg.base_url or _first_env("CPP2PY_BASE_URL", "OPENAI_BASE_URL")
        self.model = cfg.model or _first_env("CPP2PY_MODEL") or "gpt-4o-mini"
        key = _first_env(cfg.api_key_env, "CPP2PY_API_KEY", "OPENAI_API_KEY")
        if key is None and self.base_url is None:
            raise Cpp2PyError(f"openai backend: no API key (set {cfg.api_key_env} or OPENAI_API_KEY), "
                              "or pass --base-url for a local server")
        # Local servers (vLLM, llama.cpp, Ollama) ignore the key, but the client insists on one.
        self.client = openai.OpenAI(base_url=self.base_url, api_key=key or "no-key",
                                    timeout=cfg.request_timeout, max_retries=2)
        self._openai = openai
        self._context_window = cfg.context_window

    @property
    def context_window(self) -> int:
        return self._context_window or 32768

    def count_tokens(self, text: str) -> int:
        # No tokenizer for a remote model: about 3 characters per token for code errs on the long side.
        return len(text) // 3 + 1

    def generate(self, conversations: list[list[dict]], *, decoding: Decoding,
                 max_new_tokens: int | None = None) -> list[Reply]:
        def one(conv: list[dict]) -> Reply:
            budget = max_new_tokens or token_budget(self.count_tokens(_source_of(conv)), decoding.max_new_tokens_cap)
            return self._request(conv, budget, decoding)

        with ThreadPoolExecutor(max_workers=max(1, decoding.concurrency)) as pool:
            return list(pool.map(one, conversations))

    def _request(self, conv: list[dict], budget: int, decoding: Decoding) -> Reply:
        openai = self._openai
        where = self.base_url or "api.openai.com"
        try:
            resp = self.client.chat.completions.create(
                model=self.model, messages=conv, max_tokens=budget, temperature=decoding.temperature,
                top_p=decoding.top_p if decoding.temperature > 0 else 1.0,
            )
        except openai.AuthenticationError:
            raise Cpp2PyError(f"{where}: the API key was rejected (401)") from None
        except openai.NotFoundError:
            raise Cpp2PyError(f"{where}: model {self.model!r} or the chat endpoint was not found (404)") from None
        except openai.APIConnectionError as e:
            raise Cpp2PyError(f"{where}: cannot reach the endpoint ({e.__cause__ or e})") from None
        except openai.APIStatusError as e:
            raise Cpp2PyError(f"{where}: server answered {e.status_code}: {str(e.message)[:200]}") from None
        choice = resp.choices[0]
        return Reply(choice.message.content or "", hit_token_cap=choice.finish_reason == "length")

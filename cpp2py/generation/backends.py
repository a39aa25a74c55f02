"""Generation backends behind one interface: a local transformers model, or any OpenAI-compatible server.

Run as: (library) ``from cpp2py.generation.backends import HFBackend, OpenAIBackend``; users reach them through
``cpp2py translate --backend hf|openai`` (hf: ``--engine auto|eager|static|cb``; the CPU engine,
``--backend llamacpp``, is in :mod:`cpp2py.generation.llamacpp`, the GPU scale path, ``--backend vllm``, in
:mod:`cpp2py.generation.vllm_engine`).

A backend turns chat conversations (built by :mod:`cpp2py.prompt`) into raw replies, in input order.
Each reply is a :class:`Reply`, a ``str`` that also records whether it was cut by the token cap.
How to decode (:class:`Decoding`) is passed with every call, not kept by the backend: one loaded model
serves callers with different settings (``serve`` beside a library call, a retry at a higher temperature).
"""
from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from cpp2py import prompt
from cpp2py.cancel import current_check, raise_if_cancelled
from cpp2py.errors import Cpp2PyError
from cpp2py.lru import LRU
from cpp2py.generation.common import (Reply, backtick_ids, encode_prompts, eos_ids, fence_closed, reply_budget,
                                      sampling_seeds, source_of, token_budget, until_stop)
from cpp2py.generation.model import base_and_adapter
from cpp2py.schema import Decoding, ModelConfig


class Backend(Protocol):
    def generate(self, conversations: list[list[dict]], *, decoding: Decoding,
                 max_new_tokens: int | None = None) -> list[str]:
        """Raw replies to ``conversations``, same order. ``None`` budgets scale with each input."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def inputs_per_call(self, decoding: Decoding) -> int:
        """How many inputs a batch job hands to one ``generate`` call (and writes out after it)."""
        ...

    @property
    def context_window(self) -> int: ...


# Each loaded model holds its weights; a long-running serve beside library calls keeps the last two.
_BACKENDS: LRU[Any] = LRU(maxsize=2)


def make_backend(cfg: ModelConfig) -> Backend:
    """The backend ``cfg`` asks for, loaded once per process (``serve`` and repeated library calls share it).
    ``auto`` falls back to hf when the llama.cpp engine cannot run the model (e.g. a safetensors dir)."""
    return _BACKENDS.setdefault(backend_key(cfg), lambda: _load_backend(cfg))


def resolved_backend(cfg: ModelConfig) -> str:
    """``auto``: the llama.cpp engine when it is installed and suits ``cfg`` (CPU, no hf-only option), else hf."""
    if cfg.backend != "auto":
        return cfg.backend
    from cpp2py.generation import llamacpp

    return "llamacpp" if llamacpp.suits(cfg) else "hf"


def backend_key(cfg: ModelConfig) -> tuple:
    """What identifies a loaded backend: two configs with the same key share one model in memory."""
    if resolved_backend(cfg) == "llamacpp":
        # auto keeps its own entry: where it fell back to hf, an explicit llamacpp must still fail
        return ("llamacpp", cfg.backend, cfg.model, cfg.adapter, cfg.threads)
    return cfg.backend_key()


def _load_backend(cfg: ModelConfig) -> Backend:
    if cfg.backend == "openai":
        return OpenAIBackend(cfg)
    if cfg.backend == "vllm":
        from cpp2py.generation.vllm_engine import VLLMBackend

        return VLLMBackend.load(cfg)
    if resolved_backend(cfg) == "llamacpp":
        from cpp2py.generation.llamacpp import EngineUnsupported, LlamaCppBackend

        try:
            return LlamaCppBackend.load(cfg)
        except EngineUnsupported as e:
            if cfg.backend == "llamacpp":
                raise
            print(f"note: {e}; using the hf backend", file=sys.stderr)
    return HFBackend.load(cfg)



def resolve_device(device: str) -> str:
    """``auto`` -> cuda when a GPU is visible, else cpu; anything else as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"





class _StopAtFenceOrBudget:
    """Per-row stopping for batched generation: EOS, the closing ``` of the code block, or the row's budget.

    Rows stop independently (a BoolTensor per row), so one long item does not make the short ones in its
    batch run on. Decoding happens only when a row's newest token holds a backtick, keeping it cheap.
    A cancelled caller (:mod:`cpp2py.cancel`) aborts the whole call at the next step.
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
        self.cancelled = current_check()

    def __call__(self, input_ids, scores=None, **kwargs):
        import torch

        raise_if_cancelled(self.cancelled)
        if self.done is None:
            self.done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
            self.eos = self.eos.to(input_ids.device)
            self.backtick_ids = self.backtick_ids.to(input_ids.device)
        last = input_ids[:, -1]
        n_new = input_ids.shape[1] - self.prompt_len
        newly = ~self.done & torch.isin(last, self.eos)
        maybe_fence = (~self.done & ~newly & torch.isin(last, self.backtick_ids)).nonzero().flatten().tolist()
        for row in maybe_fence:
            if fence_closed(self.tokenizer, input_ids[row, self.prompt_len:]):
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
        eos = eos_ids(tokenizer, model.generation_config)
        self.eos_ids = eos
        # A clean generation config: a checkpoint's sampling defaults (top_k, repetition_penalty...) must
        # not leak into greedy decoding; what we decode with is what each call's Decoding says.
        # (set on the transformers model itself: a peft wrapper's generate() reads the inner model's config)
        inner = model.get_base_model() if hasattr(model, "get_base_model") else model
        inner.generation_config = GenerationConfig(
            eos_token_id=sorted(eos), pad_token_id=tokenizer.pad_token_id,
            bos_token_id=getattr(model.generation_config, "bos_token_id", None),
        )
        self.backtick_ids = torch.tensor(backtick_ids(tokenizer), dtype=torch.long)
        self._backticks = set(self.backtick_ids.tolist())
        self.model.eval()
        self._cb_key: tuple | None = None  # the sampling settings the cached continuous-batching manager has
        # One manager, one generation thread: two callers sharing this backend (serve beside a library call)
        # take turns instead of starting and stopping it under each other.
        self._cb_lock = threading.Lock()
        # Continuous batching stops a request at EOS or its budget only; the closing fence is found afterwards.
        # What that costs: tokens generated after the fence, out of all generated (benchmarks read these).
        self.cb_tokens = {"generated": 0, "after_fence": 0}

    @classmethod
    def load(cls, cfg: ModelConfig) -> "HFBackend":
        from cpp2py.generation import model as model_lib

        base, adapter = base_and_adapter(cfg)
        device = resolve_device(cfg.device)
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

    def inputs_per_call(self, decoding: Decoding) -> int:
        # Continuous batching refills the running batch from its queue: it needs hundreds of requests in
        # flight to keep a GPU busy, where eager batches need only one batch.
        return max(decoding.batch_size, 256) if self.engine_for(decoding) == "cb" else decoding.batch_size

    def engine_for(self, decoding: Decoding) -> str:
        """The engine a call runs on. ``auto`` is eager batches: on one H200 continuous batching was 1.17x
        faster on 449 XLCoST items but 1.9x slower on HumanEval-X's 164 and 4x slower at batch 1
        (benchmarks/results/translate_speed_cb_h200.json), so it is opt-in (``cb``), and it cannot run an
        unmerged (4-bit) adapter or a repetition penalty."""
        from transformers.generation.continuous_batching import ContinuousMixin

        plain = isinstance(self.model, ContinuousMixin)  # a peft wrapper (4-bit, adapter not folded) is not
        if decoding.engine == "cb" and not plain:
            raise Cpp2PyError("--engine cb: needs the adapter folded into the weights; with --load-in-4bit use "
                              "--engine eager")
        if decoding.engine == "cb" and decoding.repetition_penalty != 1.0:
            raise Cpp2PyError("--engine cb: no repetition penalty in continuous batching; use --engine eager")
        return "eager" if decoding.engine == "auto" else decoding.engine

    def generate(self, conversations: list[list[dict]], *, decoding: Decoding,
                 max_new_tokens: int | None = None) -> list[Reply]:
        import torch

        engine = self.engine_for(decoding)
        ids = encode_prompts(self.tokenizer, conversations, self.style)
        budgets = [reply_budget(self, conv, len(i), decoding, max_new_tokens) for conv, i in zip(conversations, ids)]
        if decoding.temperature > 0:
            # transformers samples from torch's global generator: seeded per call, a rerun of the same job
            # samples the same (rows of one batch still share the generator, so a row depends on its batch)
            torch.manual_seed(decoding.seed)
        if engine == "cb":
            replies = []
            for new, budget in zip(self.cb_generate(ids, budgets, decoding), budgets):
                kept, end = self._until_stop(new)
                self.cb_tokens["generated"] += len(new)
                self.cb_tokens["after_fence"] += len(new) - len(kept) - (end == "eos")
                replies.append(Reply(self.tokenizer.decode(kept, skip_special_tokens=True),
                                     hit_token_cap=end is None and len(new) >= budget))
            return replies
        order = sorted(range(len(ids)), key=lambda k: -len(ids[k]))  # longest first: OOM shows up early
        out: list[Reply | None] = [None] * len(ids)
        bs = max(1, decoding.batch_size)
        with torch.inference_mode():
            for s in range(0, len(order), bs):
                raise_if_cancelled()
                rows = order[s:s + bs]
                for row, reply in zip(rows, self._generate_batch([ids[r] for r in rows], [budgets[r] for r in rows],
                                                                   decoding, static=engine == "static")):
                    out[row] = reply
        return out  # type: ignore[return-value]

    def _until_stop(self, new: list[int]) -> tuple[list[int], str | None]:
        """:func:`until_stop` with this model's ids; the rule _StopAtFenceOrBudget applies."""
        return until_stop(self.tokenizer, new, self.eos_ids, self._backticks)

    def cb_generate(self, ids: list[list[int]], budgets: list[int], decoding: Decoding, *,
                    stop_at_eos: bool = True) -> list[list[int]]:
        """New tokens for each prompt from transformers' continuous batching, in input order: requests join
        and leave the running batch as they start and finish (no padding, no waiting for a batch's longest
        row). A request stops at EOS (unless ``stop_at_eos`` is off) or at its budget."""
        import torch

        with self._cb_lock, torch.inference_mode():
            manager = self._cb_manager(decoding)
            eos = sorted(self.eos_ids) if stop_at_eos else -1
            manager.start()
            try:
                wanted = [manager.add_request(i, max_new_tokens=b, eos_token_id=eos) for i, b in zip(ids, budgets)]
                mine = set(wanted)
                done: dict[str, list[int]] = {}
                while len(done) < len(wanted):
                    result = manager.get_result(timeout=1)
                    if result is None:
                        if not manager.is_running():
                            raise Cpp2PyError("continuous batching: the generation thread stopped with "
                                              f"{len(wanted) - len(done)} requests unfinished (see the log above)")
                        continue
                    if result.error is not None:
                        raise Cpp2PyError(f"continuous batching: request {result.request_id} failed: {result.error}")
                    if result.request_id in mine and result.is_finished():
                        done[result.request_id] = list(result.generated_tokens)
            finally:
                # The generation thread is not a daemon: left running, it would keep the process from
                # exiting. Kept for the next session, the manager keeps its KV cache and CUDA graphs.
                manager.stop(block=True, keep_for_next_session=True)
        return [done[r] for r in wanted]

    def _cb_manager(self, decoding: Decoding):
        """The continuous-batching manager for this call's sampling settings: transformers keeps one
        cached on the model (init_continuous_batching returns it and re-selects its attention kernels);
        other settings need a new one, since greedy-or-sampling is fixed per manager."""
        import gc

        import torch
        from transformers import ContinuousBatchingConfig, GenerationConfig

        key = (decoding.temperature, decoding.top_p)
        if self._cb_key not in (None, key):
            self.model.destroy_cached_continuous_batching_manager()
            # The new manager sizes its KV cache from free memory: the old cache must be gone first.
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        self._cb_key = key
        sampling: dict[str, Any] = dict(do_sample=False)
        if decoding.temperature > 0:
            sampling = dict(do_sample=True, temperature=decoding.temperature, top_p=decoding.top_p)
        gen = GenerationConfig(eos_token_id=sorted(self.eos_ids), pad_token_id=self.tokenizer.pad_token_id,
                               max_new_tokens=decoding.max_new_tokens_cap, **sampling)
        cb: dict[str, Any] = {}
        if next(self.model.parameters()).device.type == "cpu":
            # Sized from free memory otherwise, which on a shared CPU host is most of the RAM.
            cb = dict(num_blocks=64, page_size=64, max_batch_tokens=1024)
        manager = self.model.init_continuous_batching(generation_config=gen,
                                                      continuous_batching_config=ContinuousBatchingConfig(**cb))
        if not manager.warmed_up:
            manager.warmup()
        return manager

    def _generate_batch(self, ids: list[list[int]], budgets: list[int], decoding: Decoding, *,
                        static: bool) -> list[Reply]:
        from transformers import StoppingCriteriaList

        batch = self.tokenizer.pad({"input_ids": ids}, padding=True, return_tensors="pt")
        device = next(self.model.parameters()).device
        input_ids = batch["input_ids"].to(device)
        prompt_len = input_ids.shape[1]
        stop = _StopAtFenceOrBudget(self.tokenizer, prompt_len, budgets, self.eos_ids, self.backtick_ids)
        kwargs: dict[str, Any] = dict(do_sample=False)
        if decoding.temperature > 0:
            kwargs = dict(do_sample=True, temperature=decoding.temperature, top_p=decoding.top_p)
        if static:
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
            kept, _ = self._until_stop(gen[row, prompt_len:].tolist())
            replies.append(Reply(self.tokenizer.decode(kept, skip_special_tokens=True), hit_token_cap=stop.hit_cap[row]))
        return replies


def _first_env(*names: str) -> str | None:
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


class OpenAIBackend:
    """Any OpenAI-compatible chat endpoint (OpenAI, vLLM, llama.cpp server, Ollama, ``cpp2py serve``).

    Requests run concurrently on a thread pool; the reply order matches the input order. The base URL,
    model and key come from the config, else from CPP2PY_BASE_URL/OPENAI_BASE_URL, CPP2PY_MODEL,
    CPP2PY_API_KEY/OPENAI_API_KEY.
    """

    def __init__(self, cfg: ModelConfig):
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

    def inputs_per_call(self, decoding: Decoding) -> int:
        return decoding.concurrency * 2

    def generate(self, conversations: list[list[dict]], *, decoding: Decoding,
                 max_new_tokens: int | None = None) -> list[Reply]:
        cancelled = current_check()  # the pool's threads do not inherit the caller's scope

        def one(conv: list[dict], seed: int) -> Reply:
            raise_if_cancelled(cancelled)
            budget = max_new_tokens or token_budget(self.count_tokens(source_of(conv)), decoding.max_new_tokens_cap)
            return self._request(conv, budget, decoding, seed)

        with ThreadPoolExecutor(max_workers=max(1, decoding.concurrency)) as pool:
            return list(pool.map(one, conversations, sampling_seeds(conversations, decoding.seed)))

    def _request(self, conv: list[dict], budget: int, decoding: Decoding, seed: int) -> Reply:
        openai = self._openai
        where = self.base_url or "api.openai.com"
        # the server's seed makes sampling repeatable where it honours one (vLLM, OpenAI: best effort)
        sampled = dict(top_p=decoding.top_p, seed=seed) if decoding.temperature > 0 else dict(top_p=1.0)
        try:
            resp = self.client.chat.completions.create(
                model=self.model, messages=conv, max_tokens=budget, temperature=decoding.temperature, **sampled,
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

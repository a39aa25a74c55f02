"""What every generation backend shares: the reply type, the budget of new tokens, and the error an engine raises
for a model it cannot run.

Kept apart from :mod:`cpp2py.generation.backends` so that an engine module (llamacpp.py) can use it while
backends.py picks among the engines.
"""
from __future__ import annotations

import json
import zlib
from collections import Counter
from typing import Any

from cpp2py import prompt
from cpp2py.errors import Cpp2PyError
from cpp2py.schema import Decoding


class Reply(str):
    """A model's raw reply; ``hit_token_cap`` is True when generation stopped at the token budget."""

    hit_token_cap: bool = False

    def __new__(cls, text: str, hit_token_cap: bool = False) -> "Reply":
        obj = super().__new__(cls, text)
        obj.hit_token_cap = hit_token_cap
        return obj


def sampling_seeds(conversations: list[list[dict]], seed: int) -> list[int]:
    """A seed per conversation for sampled decoding, from the call's ``seed``, the conversation itself and how
    many identical ones came before it in the call: a rerun samples the same translations, an input samples
    the same whatever else is in its batch, and copies of one input (``num_samples``, ``--verify``'s candidates)
    sample apart."""
    seen: Counter = Counter()
    seeds = []
    for conv in conversations:
        key = json.dumps(conv, sort_keys=True)
        seeds.append(zlib.crc32(f"{seed}|{seen[key]}|{key}".encode("utf-8")))
        seen[key] += 1
    return seeds


def source_of(conversation: list[dict]) -> str:
    """The first user turn: what the budget of new tokens scales with (the C++ being translated)."""
    return next(m["content"] for m in conversation if m["role"] == "user")


def token_budget(input_tokens: int, cap: int) -> int:
    """New tokens allowed for an input of ``input_tokens``: Python is rarely over twice the C++ length,
    so 2x + 64 leaves room for a correct answer while a model that never stops is cut early."""
    return max(16, min(cap, 2 * input_tokens + 64))


def reply_budget(backend: Any, conversation: list[dict], prompt_tokens: int, decoding: Decoding,
                 max_new_tokens: int | None) -> int:
    """New tokens one reply may take: the caller's fixed cap, else scaled to the C++ being translated;
    never past the end of the backend's context window."""
    wanted = max_new_tokens or token_budget(backend.count_tokens(source_of(conversation)),
                                            decoding.max_new_tokens_cap)
    return min(wanted, max(1, backend.context_window - prompt_tokens))


def encode_prompts(tokenizer, conversations: list[list[dict]], style) -> list[list[int]]:
    """Each conversation's prompt (:func:`cpp2py.prompt.render`) as a transformers tokenizer's ids. A chat
    template already holds its special tokens; a plain prompt needs the tokenizer's BOS."""
    return [tokenizer(prompt.render(tokenizer, conv, style), add_special_tokens=style == "plain")["input_ids"]
            for conv in conversations]


def eos_ids(tokenizer, generation_config=None) -> set[int]:
    """The ids that end a reply: the tokenizer's EOS and the generation config's (chat models add their
    end-of-turn token there)."""
    ids: set[int] = set()
    for found in (tokenizer.eos_token_id, getattr(generation_config, "eos_token_id", None)):
        ids.update([found] if isinstance(found, int) else list(found or []))
    if not ids:
        raise Cpp2PyError("model: neither the tokenizer nor the generation config names an EOS token")
    return ids


def backtick_ids(tokenizer) -> list[int]:
    """Token ids whose text holds a backtick: only after one of these can a reply's code fence close."""
    vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    return [i for i, t in enumerate(vocab) if t and "`" in t]


def fence_closed(tokenizer, new_ids) -> bool:
    """Whether the reply so far holds the closing ``` of its code block (the opening one plus one more)."""
    return tokenizer.decode(new_ids, skip_special_tokens=True).count("```") >= 2


def until_stop(tokenizer, new: list[int], eos: set[int], backticks: set[int]) -> tuple[list[int], str | None]:
    """The reply's tokens up to its first EOS (dropped) or up to the token that closes its code fence
    (kept), and which of the two ended it ("eos", "fence", None). Engines that stop only at EOS or the
    budget (continuous batching, vLLM) cut their replies here, so they read as the eager engine's."""
    for k, t in enumerate(new):
        if t in eos:
            return new[:k], "eos"
        if t in backticks and fence_closed(tokenizer, new[:k + 1]):
            return new[:k + 1], "fence"
    return new, None


class EngineUnsupported(Cpp2PyError):
    """This engine cannot run the requested model; ``--backend auto`` then falls back to hf."""

"""Padding-free attention for training: FlashAttention-2's variable-length kernel, the copy inside PyTorch.

Set ``attn_implementation: cpp2py_varlen`` in a training config with ``batch.packing`` or ``batch.padding_free``.

trl's padding-free batches are one row of concatenated examples, with the example boundaries in
``cu_seq_lens_q/k``. Under ``sdpa``, transformers turns that row into a dense (T, T) block-diagonal mask and
the memory-efficient kernel computes all T² scores, most of them masked out (a packed row of 8 × 512 tokens
does 8× the attention work of its examples). The varlen kernel computes each example's own causal triangle.
It needs no flash-attn package: PyTorch's CUDA build ships the kernel (``aten._flash_attention_forward``,
with autograd). Batches without boundaries (a padded batch) go to ``sdpa`` unchanged, with its mask.
"""
from __future__ import annotations

from typing import Any

NAME = "cpp2py_varlen"


def register() -> None:
    """Make ``NAME`` a valid ``attn_implementation`` for transformers' models (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(NAME, varlen_attention_forward)
    AttentionMaskInterface.register(NAME, _mask)


def _mask(*args: Any, **kwargs: Any) -> Any:
    from transformers.masking_utils import sdpa_mask

    # A padding-free row comes without a padding mask; its boundaries arrive as cu_seq_lens, so the dense
    # block-diagonal mask sdpa would need is not built at all.
    return None if kwargs.get("attention_mask") is None else sdpa_mask(*args, **kwargs)


def varlen_attention_forward(module: Any, query: Any, key: Any, value: Any, attention_mask: Any,
                             dropout: float = 0.0, scaling: float | None = None, **kwargs: Any) -> tuple[Any, None]:
    """transformers' attention-function signature: (batch, heads, tokens, dim) in, (batch, tokens, heads, dim) out."""
    import torch

    cu_seq_lens = kwargs.get("cu_seq_lens_q")
    if cu_seq_lens is None:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    if query.shape[0] != 1:
        raise ValueError(f"{NAME}: expected one padding-free row, got a batch of {query.shape[0]}")
    q, k, v = (x[0].transpose(0, 1) for x in (query, key, value))  # (tokens, heads, dim)
    if not q.is_cuda:
        return _reference(q, k, v, cu_seq_lens, scaling).unsqueeze(0), None
    # The kernel takes half precision only; prepare_model_for_kbit_training leaves the residual stream in
    # fp32, and sdpa under autocast would cast to the autocast dtype the same way.
    dtype = torch.get_autocast_dtype("cuda") if torch.is_autocast_enabled("cuda") else q.dtype
    if dtype not in (torch.float16, torch.bfloat16):
        dtype = torch.bfloat16
    q, k, v = (x.to(dtype) for x in (q, k, v))
    # positional up to return_debug_mask: the same schema from torch 2.1 to 2.13, unlike varlen_attn's
    out = torch.ops.aten._flash_attention_forward(
        q, k, v, cu_seq_lens, kwargs["cu_seq_lens_k"], int(kwargs["max_length_q"]), int(kwargs["max_length_k"]),
        dropout if module.training else 0.0, True, False, scale=scaling)[0]
    return out.unsqueeze(0), None


def _reference(q: Any, k: Any, v: Any, cu_seq_lens: Any, scaling: float | None) -> Any:
    """The same attention one example at a time with sdpa: the CPU path (tests, no flash kernel there)."""
    import torch
    import torch.nn.functional as F

    bounds = cu_seq_lens.tolist()
    groups = q.shape[1] // k.shape[1]  # grouped-query attention: each key/value head serves `groups` query heads
    outs = []
    for start, end in zip(bounds[:-1], bounds[1:]):
        qs, ks, vs = (x[start:end].transpose(0, 1) for x in (q, k, v))
        ks, vs = ks.repeat_interleave(groups, 0), vs.repeat_interleave(groups, 0)
        outs.append(F.scaled_dot_product_attention(qs, ks, vs, is_causal=True, scale=scaling).transpose(0, 1))
    return torch.cat(outs, 0)

"""Probe the batches that NonFiniteGuard skipped: where do the non-finite gradients come from?

Run as: python benchmarks/nonfinite_probe.py --config configs/qwen2.5-coder-0.5b-qlora.yaml \
            --batches /root/runs/default/nonfinite_batches.jsonl --out probe.json [KEY=VALUE overrides]

Builds the model (NF4 + fresh LoRA, the config's seed), tokenizer, dataset and collator exactly as
``cpp2py train`` does (``build_trainer``), then for each logged batch runs forward+backward (no optimizer step)
under variations: as trained, eager attention, no gradient checkpointing, no dropout, no autocast, each example
alone, left padding, truncation to the shortest example (no padding), and forward/backward hooks that name the
first module whose output / output-gradient is non-finite. Note: the logged steps ran on weights already updated
by the optimizer (step - 1 updates); this probe uses the fresh init unless --adapter gives saved weights.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _tensors(obj, prefix=""):
    import torch

    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict) or hasattr(obj, "items"):
        try:
            items = list(obj.items())
        except Exception:
            items = []
        for k, v in items:
            yield from _tensors(v, f"{prefix}.{k}")
    elif isinstance(obj, (tuple, list)):
        for i, v in enumerate(obj):
            yield from _tensors(v, f"{prefix}[{i}]")


def _nonfinite(t) -> bool:
    import torch

    return t.is_floating_point() and not bool(torch.isfinite(t).all())


def grad_report(model) -> dict:
    import torch

    bad, n, maxabs = [], 0, 0.0
    for name, p in model.named_parameters():
        if not p.requires_grad or p.grad is None:
            continue
        n += 1
        g = p.grad.detach()
        fin = torch.isfinite(g)
        if not bool(fin.all()):
            bad.append({"name": name, "n_nan": int(torch.isnan(g).sum()), "n_inf": int(torch.isinf(g).sum()),
                        "numel": g.numel()})
        if bool(fin.any()):
            maxabs = max(maxabs, float(g[fin].abs().max()))
    return {"grads_checked": n, "nonfinite_grad": bool(bad), "n_nonfinite_params": len(bad),
            "first_nonfinite_params": bad[:8], "max_abs_finite_grad": maxabs}


def inspect_inputs(inputs: dict) -> dict:
    import torch

    out: dict = {"keys": sorted(inputs.keys())}
    ids = inputs.get("input_ids")
    if ids is not None:
        out["shape"] = list(ids.shape)
    am = inputs.get("attention_mask")
    if am is not None:
        am = am.to(torch.long)
        out["pad_tokens"] = int((am == 0).sum())
        out["fully_masked_rows"] = int((am.sum(-1) == 0).sum())
        left = int((am[:, 0] == 0).sum())
        right = int((am[:, -1] == 0).sum())
        out["rows_with_left_pad"], out["rows_with_right_pad"] = left, right
        out["padding_side"] = "left" if left and not right else "right" if right and not left else \
            "none" if not (left or right) else "mixed"
        # with left padding, the leading pad queries attend to nothing under a causal+padding mask
        out["queries_with_no_visible_key"] = left and int((am[:, 0] == 0).sum()) or 0
        out["real_lengths"] = am.sum(-1).tolist()
    pos = inputs.get("position_ids")
    if pos is not None:
        out["position_ids_present"] = True
        out["position_ids_min_max"] = [int(pos.min()), int(pos.max())]
        out["position_ids_restarts"] = int((pos[:, 1:] < pos[:, :-1]).sum()) if pos.dim() == 2 else None
    lab = inputs.get("labels")
    if lab is not None:
        out["label_tokens_shifted"] = int((lab[..., 1:] != -100).sum())
        out["rows_without_labels"] = int(((lab[..., 1:] != -100).sum(-1) == 0).sum())
    return out


class Probe:
    def __init__(self, trainer, cfg, seed: int):
        import torch

        self.trainer, self.cfg, self.seed = trainer, cfg, seed
        self.model = trainer.model
        self.device = next(p for p in self.model.parameters()).device
        self.bf16 = bool(getattr(trainer.args, "bf16", False))
        self.torch = torch
        ds = trainer.train_dataset
        self.ds = ds
        self.index = {str(i): k for k, i in enumerate(ds["id"])} if "id" in ds.column_names else {}

    # ------------------------------------------------------------ batch building
    def examples(self, ids):
        missing = [i for i in ids if str(i) not in self.index]
        if missing:
            raise KeyError(f"{len(missing)} ids not in the train dataset, e.g. {missing[:3]}")
        return [self.ds[self.index[str(i)]] for i in ids]

    def collate(self, exs):
        return self.trainer.data_collator(exs)

    def to_device(self, batch):
        return {k: (v.to(self.device) if isinstance(v, self.torch.Tensor) else v) for k, v in batch.items()}

    # ------------------------------------------------------------ one forward+backward
    def run(self, batch, *, autocast=True, gc=True, dropout=True, num_items=None):
        torch = self.torch
        model = self.model
        model.zero_grad(set_to_none=True)
        model.train()
        if not dropout:
            for m in model.modules():
                if isinstance(m, torch.nn.Dropout):
                    m.eval()
        self.set_gc(gc)
        torch.manual_seed(self.seed)
        torch.cuda.manual_seed_all(self.seed) if torch.cuda.is_available() else None
        inputs = dict(self.to_device(batch))
        info = {"inputs": inspect_inputs(inputs)}
        ctx = torch.autocast(device_type=self.device.type, dtype=torch.bfloat16) if (autocast and self.bf16) \
            else contextlib.nullcontext()
        t0 = time.time()
        with ctx:
            try:
                loss = self.trainer.compute_loss(model, inputs, num_items_in_batch=num_items)
            except Exception as e:  # fall back to the plain model loss
                info["compute_loss_error"] = repr(e)
                inputs.pop("cpp2py_ids", None)
                inputs.pop("cpp2py_lengths", None)
                loss = model(**inputs).loss
        info["loss"] = float(loss.detach())
        info["loss_finite"] = bool(torch.isfinite(loss.detach()).all())
        loss.backward()
        info.update(grad_report(model))
        info["seconds"] = round(time.time() - t0, 3)
        model.zero_grad(set_to_none=True)
        model.train()
        self.set_gc(True if self.cfg.gradient_checkpointing else False)
        return info

    def set_gc(self, on: bool):
        m = self.model
        if on and self.cfg.gradient_checkpointing:
            m.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        else:
            m.gradient_checkpointing_disable()

    # ------------------------------------------------------------ attention implementation
    def set_attn(self, impl: str):
        base = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
        if hasattr(base, "set_attn_implementation"):
            base.set_attn_implementation(impl)
            how = "set_attn_implementation"
        else:
            how = "config._attn_implementation"
        for mod in base.modules():
            c = getattr(mod, "config", None)
            if c is not None and hasattr(c, "_attn_implementation"):
                try:
                    c._attn_implementation = impl
                except Exception:
                    pass
        return how, getattr(base.config, "_attn_implementation", None)

    # ------------------------------------------------------------ hooks
    def hooked(self, batch, gc: bool):
        torch = self.torch
        fwd, bwd, handles = [], [], []
        counter = {"f": 0, "b": 0}
        phase = {"p": "forward"}

        def make(name):
            def hook(mod, args, output):
                counter["f"] += 1
                for sub, t in _tensors(output):
                    if not t.is_floating_point():
                        continue
                    if _nonfinite(t.detach()) and len(fwd) < 20:
                        fwd.append({"module": name, "out": sub, "order": counter["f"], "phase": phase["p"],
                                    "n_nan": int(torch.isnan(t).sum()), "n_inf": int(torch.isinf(t).sum())})
                    if t.requires_grad and torch.is_grad_enabled():
                        def ghook(g, name=name, sub=sub):
                            counter["b"] += 1
                            if g is not None and _nonfinite(g) and len(bwd) < 20:
                                bwd.append({"module": name, "out": sub, "order": counter["b"],
                                            "n_nan": int(torch.isnan(g).sum()), "n_inf": int(torch.isinf(g).sum()),
                                            "max_abs_finite": float(g[torch.isfinite(g)].abs().max())
                                            if bool(torch.isfinite(g).any()) else None})
                            return None
                        try:
                            t.register_hook(ghook)
                        except Exception:
                            pass
            return hook

        for name, mod in self.model.named_modules():
            handles.append(mod.register_forward_hook(make(name or "<root>")))
        try:
            info = self.run(batch, gc=gc)
        finally:
            for h in handles:
                h.remove()
        info["first_nonfinite_forward_outputs"] = fwd[:10]
        info["first_nonfinite_output_grads_in_backward_order"] = bwd[:10]
        info["grad_hooks_fired"] = counter["b"]
        return info


def repad_left(batch):
    import torch

    am = batch["attention_mask"]
    out = {k: v for k, v in batch.items()}
    B, T = am.shape
    for key in ("input_ids", "attention_mask", "labels", "position_ids", "completion_mask"):
        if key not in batch or not isinstance(batch[key], torch.Tensor) or batch[key].shape[:2] != (B, T):
            continue
        src = batch[key]
        fill = {"labels": -100, "attention_mask": 0, "completion_mask": 0, "position_ids": 0}.get(key, 0)
        if key == "input_ids":
            fill = int(src[am == 0][0]) if bool((am == 0).any()) else 0
        new = torch.full_like(src, fill)
        for r in range(B):
            idx = am[r].nonzero().flatten()
            n = len(idx)
            if n:
                new[r, T - n:] = src[r, idx]
        out[key] = new
    m = out["attention_mask"].long()
    out["position_ids"] = (m.cumsum(-1) - 1).clamp(min=0)
    return out


def truncate_shortest(batch):
    import torch

    am = batch["attention_mask"]
    L = int(am.sum(-1).min())
    out = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor) and v.dim() >= 2 and v.shape[:2] == am.shape:
            out[k] = v[:, :L].clone()
        else:
            out[k] = v
    out["attention_mask"] = torch.ones_like(out["attention_mask"])
    if "position_ids" in out and isinstance(out["position_ids"], torch.Tensor):
        out["position_ids"] = torch.arange(L).expand(am.shape[0], L).clone()
    if "cpp2py_lengths" in out:
        out["cpp2py_lengths"] = [L] * am.shape[0]
    return out, L


def _pad_id(batch, default=0):
    am = batch.get("attention_mask")
    if am is not None and bool((am == 0).any()):
        return int(batch["input_ids"][am == 0][0])
    return default


def extra_pad(batch, n: int, pad_id: int):
    """Right-pad every [B, T] tensor of the batch by n more positions (labels -100, attention_mask 0)."""
    import torch

    am = batch["attention_mask"]
    B, T = am.shape
    out = {}
    for k, v in batch.items():
        if isinstance(v, torch.Tensor) and v.dim() >= 2 and v.shape[:2] == (B, T):
            if k == "position_ids":
                ext = v[:, -1:] + torch.arange(1, n + 1, device=v.device, dtype=v.dtype)
            else:
                fill = {"labels": -100, "attention_mask": 0, "completion_mask": 0,
                        "input_ids": pad_id}.get(k, 0)
                ext = torch.full((B, n) + tuple(v.shape[2:]), fill, dtype=v.dtype, device=v.device)
            out[k] = torch.cat([v, ext], dim=1)
        else:
            out[k] = v
    return out


def padding_free(batch):
    """Concatenate the real tokens of every row into one [1, N] row; position_ids restart per example; no mask;
    labels -100 at each example's first token (as trl's padding-free collator does)."""
    import torch

    am = batch["attention_mask"].bool()
    B, T = am.shape
    out: dict = {}
    for k, v in batch.items():
        if k == "attention_mask":
            continue
        if isinstance(v, torch.Tensor) and v.dim() >= 2 and v.shape[:2] == (B, T):
            parts = []
            for r in range(B):
                seg = v[r][am[r]].clone()
                if k == "labels" and seg.numel():
                    seg[0] = -100
                parts.append(seg)
            out[k] = torch.cat(parts).unsqueeze(0)
        else:
            out[k] = v
    lens = am.sum(-1).tolist()
    out["position_ids"] = torch.cat([torch.arange(int(n)) for n in lens]).unsqueeze(0)
    if "cpp2py_lengths" in out:
        out["cpp2py_lengths"] = [int(sum(lens))]
    if "cpp2py_ids" in out:
        out["cpp2py_ids"] = ["+".join(map(str, out["cpp2py_ids"]))]
    return out, lens


def mask_4d(batch, kind: str, dtype):
    """Replace the 2D padding mask by an explicit 4D causal+padding mask [B,1,T,T]: bool or float additive."""
    import torch

    am = batch["attention_mask"].bool()
    B, T = am.shape
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    allowed = causal[None, None] & am[:, None, None, :]
    out = dict(batch)
    if kind == "bool":
        out["attention_mask"] = allowed
    else:
        out["attention_mask"] = torch.zeros(B, 1, T, T, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
    return out


def guarded(results: dict, key: str, fn):
    t0 = time.time()
    try:
        results[key] = fn()
    except Exception as e:
        results[key] = {"error": repr(e), "traceback": traceback.format_exc()[-2000:]}
    if isinstance(results[key], dict):
        results[key].setdefault("wall_s", round(time.time() - t0, 2))
    return results[key]


def short(r) -> str:
    if not isinstance(r, dict):
        return str(r)
    if "error" in r:
        return "ERROR " + r["error"][:150]
    if "nonfinite_grad" in r:
        first = r.get("first_nonfinite_params") or []
        return (f"loss={r.get('loss'):.4g} nonfinite_grad={r['nonfinite_grad']} ({r.get('n_nonfinite_params')} params"
                f"{', first ' + first[0]['name'] if first else ''}) max|g|={r.get('max_abs_finite_grad'):.3g}")
    return json.dumps(r)[:200]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--batches", required=True, help="nonfinite_batches.jsonl from the run")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", default="", help="comma-separated steps to probe (default: all logged)")
    ap.add_argument("--adapter", default=None, help="optional adapter dir/safetensors to load instead of fresh LoRA")
    ap.add_argument("--no-singles", action="store_true", help="skip the batch-of-1 runs")
    ap.add_argument("--only-v2", action="store_true",
                    help="only a_as_trained + the v2 variations (sdpa backends, extra padding, padding-free, "
                         "4D bool/float masks); implies --no-singles")
    ap.add_argument("overrides", nargs="*", help="KEY=VALUE config overrides, as for `cpp2py train`")
    a = ap.parse_args(argv)
    if a.only_v2:
        a.no_singles = True

    import torch

    from cpp2py.config import load_config
    from cpp2py.train import TrainConfig, build_trainer

    t_start = time.time()
    cfg = load_config(TrainConfig, a.config, a.overrides)
    cfg.report_to = []
    work = Path(tempfile.mkdtemp(prefix="nonfinite_probe_"))
    cfg.output_dir = str(work / "out")
    trainer, _guard, stats = build_trainer(cfg, work)
    model = trainer.model
    result: dict = {"config": a.config, "overrides": a.overrides, "data_stats": stats,
                    "torch": torch.__version__, "device": torch.cuda.get_device_name() if torch.cuda.is_available()
                    else "cpu", "bf16": bool(trainer.args.bf16), "only_v2": a.only_v2, "batches": []}
    try:
        import transformers as _tf
        result["transformers"] = _tf.__version__
    except Exception as e:
        result["transformers"] = repr(e)
    sdp = {}
    for nm in ("flash", "mem_efficient", "math", "cudnn"):
        try:
            sdp[nm] = bool(getattr(torch.backends.cuda, f"{nm}_sdp_enabled")())
        except Exception as e:
            sdp[nm] = repr(e)
    result["sdp_enabled"] = sdp
    try:
        import bitsandbytes, peft, transformers, trl  # noqa: E401
        result["versions"] = {m.__name__: m.__version__ for m in (transformers, peft, trl, bitsandbytes)}
    except Exception as e:
        result["versions"] = repr(e)
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    result["attn_implementation"] = getattr(base.config, "_attn_implementation", None)
    result["param_dtypes_trainable"] = sorted({str(p.dtype) for p in model.parameters() if p.requires_grad})
    result["collator"] = type(getattr(trainer.data_collator, "inner", trainer.data_collator)).__name__
    inner = getattr(trainer.data_collator, "inner", None)
    result["collator_attrs"] = {k: repr(getattr(inner, k)) for k in ("padding_free", "pad_to_multiple_of",
                                "completion_only_loss", "return_position_ids", "pad_token_id", "padding_side")
                                if inner is not None and hasattr(inner, k)}
    result["tokenizer_padding_side"] = getattr(trainer.processing_class, "padding_side", None)
    result["dataset_columns"] = trainer.train_dataset.column_names

    if a.adapter:
        def load_adapter():
            from peft import set_peft_model_state_dict
            from safetensors.torch import load_file

            p = Path(a.adapter)
            f = p / "adapter_model.safetensors" if p.is_dir() else p
            res = set_peft_model_state_dict(model, load_file(str(f)))
            return {"loaded": str(f), "unexpected": len(getattr(res, "unexpected_keys", []) or [])}
        guarded(result, "adapter", load_adapter)

    probe = Probe(trainer, cfg, cfg.seed)
    logged = [json.loads(line) for line in Path(a.batches).read_text().splitlines() if line.strip()]
    want = {int(s) for s in a.steps.split(",") if s.strip()}
    if want:
        logged = [e for e in logged if e.get("step") in want]

    for entry in logged:
        for bi, b in enumerate(entry.get("batches", [])):
            ids = b["ids"]
            rec: dict = {"step": entry.get("step"), "micro_batch": bi, "logged": {k: b.get(k) for k in
                         ("lengths", "label_tokens", "loss")}, "n_ids": len(ids)}
            result["batches"].append(rec)
            print(f"\n=== step {entry.get('step')} micro-batch {bi}: {len(ids)} examples ===", flush=True)
            try:
                exs = probe.examples(ids)
                batch = probe.collate(exs)
            except Exception as e:
                rec["error"] = repr(e)
                print("  cannot build batch:", e)
                continue
            rec["collated_lengths_match_log"] = batch.get("cpp2py_lengths") == b.get("lengths")

            guarded(rec, "a_as_trained", lambda: probe.run(batch))
            if not a.only_v2:
                guarded(rec, "a2_as_trained_num_items", lambda: probe.run(batch, num_items=b.get("label_tokens")))
                guarded(rec, "c_no_grad_checkpointing", lambda: probe.run(batch, gc=False))
                guarded(rec, "no_dropout", lambda: probe.run(batch, dropout=False))
                guarded(rec, "no_autocast_fp32_compute", lambda: probe.run(batch, autocast=False))

                def eager():
                    orig = result["attn_implementation"] or "sdpa"
                    how, now = probe.set_attn("eager")
                    try:
                        r = probe.run(batch)
                        r2 = probe.run(batch, gc=False)
                    finally:
                        probe.set_attn(orig)
                    r["switched_via"], r["attn_now"] = how, now
                    r["eager_no_gc"] = {k: r2.get(k) for k in ("loss", "nonfinite_grad", "n_nonfinite_params",
                                                              "first_nonfinite_params", "max_abs_finite_grad")}
                    return r
                guarded(rec, "b_eager_attention", eager)

                def singles():
                    bad, rows = [], []
                    for ex in exs:
                        r = probe.run(probe.collate([ex]))
                        rows.append({"id": str(ex.get("id")), "len": len(ex["input_ids"]), "loss": r["loss"],
                                     "nonfinite_grad": r["nonfinite_grad"], "max_abs_finite_grad": r["max_abs_finite_grad"]})
                        if r["nonfinite_grad"] or not r["loss_finite"]:
                            bad.append(str(ex.get("id")))
                    return {"nonfinite_ids": bad, "rows": rows}
                if not a.no_singles:
                    guarded(rec, "d_singles", singles)

                guarded(rec, "e_left_padded", lambda: probe.run(repad_left(batch)))

                def trunc():
                    tb, L = truncate_shortest(batch)
                    r = probe.run(tb)
                    r["truncated_to"] = L
                    return r
                guarded(rec, "e_truncated_no_padding", trunc)

                guarded(rec, "f_hooks_as_trained", lambda: probe.hooked(batch, gc=True))
                guarded(rec, "f_hooks_no_gc", lambda: probe.hooked(batch, gc=False))

            # ---------------- v2: SDPA backends, alignment, padding-free, explicit 4D masks
            from torch.nn.attention import SDPBackend, sdpa_kernel

            def with_backend(be):
                def f():
                    with sdpa_kernel(be):
                        r = probe.run(batch)
                    r["sdpa_backend"] = str(be)
                    return r
                return f
            guarded(rec, "sdpa_backend_math", with_backend(SDPBackend.MATH))
            guarded(rec, "sdpa_backend_efficient", with_backend(SDPBackend.EFFICIENT_ATTENTION))
            guarded(rec, "sdpa_backend_cudnn", with_backend(SDPBackend.CUDNN_ATTENTION))

            pad_id = _pad_id(batch, getattr(trainer.processing_class, "pad_token_id", None) or 0)
            for n in (1, 8):
                def ep(n=n):
                    pb = extra_pad(batch, n, pad_id)
                    r = probe.run(pb)
                    r["extra_pad"], r["pad_id"] = n, pad_id
                    return r
                guarded(rec, f"extra_pad_{n}", ep)

            def pfree():
                pb, lens = padding_free(batch)
                r = probe.run(pb)
                r["attn_implementation"] = getattr(base.config, "_attn_implementation", None)
                r["n_examples"], r["total_tokens"] = len(lens), int(sum(lens))
                r["built"] = "manual (from the collated batch)"
                return r
            guarded(rec, "padding_free", pfree)

            def bool_vs_float():
                mdt = torch.bfloat16 if probe.bf16 else next(p for p in model.parameters()
                                                             if p.is_floating_point()).dtype
                out = {"float_mask_dtype": str(mdt)}
                for kind in ("bool", "float"):
                    try:
                        out[f"{kind}_4d"] = probe.run(mask_4d(batch, kind, mdt))
                    except Exception as e:
                        out[f"{kind}_4d"] = {"error": repr(e), "traceback": traceback.format_exc()[-1500:]}
                return out
            guarded(rec, "bool_vs_float_mask", bool_vs_float)

            for k in ("a_as_trained", "a2_as_trained_num_items", "b_eager_attention", "c_no_grad_checkpointing",
                      "no_dropout", "no_autocast_fp32_compute", "e_left_padded", "e_truncated_no_padding",
                      "sdpa_backend_math", "sdpa_backend_efficient", "sdpa_backend_cudnn", "extra_pad_1",
                      "extra_pad_8", "padding_free"):
                if k in rec:
                    print(f"  {k:28s} {short(rec.get(k))}")
            bvf = rec.get("bool_vs_float_mask") or {}
            if "error" in bvf:
                print(f"  {'bool_vs_float_mask':28s} {short(bvf)}")
            for kind in ("bool_4d", "float_4d"):
                if kind in bvf:
                    print(f"  {'mask_' + kind:28s} {short(bvf[kind])}")

            inp = (rec.get("a_as_trained") or {}).get("inputs", {})
            print(f"  inputs: shape={inp.get('shape')} pad={inp.get('pad_tokens')} side={inp.get('padding_side')} "
                  f"fully_masked_rows={inp.get('fully_masked_rows')} position_ids={'position_ids' in inp.get('keys', [])}")
            if isinstance(rec.get("d_singles"), dict) and "nonfinite_ids" in rec["d_singles"]:
                print(f"  d_singles nonfinite ids: {rec['d_singles']['nonfinite_ids']}")
            for k in ("f_hooks_as_trained", "f_hooks_no_gc"):
                if k not in rec:
                    continue
                h = rec.get(k) or {}
                if "error" in h:
                    print(f"  {k}: ERROR {h['error'][:150]}")
                    continue
                ff = h.get("first_nonfinite_forward_outputs") or []
                bb = h.get("first_nonfinite_output_grads_in_backward_order") or []
                print(f"  {k}: first nonfinite fwd output: {ff[0]['module'] + ff[0]['out'] if ff else None}; "
                      f"first nonfinite grad (bwd order): {bb[0]['module'] + bb[0]['out'] if bb else None}")
            Path(a.out).parent.mkdir(parents=True, exist_ok=True)
            Path(a.out).write_text(json.dumps(result, indent=1, default=str))

    result["wall_s"] = round(time.time() - t_start, 1)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=1, default=str))
    print(f"\nwrote {a.out} ({result['wall_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

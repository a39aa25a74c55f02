"""Translation speed: the seed's one-at-a-time sampling vs cpp2py's batched greedy, decode efficiency, CPU latency.

Run as (GPU):
    python benchmarks/translate_speed.py --benchmark prepared/xlcost/val.jsonl --out speed.json
Run as (CPU, 2 cores: latency of a 20-line function only):
    taskset -c 0,1 python benchmarks/translate_speed.py --device cpu --threads 2 --only latency --out speed-cpu.json

Measurements (the model is loaded once, outside every timing; CUDA is synchronised around each):

* ``seed``: the seed project's way, one example at a time, sampling at temperature 0.2, up to 256 new
  tokens, stopping only at EOS. Timed on the first ``--seed-subset`` items (default 50) and extrapolated
  per item to the whole set; the JSON says so.
* ``cpp2py``: :class:`cpp2py.generation.translator.Translator` over the whole set: length-sorted batches, greedy,
  stop at EOS or the closing fence, token budget scaled to the input. ``ratio`` = seed time for the set /
  cpp2py time for the set.
* ``decode``: batch-1 decode throughput (tokens/s over 256 forced new tokens, prefill subtracted) vs the
  memory-bandwidth limit = measured device copy bandwidth / bytes of weights read per token; eager and,
  with ``--compile``, with a static KV cache + compiled step.
* ``latency``: wall time to translate ``examples/primes.cpp`` (a 20-line function), three runs.
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
from pathlib import Path

import torch

from cpp2py import prompt
from cpp2py.generation.backends import HFBackend, base_and_adapter, resolve_device
from cpp2py.files import read_jsonl, write_json
from cpp2py.schema import TranslateConfig
from cpp2py.generation.translator import Translator

ROOT = Path(__file__).resolve().parents[1]


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def copy_bandwidth(device: str, mib: int = 1024, reps: int = 10) -> float:
    """Bytes/s moved by a device-to-device copy (a read and a write per byte), the roofline for decoding."""
    a = torch.empty(mib * 2**20, dtype=torch.uint8, device=device)
    b = torch.empty_like(a)
    b.copy_(a)
    sync(device)
    t = time.perf_counter()
    for _ in range(reps):
        b.copy_(a)
    sync(device)
    return 2 * a.numel() * reps / (time.perf_counter() - t)


def weight_bytes(model) -> int:
    """Bytes read per decoded token: every parameter once (4-bit weights count their packed bytes)."""
    return sum(p.numel() * p.element_size() for p in model.parameters())


def seed_way(backend: HFBackend, items: list[dict], device: str) -> float:
    tok, model = backend.tokenizer, backend.model
    sync(device)
    t = time.perf_counter()
    for it in items:
        text = prompt.render(tok, prompt.messages(it["cpp"]), backend.style)
        ids = tok(text, return_tensors="pt").to(device)
        with torch.inference_mode():
            model.generate(**ids, do_sample=True, temperature=0.2, max_new_tokens=256)
    sync(device)
    return time.perf_counter() - t


def cpp2py_way(backend: HFBackend, cfg: TranslateConfig, items: list[dict], device: str) -> tuple[float, dict]:
    sync(device)
    t = time.perf_counter()
    results = Translator(backend, cfg).translate_many([it["cpp"] for it in items])
    sync(device)
    secs = time.perf_counter() - t
    return secs, {"parses": sum(r.parses for r in results) / len(results),
                  "hit_token_cap": sum(r.hit_token_cap for r in results)}


def decode_rate(backend: HFBackend, device: str, *, static: bool, n: int = 256) -> float:
    """Tokens/s of batch-1 decoding, the prefill (1 new token) subtracted."""
    model, tok = backend.model, backend.tokenizer
    ids = tok(prompt.render(tok, prompt.messages((ROOT / "examples" / "primes.cpp").read_text()), backend.style),
              return_tensors="pt").to(device)
    kw = dict(do_sample=False, cache_implementation="static") if static else dict(do_sample=False)

    def run(k: int) -> float:
        sync(device)
        t = time.perf_counter()
        with torch.inference_mode():
            model.generate(**ids, max_new_tokens=k, min_new_tokens=k, **kw)
        sync(device)
        return time.perf_counter() - t

    run(n)  # warm-up (and compilation, when static)
    run(n)
    full, first = min(run(n) for _ in range(2)), min(run(1) for _ in range(2))
    return (n - 1) / (full - first)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--benchmark", type=Path, help="JSONL with id/cpp (prepare's val.jsonl or a benchmark)")
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--seed-subset", type=int, default=50)
    ap.add_argument("--model", default=None, help="default: the default base (+ shipped adapter)")
    ap.add_argument("--adapter", default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None,
                    help="CPU threads for torch (e.g. 2 with `taskset -c 0,1` to mimic a 2-core machine)")
    ap.add_argument("--compile", action="store_true", help="also measure decode with a static cache + compile")
    ap.add_argument("--only", choices=["all", "ratio", "decode", "latency"], default="all")
    ap.add_argument("--out", type=Path, default=Path("translate_speed.json"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    cfg = TranslateConfig(model=args.model, adapter=args.adapter, device=args.device, dtype=args.dtype,
                          batch_size=args.batch_size)
    device = resolve_device(cfg.device)
    t = time.perf_counter()
    backend = HFBackend.load(cfg)
    load_s = time.perf_counter() - t
    base, adapter = base_and_adapter(cfg)
    report: dict = {
        "date": datetime.date.today().isoformat(), "device": device,
        "card": torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor() or "cpu",
        "cpu_threads": torch.get_num_threads(), "torch": torch.__version__, "model": base, "adapter": adapter,
        "dtype": args.dtype, "load_seconds": round(load_s, 2),
    }
    if args.only in ("all", "ratio"):
        if not args.benchmark:
            ap.error("--benchmark is needed for the ratio measurement")
        items = list(read_jsonl(args.benchmark))[: args.limit]
        subset = items[: args.seed_subset]
        seed_s = seed_way(backend, subset, device)
        ours_s, quality = cpp2py_way(backend, cfg, items, device)
        seed_total = seed_s / len(subset) * len(items)
        report["ratio"] = {
            "items": len(items), "seed_items_timed": len(subset),
            "seed_note": f"seed time measured on {len(subset)} items and extrapolated per item to {len(items)}",
            "seed_seconds_measured": round(seed_s, 2), "seed_seconds_extrapolated": round(seed_total, 2),
            "cpp2py_seconds": round(ours_s, 2), "batch_size": args.batch_size,
            "speedup": round(seed_total / ours_s, 1), **quality,
        }
    if args.only in ("all", "decode"):
        bw = copy_bandwidth(device)
        wb = weight_bytes(backend.model)
        limit = bw / wb
        decode = {"copy_bandwidth_GBps": round(bw / 1e9, 1), "weight_bytes": wb,
                  "limit_tokens_per_s": round(limit, 1)}
        for name, static in (("eager", False), ("static_compiled", True)):
            if static and not args.compile:
                continue
            rate = decode_rate(backend, device, static=static)
            decode[name] = {"tokens_per_s": round(rate, 1), "fraction_of_limit": round(rate / limit, 3)}
        report["decode_batch1"] = decode
    if args.only in ("all", "latency"):
        src = (ROOT / "examples" / "primes.cpp").read_text()
        one = TranslateConfig(model=args.model, adapter=args.adapter, device=args.device, dtype=args.dtype)
        runs = []
        for _ in range(3):
            sync(device)
            t = time.perf_counter()
            r = Translator(backend, one).translate_many([src])[0]
            sync(device)
            runs.append(time.perf_counter() - t)
        report["latency_20_line_function"] = {"seconds": [round(x, 2) for x in runs], "best": round(min(runs), 2),
                                              "parses": r.parses, "output_tokens": backend.count_tokens(r.raw)}
    write_json(args.out, report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

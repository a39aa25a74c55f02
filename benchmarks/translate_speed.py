"""Translation speed: the seed's one-at-a-time sampling vs cpp2py's engines, decode efficiency, CPU latency.

Run as (GPU; one H200: benchmarks/translate_speed_gpu.sh):
    python benchmarks/translate_speed.py --benchmark prepared/xlcost/val.jsonl \
        --quality-benchmark prepared/humaneval-x.jsonl --engines eager,cb --compile --pred-dir preds --out speed.json
Run as (GPU, with vLLM beside the hf engines; `pip install 'cpp2py[vllm]'`):
    python benchmarks/translate_speed.py --benchmark prepared/xlcost/val.jsonl \
        --quality-benchmark prepared/humaneval-x.jsonl --engines eager,vllm --sample-engines vllm --out speed.json
Run as (CPU, 2 cores: latency of a 20-line function only):
    taskset -c 0,1 python benchmarks/translate_speed.py --device cpu --threads 2 --only latency --out speed-cpu.json

Measurements (the model is loaded once, outside every timing; CUDA is synchronised around each):

* ``seed``: the seed project's way, one example at a time, sampling at temperature 0.2, up to 256 new
  tokens, stopping only at EOS. Timed on the first ``--seed-subset`` items (default 50) and extrapolated
  per item to the whole set; the JSON says so.
* ``engines``: :class:`cpp2py.generation.translator.Translator` over the whole set, once per ``--engines`` entry
  (``eager``: length-sorted batches of ``--batch-size``, today's hf path; ``cb``: all items handed to
  continuous batching at once; ``vllm``: ``--backend vllm``, loaded once beside the hf model with
  ``--vllm-memory`` of the GPU), greedy, stop at EOS or the closing fence, token budget scaled to the input;
  ``speedup`` = seed time for the set / the engine's time. The first engine call of a process includes
  its one-time set-up (cb: KV cache allocation and CUDA graph capture), reported apart as ``warmup_seconds``
  from a 4-item run before the timed one. Each engine's predictions go to ``--pred-dir`` as
  ``<set>-<engine>.jsonl`` (``cpp2py evaluate`` reads them: CodeBLEU, and CA@1 with ``--allow-exec``), for
  the ``--benchmark`` set and the ``--quality-benchmark`` set (HumanEval-X); ``same_as_eager`` counts
  identical predictions.
* ``decode``: batch-1 decode throughput (tokens/s over 256 forced new tokens, prefill subtracted) vs the
  memory-bandwidth limit = measured device copy bandwidth / bytes of weights read per token (also given
  against the H200's 4.8 TB/s data-sheet bandwidth); eager, cb, vllm when it is among ``--engines`` and, with
  ``--compile``, a static KV cache + compiled step.
* ``sampling``: N=8 sampling (temperature 0.8, top-p 0.95, no retries) on the first ``--sample-items``
  items with each engine of ``--sample-engines``: samples/s, the self-training budget.
* ``latency``: wall time to translate ``examples/primes.cpp`` (a 20-line function), three runs.
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
import traceback
from dataclasses import replace
from pathlib import Path

import torch

from cpp2py import prompt
from cpp2py.generation.backends import HFBackend, base_and_adapter, resolve_device
from cpp2py.files import read_jsonl, write_json, write_jsonl
from cpp2py.generation.translator import Translator
from cpp2py.schema import TranslateConfig

ROOT = Path(__file__).resolve().parents[1]
H200_SPEC_BYTES_PER_S = 4.8e12  # the data sheet's HBM3e bandwidth; the measured copy bandwidth is the main limit


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


class Engines:
    """The backend each engine name runs on: the hf model for its engines, a vLLM engine loaded on first use."""

    def __init__(self, hf: HFBackend, cfg: TranslateConfig, vllm_memory: float):
        self.hf, self.cfg, self.vllm_memory = hf, cfg, vllm_memory
        self.vllm = None
        self.vllm_load_seconds: float | None = None
        self.vllm_error: str | None = None

    def usable(self, engine: str) -> bool:
        """False for vLLM when it failed to load (tried once): the other engines' measurements still run, and
        the report says why."""
        if engine != "vllm":
            return True
        if self.vllm is None and self.vllm_error is None:
            from cpp2py.generation.vllm_engine import VLLMBackend

            t = time.perf_counter()
            try:
                self.vllm = VLLMBackend.load(replace(self.cfg, backend="vllm"),
                                             gpu_memory_utilization=self.vllm_memory)
                self.vllm_load_seconds = round(time.perf_counter() - t, 2)
            except Exception as e:  # noqa: BLE001 - a benchmark keeps measuring the engines that load
                traceback.print_exc()
                self.vllm_error = f"{type(e).__name__}: {e}"[:1000]
        return self.vllm is not None

    def get(self, engine: str):
        if engine != "vllm":
            return self.hf, replace(self.cfg, engine=engine)
        assert self.usable(engine), self.vllm_error
        return self.vllm, replace(self.cfg, backend="vllm")


def timed_translate(backend: HFBackend, cfg: TranslateConfig, items: list[dict], device: str) -> tuple[float, list]:
    sync(device)
    t = time.perf_counter()
    results = Translator(backend, cfg).translate_many([it["cpp"] for it in items])
    sync(device)
    return time.perf_counter() - t, results


def engine_run(backend: HFBackend, cfg: TranslateConfig, items: list[dict], device: str, preds: Path) -> dict:
    """One engine over ``items``: time, quality counters, cb's tokens past the fence; predictions to ``preds``."""
    counted = getattr(backend, "cb_tokens", None)  # the hf backend counts cb's tokens; vLLM has no such count
    before = dict(counted or {})
    secs, results = timed_translate(backend, cfg, items, device)
    write_jsonl(preds, ({"id": it["id"], "prediction": r.python, "parses": r.parses, "hit_token_cap": r.hit_token_cap,
                         "repairs": 0, "verified": None, "seconds": round(r.seconds, 4)} for it, r in zip(items, results)))
    out = {"seconds": round(secs, 2), "items_per_s": round(len(items) / secs, 2),
           "parses": round(sum(r.parses for r in results) / len(results), 4),
           "hit_token_cap": sum(r.hit_token_cap for r in results), "predictions": preds.name}
    generated = counted["generated"] - before["generated"] if counted else 0
    if generated:
        wasted = counted["after_fence"] - before["after_fence"]
        out["cb_tokens_generated"], out["cb_tokens_after_fence"] = generated, wasted
        out["cb_waste_fraction"] = round(wasted / generated, 4)
    return out


def compare_engines(runner: Engines, items: list[dict], engines: list[str], device: str,
                    pred_dir: Path, name: str) -> dict:
    """Each engine on the same items; a short untimed run first takes each engine's one-time set-up."""
    report: dict = {}
    for engine in [e for e in engines if runner.usable(e)]:
        backend, ecfg = runner.get(engine)
        warm_s, _ = timed_translate(backend, ecfg, items[:4], device)
        report[engine] = {"warmup_seconds": round(warm_s, 2),
                          **engine_run(backend, ecfg, items, device, pred_dir / f"{name}-{engine}.jsonl")}
    if "eager" in report:
        eager = [r["prediction"] for r in read_jsonl(pred_dir / report["eager"]["predictions"])]
        for engine in report:
            mine = [r["prediction"] for r in read_jsonl(pred_dir / report[engine]["predictions"])]
            report[engine]["same_as_eager"] = sum(a == b for a, b in zip(eager, mine))
    return report


def decode_rate(runner: Engines, device: str, *, engine: str, n: int = 256) -> float:
    """Tokens/s of batch-1 decoding, the prefill (1 new token) subtracted."""
    backend, _ = runner.get(engine)
    model, tok = runner.hf.model, backend.tokenizer
    ids = tok(prompt.render(tok, prompt.messages((ROOT / "examples" / "primes.cpp").read_text()), backend.style),
              return_tensors="pt").to(device)
    kw = dict(do_sample=False, cache_implementation="static") if engine == "static" else dict(do_sample=False)
    greedy = replace(runner.cfg, engine="cb").decoding()

    def run(k: int) -> float:
        sync(device)
        t = time.perf_counter()
        if engine == "vllm":  # EOS ignored, so that exactly k tokens are decoded
            from vllm import SamplingParams
            from vllm.inputs import TokensPrompt

            backend.llm.generate([TokensPrompt(prompt_token_ids=ids["input_ids"][0].tolist())],
                                 [SamplingParams(temperature=0, max_tokens=k, min_tokens=k, ignore_eos=True)],
                                 use_tqdm=False)
        elif engine == "cb":  # EOS off, so that exactly k tokens are decoded
            backend.cb_generate([ids["input_ids"][0].tolist()], [k], greedy, stop_at_eos=False)
        else:
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
    ap.add_argument("--engines", default="eager,cb", help="engines compared on the same items, comma-separated")
    ap.add_argument("--quality-benchmark", type=Path, help="a second set (HumanEval-X) translated by every engine")
    ap.add_argument("--pred-dir", type=Path, default=Path("translate_speed_predictions"))
    ap.add_argument("--sample-items", type=int, default=100, help="items for the N=8 sampling measurement")
    ap.add_argument("--sample-engines", default="cb")
    ap.add_argument("--vllm-memory", type=float, default=0.5,
                    help="the share of GPU memory vLLM takes (the hf model shares the GPU)")
    ap.add_argument("--only", choices=["all", "ratio", "decode", "sampling", "latency"], default="all")
    ap.add_argument("--out", type=Path, default=Path("translate_speed.json"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    cfg = TranslateConfig(model=args.model, adapter=args.adapter, device=args.device, dtype=args.dtype,
                          batch_size=args.batch_size)
    engines = args.engines.split(",")
    args.pred_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    t = time.perf_counter()
    backend = HFBackend.load(cfg)
    load_s = time.perf_counter() - t
    runner = Engines(backend, cfg, args.vllm_memory)
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
        seed_total = seed_s / len(subset) * len(items)
        runs = compare_engines(runner, items, engines, device, args.pred_dir, args.benchmark.stem)
        for run in runs.values():
            run["speedup"] = round(seed_total / run["seconds"], 1)
        report["ratio"] = {
            "items": len(items), "seed_items_timed": len(subset),
            "seed_note": f"seed time measured on {len(subset)} items and extrapolated per item to {len(items)}",
            "seed_seconds_measured": round(seed_s, 2), "seed_seconds_extrapolated": round(seed_total, 2),
            "batch_size_eager": args.batch_size, "engines": runs,
        }
        write_json(args.out, report)  # each part as it completes: a later failure keeps it
        if args.quality_benchmark:
            quality_items = list(read_jsonl(args.quality_benchmark))
            report["quality_set"] = {"benchmark": args.quality_benchmark.name, "items": len(quality_items),
                                     "engines": compare_engines(runner, quality_items, engines, device,
                                                                args.pred_dir, args.quality_benchmark.stem)}
    if args.only in ("all", "decode"):
        bw = copy_bandwidth(device)
        wb = weight_bytes(backend.model)
        limit = bw / wb
        spec_limit = H200_SPEC_BYTES_PER_S / wb
        decode = {"copy_bandwidth_GBps": round(bw / 1e9, 1), "weight_bytes": wb,
                  "limit_tokens_per_s": round(limit, 1), "limit_tokens_per_s_at_4.8TBps": round(spec_limit, 1)}
        extra = (["static"] if args.compile else []) + (["vllm"] if "vllm" in engines else [])
        for engine in [e for e in ["eager", "cb"] + extra if runner.usable(e)]:
            rate = decode_rate(runner, device, engine=engine)
            decode[engine] = {"tokens_per_s": round(rate, 1), "fraction_of_limit": round(rate / limit, 3),
                              "fraction_of_4.8TBps_limit": round(rate / spec_limit, 3)}
        report["decode_batch1"] = decode
        write_json(args.out, report)  # each part as it completes: a later failure keeps it
    if args.only in ("all", "sampling"):
        if not args.benchmark:
            ap.error("--benchmark is needed for the sampling measurement")
        items = list(read_jsonl(args.benchmark))[: args.sample_items]
        sampling: dict = {"items": len(items), "samples_per_item": 8, "temperature": 0.8, "top_p": 0.95}
        for engine in [e for e in args.sample_engines.split(",") if runner.usable(e)]:
            sbackend, scfg = runner.get(engine)
            scfg = replace(scfg, temperature=0.8, num_samples=8, retries=0)
            timed_translate(sbackend, scfg, items[:2], device)  # the sampling engine's one-time set-up
            secs, _ = timed_translate(sbackend, scfg, items, device)
            sampling[engine] = {"seconds": round(secs, 2), "samples_per_s": round(8 * len(items) / secs, 1)}
        report["sampling_n8"] = sampling
        write_json(args.out, report)  # each part as it completes: a later failure keeps it
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
        report["latency_20_line_function"] = {"engine": backend.engine_for(one.decoding()), "seconds": [round(x, 2) for x in runs], "best": round(min(runs), 2),
                                              "parses": r.parses, "output_tokens": backend.count_tokens(r.raw)}
    report["vllm_load_seconds"], report["vllm_error"] = runner.vllm_load_seconds, runner.vllm_error
    write_json(args.out, report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

"""Data-parallel translation: a benchmark JSONL translated by one process per GPU, merged in input order.

Run as: cpp2py translate bench.jsonl -o predictions.jsonl --num-gpus 2
        cpp2py translate bench.jsonl -o shard0.jsonl --shard 0/2   (one task of a cluster array job)

The items are dealt round-robin into N shards, one process per GPU translates its shard into its own
JSONL (append + flush, resumable), and :func:`merge_shards` joins them in input order, refusing to write
a predictions file with items missing.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from cpp2py.errors import Cpp2PyError
from cpp2py.files import JsonlAppender, read_jsonl, write_jsonl
from cpp2py.ranks import keep_multicast_off, require_gpus
from cpp2py.schema import read_items


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/N"`` -> ``(i, N)`` with ``0 <= i < N``."""
    try:
        i, n = (int(p) for p in text.split("/"))
    except ValueError:
        raise Cpp2PyError(f"--shard {text!r}: expected I/N, e.g. 0/2") from None
    if n < 1 or not 0 <= i < n:
        raise Cpp2PyError(f"--shard {text!r}: need 0 <= I < N")
    return i, n


def shard_items(items: Sequence[Any], num_shards: int, shard: int) -> list[Any]:
    """Shard ``shard`` of ``num_shards``, dealt round-robin.

    Benchmarks are often ordered by source or size; dealing keeps every shard's length mix like the
    whole's, so the GPUs finish together instead of one waiting on all the long items.
    """
    if num_shards < 1 or not 0 <= shard < num_shards:
        raise Cpp2PyError(f"shard {shard}/{num_shards}: need 0 <= shard < num_shards")
    return list(items[shard::num_shards])


def shard_dir(predictions_path: str | Path) -> Path:
    """Working folder of a sharded run, beside the predictions file; removed after a complete merge."""
    p = Path(predictions_path)
    return p.parent / f".{p.name}.shards"


def shard_paths(predictions_path: str | Path, shard: int, num_shards: int) -> tuple[Path, Path]:
    """(input, output) JSONL of one shard; N is in the name so runs with another N never mix."""
    d = shard_dir(predictions_path)
    stem = f"shard-{shard}-of-{num_shards}"
    return d / f"{stem}.input.jsonl", d / f"{stem}.jsonl"


def write_shard_inputs(benchmark_path: str | Path, predictions_path: str | Path, num_shards: int,
                       *, resume: bool = True) -> list[tuple[Path, Path]]:
    """Split the benchmark into per-shard input files; seed each shard's output for resume.

    With ``resume``, results already in the predictions file (from a finished or a one-GPU run) are
    copied into the shard outputs, so they are skipped whatever N was before. Without it, old shard
    outputs are deleted.
    """
    items = read_items(benchmark_path)
    previous: dict[str, dict[str, Any]] = {}
    if resume and Path(predictions_path).is_file():
        previous = {str(r["id"]): r for r in read_jsonl(predictions_path) if "id" in r}
    paths = []
    for shard in range(num_shards):
        inp, out = shard_paths(predictions_path, shard, num_shards)
        part = shard_items(items, num_shards, shard)
        write_jsonl(inp, (it.to_dict() for it in part))
        with JsonlAppender(out, resume=resume) as app:
            for item in part:
                rec = previous.get(item.id)
                if rec is not None and item.id not in app.done_ids:
                    app.write(rec)
        paths.append((inp, out))
    return paths


def merge_shards(benchmark_path: str | Path, shard_outputs: Sequence[str | Path],
                 predictions_path: str | Path) -> Path:
    """Join shard outputs into ``predictions_path`` in the benchmark's order, atomically.

    Every benchmark id must have a result; otherwise nothing is written and the error names the missing
    ids (rerun to translate them: finished ones are kept in the shard files). When an id appears twice
    (a shard rerun without resume), the later line wins.
    """
    ids = [it.id for it in read_items(benchmark_path)]
    results: dict[str, dict[str, Any]] = {}
    for path in shard_outputs:
        if Path(path).is_file():
            for rec in read_jsonl(path):
                if "id" in rec:
                    results[str(rec["id"])] = rec
    missing = [i for i in ids if i not in results]
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        raise Cpp2PyError(f"{predictions_path}: not merged, {len(missing)} of {len(ids)} items have no "
                          f"result: {shown}; rerun to translate them (finished items are kept)")
    write_jsonl(predictions_path, (results[i] for i in ids))
    return Path(predictions_path)


def _run_shard(worker: Callable[..., Any], shard: int, device: str, inp: Path, out: Path, cfg: Any,
               reports: Any) -> None:
    try:
        reports.put((shard, None, worker(device, inp, out, cfg)))
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:
        reports.put((shard, str(e) if isinstance(e, Cpp2PyError) else f"{type(e).__name__}: {e}", None))
        sys.exit(1)


def translate_sharded(benchmark_path: str | Path, predictions_path: str | Path, cfg: Any, num_gpus: int,
                      *, worker: Callable[[str, Path, Path, Any], Any]) -> list[Any]:
    """Translate a benchmark JSONL on ``num_gpus`` GPUs, one process each, and merge in input order.

    Process ``i`` sees only GPU ``i`` (of those in ``CUDA_VISIBLE_DEVICES``, when it is set) and appends
    its finished items to its shard file, so an interrupted run loses nothing and a rerun (``cfg.resume``,
    default on) continues every shard where it stopped. ``worker(device, input, output, cfg)`` translates
    one shard (:func:`cpp2py.jobs.translate.translate_on_gpu`; tests pass a fake); what each returns (the translate stage's summary) is returned in shard
    order once ``predictions_path`` holds the merged predictions.
    """
    import multiprocessing

    if num_gpus < 1:
        raise Cpp2PyError(f"--num-gpus {num_gpus}: must be at least 1")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    devices = visible.split(",") if visible else [str(i) for i in range(num_gpus)]
    if len(devices) < num_gpus:
        raise Cpp2PyError(f"--num-gpus {num_gpus}: CUDA_VISIBLE_DEVICES={visible} names only {len(devices)}")
    if not visible and str(getattr(cfg, "device", "cpu")).startswith(("auto", "cuda")):
        # A worker whose GPU does not exist would fall back to the CPU: silently, and many times slower.
        require_gpus(num_gpus, f"; pass --device cpu to run {num_gpus} CPU processes instead")
    paths = write_shard_inputs(benchmark_path, predictions_path, num_gpus, resume=bool(getattr(cfg, "resume", True)))
    keep_multicast_off()
    # spawn, not fork: each worker must start without CUDA state (or torch threads) from the parent.
    ctx = multiprocessing.get_context("spawn")
    reports = ctx.SimpleQueue()
    procs = [ctx.Process(target=_run_shard, args=(worker, i, devices[i], inp, out, cfg, reports), name=f"shard-{i}")
             for i, (inp, out) in enumerate(paths)]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        # The workers got the same Ctrl-C and keep what they finished; wait for them to close their files.
        for p in procs:
            p.join()
        raise
    messages, results = {}, {}
    while not reports.empty():
        shard, message, result = reports.get()
        messages[shard], results[shard] = message, result
    failed = [f"shard {i}/{num_gpus}: {messages.get(i) or f'worker exited with status {p.exitcode}'}"
              for i, p in enumerate(procs) if p.exitcode != 0]
    if failed:
        raise Cpp2PyError("; ".join(failed) + f"; finished items are kept in {shard_dir(predictions_path)}, rerun to resume")
    merge_shards(benchmark_path, [o for _, o in paths], predictions_path)
    shutil.rmtree(shard_dir(predictions_path), ignore_errors=True)
    return [results.get(i) for i in range(num_gpus)]

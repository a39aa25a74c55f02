"""Load test of `cpp2py serve`: 50 concurrent clients with a mix of sizes, on 127.0.0.1 only.

Run as: python benchmarks/serve_load.py [--clients 50] [--rounds 2] [--timeout 3] [--max-queue 32]
                                        [--model NAME_OR_DIR]   (the real model instead of the simulated one)
                                        [--json benchmarks/results/serve_load_cpu.json]

The app runs in this process under uvicorn on a free loopback port. By default its backend is simulated:
a prefill cost per input token, then one decoding step per new token, each row stopping after about
1.2 x its input tokens (a translation's length) or at the budget `translate` gives (2 x input + 64, at
most 2,048), a step costing more with more rows still running, and a check for cancellation at every
step as the real backend does. A batch takes as long as its longest row, as in the real backend. That exercises the server (queue, batching, time limit, cancellation,
limits) without a model; ``--model`` puts the real one behind it (keep the counts small on a CPU).

Phase 1, the mix: each client sends ``rounds`` requests, sizes drawn (70/20/5/5 %) from small (one function),
medium (40), long (400 functions: over the time limit) and huge (2,600 functions, 107 KB: the request of the
report, over the token limit). Phase 2, right after: ``clients`` small requests, at most ``max_queue``
at a time. Before timed-out jobs freed their queue slots, phase 2 was a 429 storm; now it must be all 200.
Reports p50/p95 latency per size and status counts; exits 1 if phase 2 saw anything but 200.
"""
from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SIZES = {"small": 1, "medium": 40, "long": 400, "huge": 2600}
MIX = ["small"] * 14 + ["medium"] * 4 + ["long", "huge"]   # 5 % each of the two kinds of misuse


def cpp_of(size: str, k: int) -> str:
    return "".join(f"int f{k}_{i}(int x) {{ return x * {i} + {k}; }}\n" for i in range(SIZES[size]))


class SimulatedBackend:
    """A model's timing without a model: answers each function with its Python twin."""

    context_window = 32768

    def __init__(self, prefill_us_per_token: float = 20.0, step_ms: float = 1.0, step_ms_per_row: float = 0.25):
        self.prefill_s = prefill_us_per_token / 1e6
        self.step_s, self.row_s = step_ms / 1000, step_ms_per_row / 1000

    def count_tokens(self, text: str) -> int:
        return len(text) // 3 + 1

    def generate(self, conversations, *, decoding, max_new_tokens=None):
        import re

        from cpp2py.generation.backends import Reply, token_budget
        from cpp2py.cancel import raise_if_cancelled

        sources = [c[-1]["content"] for c in conversations]
        tokens = [self.count_tokens(s) for s in sources]
        time.sleep(self.prefill_s * sum(tokens))
        lengths = [min(max_new_tokens or token_budget(t, decoding.max_new_tokens_cap), int(1.2 * t) + 20)
                   for t in tokens]
        for step in range(max(lengths)):
            raise_if_cancelled()
            time.sleep(self.step_s + self.row_s * sum(n > step for n in lengths))
        return [Reply("```python\n" + "\n".join(f"def {name}(x):\n    return x" for name in
                                                re.findall(r"int (\w+)\(int x\)", s)) + "\n```") for s in sources]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(app, port: int):
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit("server did not start")
        time.sleep(0.05)
    return server, thread


def run_phase(url: str, jobs: list[tuple[str, str]], concurrency: int, client_timeout: float) -> list[dict]:
    import httpx

    def one(job: tuple[str, str]) -> dict:
        size, cpp = job
        t0 = time.perf_counter()
        try:
            status = h.post(f"{url}/v1/translate", json={"cpp": cpp}).status_code
        except httpx.HTTPError as e:
            status = type(e).__name__
        return {"size": size, "status": status, "seconds": time.perf_counter() - t0}

    with httpx.Client(timeout=client_timeout, limits=httpx.Limits(max_connections=concurrency)) as h, \
            ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, jobs))


def summarise(results: list[dict]) -> dict:
    def pct(xs: list[float], q: float) -> float:
        return round(statistics.quantiles(xs, n=100, method="inclusive")[q - 1], 3) if len(xs) > 1 else round(xs[0], 3)

    out = {"requests": len(results), "status": dict(Counter(str(r["status"]) for r in results))}
    by_size: dict[str, list[dict]] = {}
    for r in results:
        by_size.setdefault(r["size"], []).append(r)
    out["by_size"] = {
        size: {"n": len(rs), "status": dict(Counter(str(r["status"]) for r in rs)),
               "p50_s": pct([r["seconds"] for r in rs], 50), "p95_s": pct([r["seconds"] for r in rs], 95)}
        for size, rs in sorted(by_size.items(), key=lambda kv: SIZES[kv[0]])}
    ok = [r["seconds"] for r in results if r["status"] == 200]
    if ok:
        out["p50_s_200"], out["p95_s_200"] = pct(ok, 50), pct(ok, 95)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=2, help="requests per client in the mix phase")
    ap.add_argument("--timeout", type=float, default=3.0, help="the server's per-request time limit (s)")
    ap.add_argument("--max-queue", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--model", default=None, help="serve this real model instead of the simulated backend")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = ap.parse_args()

    from cpp2py.serve import ServeConfig, create_app
    from cpp2py.serve.app import build_translator

    port = free_port()
    cfg = ServeConfig(model=args.model, port=port, timeout=args.timeout, max_queue=args.max_queue,
                      batch_size=args.batch_size)
    engine = build_translator(cfg) if args.model else SimulatedBackend()
    app = create_app(engine, cfg)
    server, thread = start_server(app, port)
    url = f"http://127.0.0.1:{port}"
    rng = random.Random(args.seed)
    try:
        mix = [(size, cpp_of(size, k)) for k, size in enumerate(rng.choice(MIX) for _ in range(args.clients * args.rounds))]
        t0 = time.perf_counter()
        phase1 = run_phase(url, mix, args.clients, client_timeout=args.timeout + 30)
        t1 = time.perf_counter()
        after = [("small", cpp_of("small", 10_000 + k)) for k in range(args.clients)]
        phase2 = run_phase(url, after, min(args.clients, args.max_queue), client_timeout=args.timeout + 30)
        t2 = time.perf_counter()
        worker = app.state.worker
        report = {
            "date": time.strftime("%Y-%m-%d"), "backend": args.model or "simulated",
            "config": {"clients": args.clients, "rounds": args.rounds, "timeout_s": args.timeout,
                       "max_queue": args.max_queue, "batch_size": args.batch_size,
                       "max_input_tokens": cfg.max_input_tokens},
            "mix": {**summarise(phase1), "wall_s": round(t1 - t0, 2)},
            "after_timeouts": {**summarise(phase2), "wall_s": round(t2 - t1, 2)},
            "backend_calls": len(worker.batches), "cancelled_calls": worker.cancelled_groups,
            "waiting_at_end": worker.waiting,
        }
    finally:
        server.should_exit = True
        thread.join(10)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if set(report["after_timeouts"]["status"]) != {"200"}:
        raise SystemExit("after the timeouts the server did not answer every request with 200")


if __name__ == "__main__":
    main()

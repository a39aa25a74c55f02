"""The CPU engine against the hf backend (fp32) on one machine: cold CLI latency, in-process latency,
quality on a fixed 200-item sample, and the model's disk use. Writes the JSON and prints the tables of
docs/translation.md.

Run as (from the repository root, with the default model installed and llama-cpp-python built):
    python benchmarks/cpu_engine.py --xlcost <prepare out>/xlcost/test.jsonl \\
        --humaneval <prepare out>/humaneval-x/humaneval-x.jsonl --work /tmp/cpu_engine --out cpu_engine.json

Steps (``--only`` picks some; each is saved into ``--out`` as it finishes, so they can run apart):

* ``cold``: wall time of ``cpp2py translate examples/primes.cpp`` in a fresh process, per backend, 3 runs.
* ``warm``: in one process, the backend's load time, then 3 translations of the same file.
* ``quality``: the sample is the first 100 items of the XLCoST-m test set plus the first 100 of
  HumanEval-X (file order, so it is the same sample on every machine). Each backend translates it
  (greedy, ``cpp2py translate``); ``cpp2py evaluate`` scores CodeBLEU on all 200 and CA@1 on the
  HumanEval-X 100 (the sandbox runs their tests).
* ``disk``: bytes in the model cache that each backend reads (llamacpp: the GGUF with the shipped adapter
  merged in, as ``cpp2py models install --engine llamacpp`` leaves it), and the whole cache.
* ``decode``: why llama.cpp decodes no faster here: the time of one decode call of k tokens (k = 1, 2, 5, 9,
  logits for all k, best of 5) after the prompt of ``examples/primes.cpp``, and that file's greedy reply
  generated plainly and with llama-cpp-python's prompt-lookup speculative decoding (drafts of 10 tokens
  from 2-gram matches in the prompt and the reply so far), both wall times and whether the replies match.
* ``wait``: how OpenMP's threads should wait (``llamacpp.wait_policy``): the cold CLI on ``examples/primes.cpp``
  with ``OMP_WAIT_POLICY`` ACTIVE, PASSIVE and unset (libgomp's default) and as cpp2py chooses it, each
  ``--runs`` times, on the idle machine and with one busy-looping process per CPU beside it.
"""
from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRIMES = ROOT / "examples" / "primes.cpp"
# hf is the transformers path at its CPU default (fp32); llamacpp the GGUF engine (--threads is added).
BACKENDS = {"llamacpp": ["--backend", "llamacpp"], "hf": ["--backend", "hf", "--device", "cpu", "--dtype", "float32"]}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "cpp2py", *args]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def load_avg() -> float:
    return os.getloadavg()[0]


def cold(runs: int) -> dict:
    out = {}
    for name, flags in BACKENDS.items():
        times, loads = [], []
        for _ in range(runs):
            loads.append(load_avg())
            t = time.perf_counter()
            proc = subprocess.run(cli("translate", str(PRIMES), *flags), capture_output=True, text=True, env=env())
            times.append(round(time.perf_counter() - t, 2))
            if proc.returncode != 0:
                raise SystemExit(f"{name}: translate failed: {proc.stderr[-500:]}")
        out[name] = {"seconds": times, "best": min(times), "load_avg_before": loads,
                     "command": f"time cpp2py translate examples/primes.cpp {' '.join(flags)}"}
        print(f"cold {name}: {times}", file=sys.stderr)
    return out


def warm(runs: int) -> dict:
    """Load time and per-call latency inside one process (what ``serve`` and the library see)."""
    from cpp2py.generation.backends import make_backend
    from cpp2py.generation.translator import Translator
    from cpp2py.schema import TranslateConfig

    out = {}
    cpp = PRIMES.read_text()
    threads = next((int(v) for k, v in zip(BACKENDS["llamacpp"], BACKENDS["llamacpp"][1:]) if k == "--threads"), None)
    for name, cfg in {"llamacpp": TranslateConfig(backend="llamacpp", threads=threads),
                      "hf": TranslateConfig(backend="hf", device="cpu", dtype="float32")}.items():
        t = time.perf_counter()
        backend = make_backend(cfg)
        load = time.perf_counter() - t
        translator = Translator(backend, cfg)
        times, tokens = [], []
        for _ in range(runs):
            t = time.perf_counter()
            result = translator.translate_many([cpp])[0]
            times.append(round(time.perf_counter() - t, 2))
            tokens.append(backend.count_tokens(result.raw))
        out[name] = {"load_seconds": round(load, 2), "seconds": times, "best": min(times), "reply_tokens": tokens,
                     "tokens_per_second_best": round(max(n / s for n, s in zip(tokens, times)), 1)}
        print(f"warm {name}: load {load:.1f}s, {times}", file=sys.stderr)
    return out


def decode(threads: int | None) -> dict:
    import llama_cpp
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    from cpp2py import prompt
    from cpp2py.generation import llamacpp, model

    gguf = str(llamacpp.merged_model(model.default_adapter_dir(), model.DEFAULT_BASE))
    threads = threads or len(os.sched_getaffinity(0))

    def load(**kw):
        with llamacpp.model_params(llama_cpp, use_extra_bufts=llamacpp.extra_buffers_safe()):  # as the backend loads
            return llama_cpp.Llama(gguf, n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False, **kw)

    llm = load(logits_all=True)
    text = prompt.render(llamacpp.LlamaCppBackend(llm, "chat").tokenizer, prompt.messages(PRIMES.read_text()), "chat")
    ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
    llm.eval(ids)
    batch_ms = {}
    for k in (1, 2, 5, 9):
        times = []
        for _ in range(5):
            t = time.perf_counter()
            llm._batch.set_batch(batch=list(range(100, 100 + k)), n_past=llm.n_tokens, logits_all=True)
            llm._ctx.decode(llm._batch)
            times.append(time.perf_counter() - t)
            llm._ctx.kv_cache_seq_rm(-1, llm.n_tokens, -1)
        batch_ms[k] = round(min(times) * 1000, 1)
    replies = {}
    for name, engine in {"plain": load(), "prompt_lookup": load(
            draft_model=LlamaPromptLookupDecoding(max_ngram_size=2, num_pred_tokens=10))}.items():
        t = time.perf_counter()
        new = []
        for token in engine.generate(ids, temp=0.0, top_k=1, top_p=1.0, min_p=0.0):
            if llama_cpp.llama_vocab_is_eog(engine._model.vocab, token) or len(new) >= 400:
                break
            new.append(token)
        replies[name] = {"seconds": round(time.perf_counter() - t, 2), "tokens": len(new), "ids": new}
        print(f"decode {name}: {replies[name]['seconds']} s for {len(new)} tokens", file=sys.stderr)
    same = replies["plain"].pop("ids") == replies["prompt_lookup"].pop("ids")
    return {"threads": threads, "batch_of_k_ms": batch_ms, **replies, "same_reply": same}


def wait(runs: int) -> dict:
    policies = {"ACTIVE": "ACTIVE", "PASSIVE": "PASSIVE", "libgomp default": "", "cpp2py's choice": None}
    out: dict = {}
    for setting in ("idle", "busy"):
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(len(os.sched_getaffinity(0)) if setting == "busy" else 0)]
        try:
            time.sleep(1 if hogs else 0)
            for name, policy in policies.items():
                environ = {k: v for k, v in env().items() if k != "OMP_WAIT_POLICY"}
                if policy is not None:
                    # cpp2py keeps a policy it is given; an empty one is libgomp's own default
                    environ["OMP_WAIT_POLICY"] = policy
                times = []
                for _ in range(runs):
                    t = time.perf_counter()
                    subprocess.run(cli("translate", str(PRIMES), *BACKENDS["llamacpp"]), capture_output=True,
                                   env=environ, timeout=600)
                    times.append(round(time.perf_counter() - t, 2))
                out.setdefault(setting, {})[name] = times
                print(f"wait {setting} {name}: {times}", file=sys.stderr)
        finally:
            for hog in hogs:
                hog.kill()
    return out


def sample(xlcost: Path, humaneval: Path, work: Path) -> dict[str, Path]:
    def first(path: Path, n: int) -> list[str]:
        with path.open(encoding="utf-8") as f:
            return list(itertools.islice(f, n))

    work.mkdir(parents=True, exist_ok=True)
    files = {"xlcost100": first(xlcost, 100), "humaneval100": first(humaneval, 100)}
    paths = {}
    for name, lines in {**files, "sample200": files["xlcost100"] + files["humaneval100"]}.items():
        paths[name] = work / f"{name}.jsonl"
        paths[name].write_text("".join(lines), encoding="utf-8")
    return paths


def quality(xlcost: Path, humaneval: Path, work: Path) -> dict:
    paths = sample(xlcost, humaneval, work)
    out: dict = {"generation_seconds": {}}
    for name, flags in BACKENDS.items():
        preds = work / f"{name}.jsonl"
        t = time.perf_counter()
        subprocess.run(cli("translate", str(paths["sample200"]), "-o", str(preds), *flags), check=True, env=env())
        out["generation_seconds"][name] = round(time.perf_counter() - t, 1)
    preds = [a for name in BACKENDS for a in ("--predictions", str(work / f"{name}.jsonl"))]
    for bench, flags in (("sample200", ["--no-exec"]), ("humaneval100", ["--allow-exec"])):
        report = work / f"eval-{bench}"
        subprocess.run(cli("evaluate", "--benchmark", str(paths[bench]), *preds, "--out", str(report), *flags),
                       check=True, env=env())
        metrics = json.loads((report / "metrics.json").read_text())
        out[bench] = {name: {k: metrics[name].get(k) for k in ("n", "codebleu", "codebleu_ci", "ca@1", "ca@1_ci",
                                                                  "parse_rate", "exact_match")}
                      for name in BACKENDS}
    same = identical(work / "llamacpp.jsonl", work / "hf.jsonl")
    out["identical_predictions"] = same
    return out


def identical(a: Path, b: Path) -> int:
    def preds(p: Path) -> dict:
        return {r["id"]: r["prediction"] for r in map(json.loads, p.read_text().splitlines())}

    pa, pb = preds(a), preds(b)
    return sum(pa[k] == pb.get(k) for k in pa)


def disk() -> dict:
    """Bytes each backend reads for the default translator, and the whole model cache."""
    from cpp2py.generation import llamacpp
    from cpp2py.generation import model as M

    spec = M.registry()[M.DEFAULT_BASE]
    gguf = M.gguf_path(M.DEFAULT_BASE, spec)
    merged = llamacpp.default_merge(M.DEFAULT_BASE)
    hf = M.installed_dir(M.DEFAULT_BASE)
    size = lambda paths: sum(p.stat().st_size for p in paths if p and p.is_file())  # noqa: E731
    return {"llamacpp": size([merged]), "hf": size([gguf, *hf.glob("*")]),
            "cache": size(M.cache_home().rglob("*")),
            "files": {"merged": str(merged), "gguf": str(gguf), "hf": str(hf)}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--xlcost", type=Path, help="prepare's xlcost/test.jsonl")
    ap.add_argument("--humaneval", type=Path, help="prepare's humaneval-x.jsonl")
    ap.add_argument("--work", type=Path, default=Path("cpu_engine_work"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="llamacpp threads (default: all cores)")
    ap.add_argument("--only", nargs="+", choices=["cold", "warm", "quality", "disk", "decode", "wait"],
                    default=["cold", "warm", "quality", "disk"])
    ap.add_argument("--out", type=Path, default=Path("cpu_engine.json"))
    args = ap.parse_args()
    if args.threads:
        BACKENDS["llamacpp"] += ["--threads", str(args.threads)]
    result = json.loads(args.out.read_text()) if args.out.is_file() else {}
    result["machine"] = {"cpus": len(os.sched_getaffinity(0)), "processor": platform.processor() or platform.machine(),
                         "python": platform.python_version()}
    for step in args.only:
        if step == "quality" and not (args.xlcost and args.humaneval):
            raise SystemExit("quality needs --xlcost and --humaneval")
        start = load_avg()
        data = {"cold": lambda: cold(args.runs), "warm": lambda: warm(args.runs),
                "quality": lambda: quality(args.xlcost, args.humaneval, args.work), "disk": disk,
                "decode": lambda: decode(args.threads), "wait": lambda: wait(args.runs)}[step]()
        result[step] = {**data, "date": datetime.date.today().isoformat(), "load_avg": [start, load_avg()]}
        args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

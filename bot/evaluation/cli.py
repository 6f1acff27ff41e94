"""`supportbot evaluate`: measure the intent classifier (and the knowledge retrieval) and write
Rasa-compatible reports. Thin: parses options, shows progress, prints the table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from bot.evaluation.evaluate import EvaluationOptions, EvaluationResult


class _RichProgress:
    """Bars on stderr for the long steps (embedding, cross-validation)."""

    def __init__(self, progress: Any) -> None:
        self._progress = progress
        self._task: Any = None

    def stage(self, name: str, total: int | None = None) -> None:
        if self._task is not None:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(name, total=total)

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)


OutOption = Annotated[Path, typer.Option("--out", help="Folder for the reports and plots.")]
TrainOption = Annotated[
    Path | None,
    typer.Option(
        "--train", help="Training data (instead of the project's intents): Rasa NLU YAML or JSONL.", show_default=False
    ),
]
TestOption = Annotated[
    Path | None,
    typer.Option(
        "--test",
        help="Test data: Rasa NLU YAML or JSONL. Without --train the model is trained on the project's intents.",
        show_default=False,
    ),
]
ValOption = Annotated[
    Path | None,
    typer.Option(
        "--val", help="Validation data where thresholds are fitted (with --train and --test).", show_default=False
    ),
]
CrossValidationOption = Annotated[
    bool, typer.Option("--cross-validation", help="Stratified k-fold cross-validation instead of one held-out split.")
]
FoldsOption = Annotated[int, typer.Option("--folds", "-f", help="Number of folds for --cross-validation.")]
TestFractionOption = Annotated[
    float,
    typer.Option("--test-fraction", help="Share of each intent held out for testing (project intents, no --test)."),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed of the split and the folds.")]
KnowledgeOption = Annotated[
    bool,
    typer.Option(
        "--knowledge/--no-knowledge",
        help="Also measure knowledge retrieval (Recall@k, MRR) on the YAML tests with `entry:`.",
    ),
]
SuccessesOption = Annotated[bool, typer.Option("--successes", help="Also write intent_successes.json.")]
NoErrorsOption = Annotated[bool, typer.Option("--no-errors", help="Do not write intent_errors.json.")]
NoPlotOption = Annotated[bool, typer.Option("--no-plot", help="Do not draw the plots.")]


def evaluate_command(
    out: OutOption = Path("results"),
    train: TrainOption = None,
    test: TestOption = None,
    val: ValOption = None,
    cross_validation: CrossValidationOption = False,
    folds: FoldsOption = 5,
    test_fraction: TestFractionOption = 0.2,
    seed: SeedOption = 0,
    knowledge: KnowledgeOption = True,
    successes: SuccessesOption = False,
    no_errors: NoErrorsOption = False,
    no_plot: NoPlotOption = False,
) -> None:
    """Evaluate the intent classifier: held-out split, --cross-validation, or --train/--test files."""
    from bot.evaluation.evaluate import EvaluationOptions

    options = EvaluationOptions(
        out=out,
        train=train,
        test=test,
        val=val,
        cross_validation=cross_validation,
        folds=folds,
        test_fraction=test_fraction,
        seed=seed,
        knowledge=knowledge,
        errors=not no_errors,
        successes=successes,
        plot=not no_plot,
    )
    _print_result(_evaluate(options), out)


evaluate_command.command_name = "evaluate"  # type: ignore[attr-defined]


def _evaluate(options: EvaluationOptions) -> EvaluationResult:
    """Run the evaluation with progress bars; bad data or options end the command (exit 1 or 2)."""
    from rich.console import Console

    from bot import bootstrap
    from bot.cli import _progress, _settings, print_problems
    from bot.errors import ConfigError, DataError
    from bot.evaluation.evaluate import run_evaluation

    settings = _settings()
    try:
        options.check()
        encoder = bootstrap.make_encoder(settings)
        with _progress() as bars:
            return run_evaluation(settings, encoder, options, _RichProgress(bars))
    except DataError as e:
        print_problems(list(e.problems))
        raise typer.Exit(1) from e
    except (ConfigError, ValueError) as e:
        Console(stderr=True).print(f"[red]{e}[/red]")
        raise typer.Exit(2) from e


def _print_result(result: EvaluationResult, out: Path) -> None:
    """The headline metrics as a table, the cross-validation means, and where the reports are."""
    from rich.console import Console
    from rich.table import Table

    from bot.evaluation.evaluate import headline

    console = Console()
    err = Console(stderr=True)
    table = Table(title=f"Evaluation — {result.mode}", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in headline(result):
        table.add_row(name, value)
    if result.crossval is not None:
        summary = result.crossval.summary()
        for part in ("train", "test"):
            for name, stats in summary[part].items():
                table.add_row(f"{part} {name} (cv mean ± std)", f"{stats['mean']:.3f} ± {stats['std']:.3f}")
        if result.crossval.dropped:
            dropped = ", ".join(result.crossval.dropped)
            err.print(f"[yellow]left out (fewer examples than folds):[/yellow] {dropped}")
    console.print(table)
    console.print(f"Reports in [bold]{out}/[/bold]: " + ", ".join(p.name for p in result.files), highlight=False)

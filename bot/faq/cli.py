"""`supportbot kb ...` commands and `validate_knowledge`, used by the main CLI (`bot/cli.py`).

supportbot kb import FILE [--out DIR] [--force]   CSV/TSV -> knowledge Markdown
supportbot kb export FILE                         all entries -> CSV (or TSV for *.tsv)
supportbot kb list                                entries with their ids and file:line
supportbot kb unanswered                          questions the bot could not answer, grouped
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from bot.config import Settings, get_settings
from bot.encoding import Encoder
from bot.errors import Problem, display_path
from bot.faq.csv_io import import_table, write_table
from bot.faq.loader import load_knowledge
from bot.faq.service import KnowledgeService
from bot.faq.unanswered import SqlUnansweredStore

kb_app = typer.Typer(help="Knowledge base: import, export, list, unanswered questions.", no_args_is_help=True)


def validate_knowledge(settings: Settings, encoder: Encoder) -> list[Problem]:
    """Every error and warning of the knowledge folder (what `supportbot validate` reports)."""
    service = KnowledgeService(
        settings.knowledge_path, encoder, state_path=settings.state_path, root=settings.project_dir
    )
    return service.validate()


def _print_problems(problems: list[Problem]) -> None:
    from rich.console import Console

    console = Console(stderr=True)
    for p in problems:
        style = "red" if p.severity == "error" else "yellow"
        console.print(f"[{style}]{p.severity}[/{style}] {p}", markup=True, highlight=False)


@kb_app.command("import")
def import_command(
    file: Annotated[
        Path, typer.Argument(help="A CSV or TSV file with columns question, answer[, alternates, id, tags].")
    ],
    out: Annotated[Path | None, typer.Option(help="Folder to write the Markdown file to (default: knowledge).")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing Markdown file.")] = False,
) -> None:
    """Convert a CSV/TSV export (e.g. from QnA Maker) into a knowledge Markdown file."""
    settings = get_settings()
    folder = out or settings.knowledge_path
    dest = folder / f"{file.stem}.md"
    if dest.exists() and not force:
        typer.echo(f"{display_path(dest, settings.project_dir)} exists — use --force to overwrite it", err=True)
        raise typer.Exit(1)
    entries, problems = import_table(file, dest, display_path(file, settings.project_dir))
    _print_problems(problems)
    if any(p.severity == "error" for p in problems):
        raise typer.Exit(1)
    typer.echo(f"imported {len(entries)} entries into {display_path(dest, settings.project_dir)}")


@kb_app.command("export")
def export_command(
    file: Annotated[Path, typer.Argument(help="Where to write: *.csv or *.tsv.")],
) -> None:
    """Export every entry (id, question, alternates, answer, tags) to CSV or TSV."""
    settings = get_settings()
    loaded = load_knowledge(settings.knowledge_path, settings.project_dir)
    errors = [p for p in loaded.problems if p.severity == "error"]
    if errors:
        _print_problems(errors)
        raise typer.Exit(1)
    write_table(loaded.entries, file)
    typer.echo(f"exported {len(loaded.entries)} entries to {file}")


@kb_app.command("list")
def list_command() -> None:
    """List entries: id, question, number of alternates and where they are."""
    from rich.console import Console
    from rich.table import Table

    settings = get_settings()
    loaded = load_knowledge(settings.knowledge_path, settings.project_dir)
    table = Table("id", "question", "alternates", "where")
    for e in loaded.entries:
        table.add_row(e.id, e.question, str(len(e.alternates)), e.location)
    Console().print(table)
    _print_problems([p for p in loaded.problems if p.severity == "error"])


@kb_app.command("unanswered")
def unanswered_command(
    limit: Annotated[int, typer.Option(help="Show at most this many groups.")] = 50,
) -> None:
    """Questions the knowledge base could not answer, grouped by similarity, most frequent first."""
    from rich.console import Console
    from rich.table import Table

    settings = get_settings()
    store = SqlUnansweredStore.from_settings(settings)
    try:
        groups = store.list_grouped()
    finally:
        store.close()
    table = Table("count", "questions", "last asked", "closest entry (score)")
    for g in groups[:limit]:
        closest = ", ".join(f"{i} ({s:.2f})" for i, s in g.top_scores[:1]) or "-"
        last = datetime.fromtimestamp(g.last_time).strftime("%Y-%m-%d %H:%M")
        table.add_row(str(g.count), "\n".join(g.texts[:5]), last, closest)
    Console().print(table)
    if not groups:
        typer.echo("no unanswered questions")

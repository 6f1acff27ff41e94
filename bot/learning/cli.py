"""`supportbot learn ...`: review what the bot could learn, and accept or reject it (a plugin of bot/cli.py).

supportbot learn review               refresh, then go through the open suggestions one by one (interactive)
supportbot learn refresh              read the signals and store the suggestions (loads the model)
supportbot learn list [--state S]     suggestions (open by default; accepted, rejected or all)
supportbot learn show ID              one suggestion and the diff accepting it would write
supportbot learn accept ID [--by]     write it (the diff is printed first); options change what is written
supportbot learn reject ID [--by]     never suggest these messages again
supportbot learn audit                who accepted or rejected what, and when
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.prompt import Prompt
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from bot.config import Settings, get_settings
from bot.learning.changes import FileChange, Overrides
from bot.learning.errors import LearningError
from bot.learning.suggestions import SUGGESTION_STATES, Suggestion

if TYPE_CHECKING:
    from bot.learning.learner import Learner

learn_app = typer.Typer(
    help="Learn from what customers asked: review suggestions, accept (the files change) or reject them.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)

ByOpt = Annotated[str, typer.Option("--by", help="Who decides (default: your login).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON document instead of a table.")]


def _default_by() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "")


def _learner(settings: Settings, *, with_model: bool) -> Learner:
    """The learner; `with_model` loads the encoder, the knowledge base and the intent model (for refresh)."""
    from bot.learning.wiring import make_learner

    def changed(change: FileChange) -> None:
        if change.area == "knowledge":
            err_console.print("[dim]A running server reloads the knowledge base by itself (watch_knowledge).[/dim]")
        else:
            err_console.print(
                "[dim]A running server retrains in the background and swaps to the new model (learning_retrain); "
                "otherwise run `supportbot train`.[/dim]"
            )

    if not with_model:
        return make_learner(settings, encoder=None, knowledge=None, on_change=changed)
    from bot import bootstrap
    from bot.errors import DataError
    from bot.faq.service import KnowledgeService
    from bot.learning.wiring import nlu_parser

    encoder = bootstrap.make_encoder(settings)
    knowledge: KnowledgeService | None = None
    if settings.knowledge_path.is_dir():
        knowledge = KnowledgeService.from_settings(settings, encoder)
        try:
            knowledge.load()
        except DataError as e:
            err_console.print(f"[yellow]The knowledge base has errors; no alternate phrasings suggested:[/yellow]\n{e}")
            knowledge = None
    private = bootstrap.query_encoder(encoder)  # customer messages stay out of the on-disk cache
    return make_learner(
        settings, encoder=private, knowledge=knowledge, intent_parser=nlu_parser(settings, private), on_change=changed
    )


def _run(action: Any) -> Any:
    try:
        return action()
    except LearningError as e:
        err_console.print(Text(str(e), style="red"))
        raise typer.Exit(1) from e


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "-"


def _what(s: Suggestion) -> str:
    if s.kind == "alternate":
        return f"alternates of entry {s.target}"
    if s.kind == "intent_example":
        return f"examples of intent {s.target}"
    if s.kind == "new_entry":
        return f"new entry: {s.question}"
    return "ignore"


def _table(items: list[Suggestion]) -> Table:
    table = Table("id", "state", "suggestion", "msgs", "signals", "last seen", "why")
    for s in items:
        signals = ", ".join(f"{k} {v}" for k, v in s.signals.items())
        table.add_row(str(s.id), s.state, _what(s), str(s.count), signals, _when(s.last_seen), s.reason)
    return table


def _show(learner: Learner, s: Suggestion, overrides: Overrides | None = None) -> FileChange | None:
    """Print the suggestion and the diff accepting it would write (returns the planned change)."""
    lines = [
        Text.assemble(("#", "dim"), (f"{s.id} ", "bold"), (_what(s), "bold cyan"), f"  ({s.file or 'no file'})"),
        Text(f"{s.count} message(s): " + ", ".join(f"{k} {v}" for k, v in s.signals.items())),
        Text(f"first seen {_when(s.first_seen)}, last seen {_when(s.last_seen)}; state {s.state}"),
        Text("why: " + s.reason),
        Text("customers wrote: " + " | ".join(s.examples[:5])),
    ]
    if s.candidates:
        lines.append(Text("closest: " + ", ".join(f"{n} ({v:.2f})" for n, v in s.candidates)))
    console.print(Panel(Text("\n").join(lines), expand=False))
    if s.state != "open":
        if s.change:
            console.print(Syntax(s.change, "diff", theme="ansi_dark"))
        return None
    preview = learner.preview(s.id or 0, overrides)
    if preview.change is not None:
        if preview.conflict:
            err_console.print(f"[yellow]{preview.change.shown} changed since this suggestion was prepared: "
                              "run `supportbot learn refresh` before accepting it.[/yellow]")  # fmt: skip
        console.print(Syntax(preview.diff or "(no change)\n", "diff", theme="ansi_dark"))
    elif s.kind == "ignore":
        console.print("[dim]Accepting writes nothing: these messages are set aside.[/dim]")
    return preview.change


def _print_json(data: Any) -> None:
    console.print_json(json.dumps(data, ensure_ascii=False))


@learn_app.command("refresh")
def refresh_command(as_json: JsonOpt = False) -> None:
    """Read the signals, group them and store the suggestions (the open ones are replaced)."""
    learner = _learner(get_settings(), with_model=True)
    report = _run(learner.refresh)
    if as_json:
        _print_json({"signals": report.signals, "groups": report.groups, "resolved_groups": report.resolved_groups,
                     "suggestions": [s.as_dict() for s in report.suggestions]})  # fmt: skip
        return
    console.print(
        f"{report.signals} signal(s) in {report.groups} group(s); {report.resolved_groups} group(s) handled well now; "
        f"{len(report.suggestions)} open suggestion(s)"
    )
    if report.suggestions:
        console.print(_table(report.suggestions))


@learn_app.command("list")
def list_command(
    state: Annotated[str, typer.Option(help=f"One of {', '.join(SUGGESTION_STATES)} or all.")] = "open",
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List suggestions (as stored by the last refresh)."""
    if state not in (*SUGGESTION_STATES, "all"):
        err_console.print(f"[red]--state {state!r} is not one of {', '.join(SUGGESTION_STATES)}, all[/red]")
        raise typer.Exit(2)
    items = _learner(get_settings(), with_model=False).suggestions(None if state == "all" else state, limit)
    if as_json:
        _print_json({"suggestions": [s.as_dict() for s in items]})
    elif not items:
        console.print(
            f"No {state} suggestions." + (" Run `supportbot learn refresh` first." if state == "open" else "")
        )
    else:
        console.print(_table(items))


@learn_app.command("show")
def show_command(suggestion_id: Annotated[int, typer.Argument(help="The suggestion's id.")]) -> None:
    """One suggestion, and the diff accepting it would write now."""
    learner = _learner(get_settings(), with_model=False)
    _run(lambda: _show(learner, learner.get(suggestion_id)))


@learn_app.command("accept")
def accept_command(
    suggestion_id: Annotated[int, typer.Argument(help="The suggestion's id.")],
    by: ByOpt = "",
    entry: Annotated[str | None, typer.Option(help="Add the phrasings to this entry instead.")] = None,
    intent: Annotated[str | None, typer.Option(help="Add the examples to this intent instead.")] = None,
    question: Annotated[str | None, typer.Option(help="A new entry's question (default: the drafted one).")] = None,
    answer: Annotated[str | None, typer.Option(help="A new entry's answer (required for a new entry).")] = None,
    file: Annotated[str | None, typer.Option(help="A new entry's file, e.g. knowledge/payments.md.")] = None,
    phrasing: Annotated[
        list[str] | None, typer.Option("--phrasing", help="Add only these phrasings (repeat the option).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the diff, write nothing.")] = False,
) -> None:
    """Accept a suggestion: print the diff, write the file, record who and when."""
    learner = _learner(get_settings(), with_model=False)
    overrides = Overrides(entry, intent, question, answer, file, tuple(phrasing) if phrasing else None)

    def accept() -> None:
        suggestion = learner.get(suggestion_id)
        if suggestion.state == "open":
            _show(learner, suggestion, overrides)
        if dry_run:
            console.print("[dim]--dry-run: nothing written.[/dim]")
            return
        accepted = learner.accept(suggestion_id, by or _default_by(), overrides)
        written = f"; {accepted.change.shown} written" if accepted.change is not None else "; nothing to write"
        console.print(
            f"[green]Accepted[/green] suggestion {suggestion_id} as {accepted.suggestion.decided_by}{written}."
        )

    _run(accept)


@learn_app.command("reject")
def reject_command(
    suggestion_id: Annotated[int, typer.Argument(help="The suggestion's id.")],
    by: ByOpt = "",
    note: Annotated[str | None, typer.Option(help="Why (kept in the audit).")] = None,
) -> None:
    """Reject a suggestion: its messages are not suggested again."""
    learner = _learner(get_settings(), with_model=False)
    rejected = _run(lambda: learner.reject(suggestion_id, by or _default_by(), note))
    console.print(f"Rejected suggestion {suggestion_id} as {rejected.decided_by}.")


@learn_app.command("audit")
def audit_command(
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 50, as_json: JsonOpt = False
) -> None:
    """Who accepted or rejected which suggestion, when, and the diff written."""
    records = _learner(get_settings(), with_model=False).audit(limit)
    if as_json:
        _print_json({"audit": [r.as_dict() for r in records]})
        return
    table = Table("when", "who", "action", "suggestion", "file")
    for r in records:
        table.add_row(_when(r.at), r.by, r.action, f"#{r.suggestion_id} {r.kind} {r.target or ''}", r.file or "-")
    console.print(table if records else "No decisions yet.")


@learn_app.command("review")
def review_command(
    by: ByOpt = "",
    no_refresh: Annotated[
        bool, typer.Option("--no-refresh", help="Review the stored suggestions as they are.")
    ] = False,
) -> None:
    """Go through the open suggestions: accept, reject or skip each (refreshes first)."""
    settings = get_settings()
    who = by or _default_by()
    learner = _learner(settings, with_model=not no_refresh)
    if not no_refresh:
        with console.status("Reading what customers asked…"):
            report = _run(learner.refresh)
        console.print(f"{report.signals} signal(s), {len(report.suggestions)} open suggestion(s).")
    items = learner.suggestions("open")
    if not items:
        console.print("Nothing to review.")
        return
    decided = 0
    for n, suggestion in enumerate(items, 1):
        console.rule(f"{n} of {len(items)}")
        if not _review_one(learner, suggestion, who):
            break
        decided += 1
    console.print(f"Reviewed {decided} of {len(items)}.")


def _review_one(learner: Learner, suggestion: Suggestion, who: str) -> bool:
    """One suggestion; False when the reviewer quits."""
    overrides = Overrides()
    while True:
        try:
            _show(learner, suggestion, overrides)
        except LearningError as e:
            err_console.print(Text(str(e), style="red"))
        choices = ["a", "r", "s", "q"] + (["e"] if suggestion.kind in ("alternate", "intent_example") else [])
        label = "[a]ccept, [r]eject, [s]kip, [q]uit" + (", [e] other target" if "e" in choices else "")
        choice = Prompt.ask(label, choices=choices, default="s", console=console, show_choices=False)
        if choice == "q":
            return False
        if choice == "s":
            return True
        if choice == "e":
            target = Prompt.ask("Entry id" if suggestion.kind == "alternate" else "Intent", console=console).strip()
            overrides = Overrides(entry=target) if suggestion.kind == "alternate" else Overrides(intent=target)
            continue
        try:
            if choice == "r":
                learner.reject(suggestion.id or 0, who)
                console.print("[yellow]Rejected.[/yellow]")
                return True
            if suggestion.kind == "new_entry":
                question = Prompt.ask("Question", default=suggestion.question or "", console=console)
                answer = Prompt.ask("Answer (one paragraph; edit the file for more)", console=console)
                overrides = Overrides(question=question, answer=answer)
                _show(learner, suggestion, overrides)
                if Prompt.ask("Write it?", choices=["y", "n"], default="y", console=console) != "y":
                    continue
            accepted = learner.accept(suggestion.id or 0, who, overrides)
            console.print(f"[green]Accepted[/green]{f': {accepted.change.shown} written' if accepted.change else ''}.")
            return True
        except LearningError as e:
            err_console.print(Text(str(e), style="red"))
            return True

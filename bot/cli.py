"""`supportbot` command line: train, validate, ask, chat, serve, and the staff/operator tools."""

from __future__ import annotations

import importlib
import json
import logging
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from bot.config import Settings
from bot.errors import ConfigError, DataError, Problem, SupportbotError

app = typer.Typer(
    name="supportbot",
    help="Self-hosted customer-support chatbot: train, check, try and serve your bot.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

KnowledgeOpt = Annotated[
    Path | None, typer.Option("--knowledge", help="Knowledge folder (default: knowledge/).", show_default=False)
]


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings().with_overrides(**overrides)
    except ValueError as e:
        err_console.print(f"[red]Invalid settings:[/red] {e}")
        raise typer.Exit(2) from e


def _setup_logging(verbose: bool = False) -> None:
    from rich.logging import RichHandler

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
    )
    for noisy in ("sentence_transformers", "transformers", "httpx", "faiss", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def print_problems(problems: list[Problem]) -> None:
    """file:line, the message and the fix; printed literally (messages quote "[text](entity)")."""
    for problem in problems:
        colour = "red" if problem.severity == "error" else "yellow"
        line = Text(problem.severity, style=colour) + Text(" ") + Text(problem.location, style="bold")
        line += Text(f": {problem.message}")
        if problem.fix:
            line += Text("\n    fix: ", style="dim") + Text(problem.fix)
        err_console.print(line, highlight=False)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    _setup_logging(verbose)


@app.command()
def train(
    force: Annotated[bool, typer.Option("--force", help="Retrain even if nothing changed.")] = False,
    knowledge: KnowledgeOpt = None,
) -> None:
    """Validate the data and train the model (does nothing when nothing changed)."""
    from bot import bootstrap

    settings = _settings(knowledge_dir=knowledge)
    project = bootstrap.load_project(settings)
    if project.problems:
        print_problems(project.problems)
    if project.errors:
        count = len(project.errors)
        err_console.print(f"[red]Training stopped: {count} error(s).[/red] The previous model keeps serving.")
        raise typer.Exit(1)
    encoder = bootstrap.make_encoder(settings)
    with _progress() as progress:
        task = progress.add_task("Preparing", total=None)

        def stage(name: str) -> None:
            total = len(project.data.examples) if name == "encoding" else None
            progress.update(task, description=name.capitalize(), total=total, completed=0)

        try:
            result = bootstrap.train(
                settings,
                encoder,
                force=force,
                project=project,
                on_stage=stage,
                progress=lambda n: progress.advance(task, n),
            )
        except DataError as e:
            print_problems(list(e.problems))
            raise typer.Exit(1) from e
    if result.trained:
        report = ", ".join(f"{k}={v:.3g}" for k, v in result.report.items())
        console.print(f"[green]Trained[/green] {result.path.name} in {result.seconds:.1f}s ({report})")
    else:
        console.print(f"[green]Up to date[/green]: {result.path.name} (nothing changed, nothing retrained)")


@app.command()
def validate(knowledge: KnowledgeOpt = None) -> None:
    """Check intents, responses, domain, knowledge and page-trigger files; exit 1 on errors."""
    from bot import bootstrap
    from bot.data_checks import check_training_data

    settings = _settings(knowledge_dir=knowledge)
    project = bootstrap.load_project(settings)
    problems = list(project.problems)
    problems.extend(check_training_data(project, bootstrap.make_encoder(settings), settings=settings))
    problems.extend(_knowledge_problems(settings))
    problems.extend(_trigger_problems(settings))
    print_problems(problems)
    errors = [p for p in problems if p.severity == "error"]
    warnings = len(problems) - len(errors)
    if errors:
        err_console.print(f"[red]{len(errors)} error(s)[/red], {warnings} warning(s)")
        raise typer.Exit(1)
    console.print(f"[green]All good[/green]: no errors, {warnings} warning(s)")


def _knowledge_problems(settings: Settings) -> list[Problem]:
    try:
        from bot.faq.cli import validate_knowledge
    except ImportError:
        return []
    from bot import bootstrap

    return list(validate_knowledge(settings, bootstrap.make_encoder(settings)))


def _trigger_problems(settings: Settings) -> list[Problem]:
    """The page triggers file's problems, with file:line as the trigger loader reports them."""
    from bot.errors import display_path
    from bot.proactive.triggers import load_triggers

    path = settings.path(settings.triggers_file)
    return load_triggers(path, display_path(path, settings.project_dir))[1]


def _load_assistant(settings: Settings) -> Any:
    from bot import bootstrap

    try:
        return bootstrap.load_serving(settings).assistant
    except DataError as e:
        print_problems(list(e.problems))
        raise typer.Exit(1) from e
    except SupportbotError as e:
        err_console.print(f"[red]{e}[/red]")
        raise typer.Exit(1) from e


def _result_json(result: Any, text: str) -> dict[str, Any]:
    data: dict[str, Any] = result.as_json(text)
    return data


@app.command()
def ask(
    text: Annotated[str, typer.Argument(help="The message, or - to read one message per line from stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print Rasa's parse shape plus the replies.")] = False,
    sender: Annotated[str, typer.Option(help="Conversation id (default: a new one per message).")] = "",
    knowledge: KnowledgeOpt = None,
) -> None:
    """Send one message (or many with -) and print the bot's answer."""
    from bot.types import Message

    settings = _settings(knowledge_dir=knowledge)
    assistant = _load_assistant(settings)
    messages = (line.rstrip("\n") for line in sys.stdin) if text == "-" else iter([text])
    for line in messages:
        message = Message(sender or f"cli-{uuid.uuid4().hex[:8]}", line, input_channel="cli")
        result = assistant.handle_full(message)
        if as_json or text == "-":
            sys.stdout.write(json.dumps(_result_json(result, line), ensure_ascii=False) + "\n")
            sys.stdout.flush()
        else:
            _print_replies(result.replies)


def _say(prefix: str, text: str, style: str = "bold cyan") -> None:
    """Print bot or customer text literally (no rich markup: "[link](url)" stays as written)."""
    console.print(Text(prefix, style=style) + Text(text), highlight=False)


def _print_replies(replies: list[Any]) -> None:
    for reply in replies:
        _say("bot> ", reply.text)
        for button in reply.buttons:
            _say("      ", f"[{button.title}] → {button.payload}", "dim")
        for source in reply.sources:
            _say("      source: ", f"{source.title} ({source.id}) {source.url or source.file}", "dim")


@app.command()
def chat(
    debug: Annotated[bool, typer.Option("--debug", help="Show intent, confidence and entities per turn.")] = False,
    sender: Annotated[str, typer.Option(help="Conversation id.")] = "cli-chat",
    knowledge: KnowledgeOpt = None,
) -> None:
    """Talk to the bot in the terminal. Type a button's number to press it; Ctrl-D to quit."""
    from bot.types import Message

    settings = _settings(knowledge_dir=knowledge)
    assistant = _load_assistant(settings)
    console.print("[dim]Chatting with the bot. /restart starts over; Ctrl-D quits.[/dim]")
    buttons: list[Any] = []
    while True:
        try:
            line = console.input("[bold green]you>[/bold green] ")
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if line.strip().isdigit() and buttons and 0 < int(line) <= len(buttons):
            line = buttons[int(line) - 1].payload
        result = assistant.handle_full(Message(sender, line, input_channel="cli"))
        if debug and result.parse is not None:
            p = result.parse
            ranking = ", ".join(f"{s.name} {s.confidence:.2f}" for s in p.intent_ranking[:3])
            ents = ", ".join(f"{e.entity}={e.value!r}" for e in p.entities) or "none"
            _say("  ", f"intent: {p.intent.name} ({p.intent.confidence:.2f}) | {ranking} | entities: {ents}", "dim")
        buttons = [b for r in result.replies for b in r.buttons]
        for reply in result.replies:
            _say("bot> ", reply.text)
            for source in reply.sources:
                _say("      source: ", f"{source.title} ({source.id})", "dim")
        for number, button in enumerate(buttons, 1):
            _say(f"      [{number}] ", button.title, "bold")


PLUGINS: tuple[tuple[str, str, str | None], ...] = (
    ("server.cli", "serve_command", None),
    ("bot.actions.cli", "seed_command", None),
    ("bot.evaluation.cli", "evaluate_command", None),
    ("bot.faq.cli", "kb_app", "kb"),
    ("bot.handoff_cli", "handoff_app", "handoff"),
    ("bot.customers.cli", "customers_app", "customers"),
    ("bot.staff.cli", "staff_app", "staff"),
    ("bot.actions.catalogue_cli", "catalogue_app", "catalogue"),
    ("bot.learning.cli", "learn_app", "learn"),
    ("bot.proactive.cli", "events_app", "events"),
    ("bot.proactive.cli", "triggers_app", "triggers"),
    ("bot.migrations.cli", "db_app", "db"),
)
"""Commands and command groups owned by other modules: (module, attribute, group name). `serve` belongs
to the server, so this module never imports the web layer."""


def main() -> None:
    try:
        _register_plugins()
        app()
    except SupportbotError as e:
        err_console.print(f"[red]{e}[/red]")
        sys.exit(1)


def _register_plugins() -> None:
    """Add every plugin of `PLUGINS` to the app. One that cannot be imported stops the CLI with the cause."""
    for module, attr, name in PLUGINS:
        item = _plugin(module, attr)
        if isinstance(item, typer.Typer):
            app.add_typer(item, name=name)
        else:
            app.command(name=getattr(item, "command_name", None))(item)


def _plugin(module: str, attr: str) -> Any:
    try:
        imported = importlib.import_module(module)
    except ImportError as e:
        raise ConfigError(
            f"the command-line plugin {module} cannot be imported ({type(e).__name__}: {e}) — reinstall "
            "supportbot (`pip install -e .`) or remove the plugin from PLUGINS in bot/cli.py"
        ) from e
    try:
        return getattr(imported, attr)
    except AttributeError as e:
        raise ConfigError(
            f"the command-line plugin {module} has no `{attr}` — restore it, or fix PLUGINS in bot/cli.py"
        ) from e

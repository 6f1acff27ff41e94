"""`supportbot events send SENDER|--email EMAIL EVENT --entity k=v` and `supportbot triggers check` (plugins
of bot/cli.py; docs/proactive.md).

`events send` posts the event to the running server's `POST /conversations/{sender}/trigger_intent` with
the admin token of the settings (`--url` defaults to `http://host:port` of the settings), so the worker
holding the customer's widget pushes the message at once. `--email` sends it to the latest conversation
of the customer with that email that the customer memory knows (bot/customers/). Entity values are read
as JSON when they parse (`refund_days=5`), else as text (`item=your coat`).
Exit codes: 0 sent, 1 refused (unknown event, bad entity, unknown customer, server down), 2 bad usage.
`triggers check` validates knowledge/triggers.yml and prints every problem with file:line.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

events_app = typer.Typer(help="Events from the shop: send one to a customer's conversation.", no_args_is_help=True)
triggers_app = typer.Typer(help="Page triggers (knowledge/triggers.yml): check the file.", no_args_is_help=True)


def parse_entities(pairs: list[str]) -> dict[str, Any]:
    """`k=v` pairs as entities; a value that parses as JSON is that value, else the text."""
    entities: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{pair!r} is not name=value (e.g. --entity order_number=AN-10001)")
        try:
            entities[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            entities[key.strip()] = value
    return entities


def sender_for_email(email: str) -> str:
    """The latest conversation of the customer with this email (customer memory); Exit(1) when there is none."""
    from bot.cli import _settings, err_console
    from bot.customers.identity import Identity
    from bot.customers.sql import SqlCustomerStore

    profile = SqlCustomerStore.from_url(_settings().resolved_database_url).find(Identity.email(email))
    conversations = sorted(profile.conversations, key=lambda c: c.updated_at) if profile else []
    if not conversations:
        err_console.print(
            f"[red]no conversation of a customer with the email {email!r} is known; send to a sender id[/red]"
        )
        raise typer.Exit(1)
    return conversations[-1].sender_id


@events_app.command("send")
def send(
    event: Annotated[str, typer.Argument(help="The event, e.g. EXTERNAL_order_shipped (intents/domain/events.yml).")],
    sender: Annotated[str | None, typer.Option("--sender", "-s", help="The conversation (sender id).")] = None,
    email: Annotated[str | None, typer.Option("--email", help="The customer's email instead of a sender id.")] = None,
    entity: Annotated[list[str] | None, typer.Option("--entity", "-e", help="name=value; repeat for each.")] = None,
    url: Annotated[str | None, typer.Option(help="The server; default http://host:port of the settings.")] = None,
) -> None:
    """Fire an event into a customer's conversation; the bot's message reaches their open widget at once."""
    import httpx

    from bot.cli import _settings, console, err_console

    if (sender is None) == (email is None):
        raise typer.BadParameter("give either --sender SENDER or --email EMAIL")
    settings = _settings()
    target = sender or sender_for_email(str(email))
    base = url or f"http://{settings.host}:{settings.port}"
    headers = {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"} if settings.admin_token else {}
    body = {"name": event, "entities": parse_entities(entity or [])}
    try:
        answer = httpx.post(
            f"{base}/conversations/{target}/trigger_intent",
            params={"output_channel": "latest"},
            json=body,
            headers=headers,
            timeout=30,
        )
    except httpx.HTTPError as e:
        err_console.print(f"[red]cannot reach the server at {base} ({e}); is `supportbot serve` running?[/red]")
        raise typer.Exit(1) from e
    if answer.status_code != 200:
        error = (
            answer.json().get("error", {})
            if answer.headers.get("content-type", "").startswith("application/json")
            else {}
        )
        err_console.print(
            f"[red]{answer.status_code} {error.get('code', '')}: {error.get('message', answer.text)}[/red]"
        )
        raise typer.Exit(1)
    for message in answer.json().get("messages", []):
        console.print(f"[bold]bot → {target}:[/bold] {message.get('text', '')}", highlight=False)


@triggers_app.command("check")
def check() -> None:
    """Validate the triggers file; print each problem with file:line (exit 1 on errors)."""
    from bot.cli import _settings, console, err_console
    from bot.errors import display_path
    from bot.proactive.triggers import load_triggers

    settings = _settings()
    path = settings.path(settings.triggers_file)
    triggers, problems = load_triggers(path, display_path(path, settings.project_dir))
    for problem in problems:
        err_console.print(f"[red]{problem}[/red]", highlight=False)
    if problems:
        raise typer.Exit(1)
    console.print(f"{len(triggers)} trigger(s), no problems: {', '.join(t.id for t in triggers)}")

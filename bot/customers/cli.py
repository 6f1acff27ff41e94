"""`supportbot customers show|export|delete WHO` and `supportbot customers purge` (a plugin of bot/cli.py).

WHO is an email address, or the shop's customer id of a signed-in customer. The same operations answer
under `/admin/customers/` (server/routes/admin_customers.py); both go through `PersonalRecords`.
Exit codes: 0 done, 1 nothing is stored about WHO (or the database failed), 2 bad usage.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.customers.records import PersonalRecords
from bot.customers.retention import purge_conversations
from bot.customers.store import CustomerNotFoundError
from bot.errors import BackendError

customers_app = typer.Typer(
    help="What supportbot stores about a customer (show, export, delete) and the retention purge.",
    no_args_is_help=True,
)
Who = Annotated[str, typer.Argument(help="An email address, or the shop's customer id of a signed-in customer.")]


def _records() -> PersonalRecords:
    from bot.cli import _settings

    return PersonalRecords.from_settings(_settings())


def _fail(error: Exception) -> typer.Exit:
    from bot.cli import err_console

    err_console.print(f"[red]{error}[/red]", highlight=False)
    return typer.Exit(1)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


@customers_app.command("show")
def customers_show(who: Who) -> None:
    """The customer's profile and how much else is stored about them (counts)."""
    try:
        _print_json(_records().show(who))
    except (CustomerNotFoundError, BackendError) as e:
        raise _fail(e) from e


@customers_app.command("export")
def customers_export(
    who: Who,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the JSON to this file (default: standard output).")
    ] = None,
) -> None:
    """Everything stored about the customer, as one JSON document (their right of access)."""
    try:
        data = _records().export(who)
    except (CustomerNotFoundError, BackendError) as e:
        raise _fail(e) from e
    if output is None:
        _print_json(data)
        return
    output.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    typer.echo(f"Exported to {output}: {len(data['conversations'])} conversation(s), profile: {bool(data['profile'])}.")


@customers_app.command("delete")
def customers_delete(
    who: Who, yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False
) -> None:
    """Delete everything stored about the customer (their right to erasure). Their orders stay in the shop."""
    records = _records()
    try:
        shown = records.show(who)
    except (CustomerNotFoundError, BackendError) as e:
        raise _fail(e) from e
    stored = ", ".join(f"{k}: {v}" for k, v in shown["stored"].items())
    if not yes and not typer.confirm(
        f"Delete everything stored about {who} (profile: {bool(shown['profile'])}, {stored})?"
    ):
        typer.echo("Nothing deleted.")
        raise typer.Exit(1)
    try:
        deleted = records.delete(who)
    except (CustomerNotFoundError, BackendError) as e:
        raise _fail(e) from e
    typer.echo(f"Deleted {deleted.total} row(s): {deleted.summary()}.")


@customers_app.command("purge")
def customers_purge(
    days: Annotated[
        int | None,
        typer.Option("--days", min=1, help="Purge text older than this (default: conversation_retention_days)."),
    ] = None,
) -> None:
    """Delete conversation text older than the retention (`conversation_retention_days`)."""
    from bot.cli import _settings

    settings = _settings()
    keep = days if days is not None else settings.conversation_retention_days
    if keep <= 0:
        typer.echo("conversation_retention_days is 0: conversations are kept forever, nothing purged.")
        return
    try:
        purged = purge_conversations(_records().database, keep)
    except BackendError as e:
        raise _fail(e) from e
    typer.echo(f"Purged conversation text older than {keep} days: {purged.summary()}.")

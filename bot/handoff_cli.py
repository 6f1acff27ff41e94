"""`supportbot handoff list|resume ID`: conversations handed over to a person (a plugin of bot/cli.py).

The tickets are the platform's (`bot.dialogue.handoff`); resuming goes through `resume_conversation`,
as the operator endpoint `POST /admin/handoffs/{id}/resume` does.
"""

from __future__ import annotations

from typing import Annotated

import typer

from bot.dialogue.handoff import HandoffStatus, get_handoff_store, resume_conversation

handoff_app = typer.Typer(help="Conversations handed over to a person.", no_args_is_help=True)


@handoff_app.command("list")
def handoff_list(
    all_tickets: Annotated[bool, typer.Option("--all", help="Include resolved tickets.")] = False,
) -> None:
    """List open handoff tickets (oldest first)."""
    tickets = get_handoff_store().tickets(status=None if all_tickets else HandoffStatus.OPEN)
    if not tickets:
        typer.echo("No open handoff tickets.")
    for t in tickets:
        last = t.transcript[-1].text if t.transcript else ""
        typer.echo(f"#{t.id}  {t.status.value:8}  {t.created_at:%Y-%m-%d %H:%M} UTC  {t.sender_id}  {last[:60]!r}")


@handoff_app.command("resume")
def handoff_resume(ticket_id: int) -> None:
    """Resolve ticket ID and give its conversation back to the bot."""
    from bot.bootstrap import make_tracker_store
    from bot.config import get_settings

    store = make_tracker_store(get_settings())
    ticket = resume_conversation(ticket_id, get_handoff_store(), store)
    typer.echo(f"Ticket #{ticket.id} resolved; the bot answers {ticket.sender_id} again.")

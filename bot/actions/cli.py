"""`supportbot seed` and `supportbot handoff list|resume ID` (registered by bot/cli.py as plugins).

`resume_conversation` is the one place that gives a paused conversation back to the bot; the HTTP
operator endpoint calls it too.
"""

from __future__ import annotations

from typing import Annotated

import typer

from bot.actions.backend.protocol import HandoffStatus, HandoffTicket, ShopBackend
from bot.dialogue.state import event
from bot.dialogue.tracker_store import TrackerStore


def resume_conversation(ticket_id: int, backend: ShopBackend, tracker_store: TrackerStore) -> HandoffTicket:
    """Resolve the ticket and un-pause its conversation (appends a Rasa `resume` event), atomically per sender."""
    ticket = backend.get_handoff(ticket_id)
    if ticket is None:
        from bot.actions.backend.protocol import HandoffNotFoundError

        raise HandoffNotFoundError(f"no handoff ticket {ticket_id} — list open tickets with `supportbot handoff list`")
    with tracker_store.lock(ticket.sender_id):
        state = tracker_store.load(ticket.sender_id)
        if state is not None and state.paused:
            state.paused = False
            state.add(event("resume"))
            tracker_store.save(state)
    return backend.resolve_handoff(ticket_id)


def seed_command(
    reset: Annotated[bool, typer.Option("--reset", help="Drop the shop tables and load the demo data again.")] = False,
) -> None:
    """Create the shop database and load the demo customers, orders and appointment slots."""
    from bot.actions.backend import ensure_sqlite_folder, get_backend, reset_backend_cache
    from bot.actions.backend.seed import seed
    from bot.actions.backend.sql import SqlShopBackend
    from bot.config import get_settings

    reset_backend_cache()
    url = get_settings().resolved_database_url
    ensure_sqlite_folder(url)
    backend = SqlShopBackend(url) if reset else get_backend()
    report = seed(backend, reset=reset)
    if report.seeded:
        typer.echo(
            f"Seeded {report.customers} customers, {report.orders} orders, {report.slots} appointment slots and "
            f"{report.appointments} bookings ({backend.url}). Fully booked day in Paris: {report.fully_booked_day}. "
            "See docs/demo-data.md."
        )
    else:
        typer.echo(f"The shop database already holds data ({backend.url}); use --reset to start again.")
    backend.dispose()


seed_command.command_name = "seed"  # type: ignore[attr-defined]

handoff_app = typer.Typer(help="Conversations handed over to a person.", no_args_is_help=True)


@handoff_app.command("list")
def handoff_list(
    all_tickets: Annotated[bool, typer.Option("--all", help="Include resolved tickets.")] = False,
) -> None:
    """List open handoff tickets (oldest first)."""
    from bot.actions.backend import get_backend

    tickets = get_backend().list_handoffs(status=None if all_tickets else HandoffStatus.OPEN)
    if not tickets:
        typer.echo("No open handoff tickets.")
    for t in tickets:
        last = t.transcript[-1].text if t.transcript else ""
        typer.echo(f"#{t.id}  {t.status.value:8}  {t.created_at:%Y-%m-%d %H:%M} UTC  {t.sender_id}  {last[:60]!r}")


@handoff_app.command("resume")
def handoff_resume(ticket_id: int) -> None:
    """Resolve ticket ID and give its conversation back to the bot."""
    from bot.actions.backend import get_backend
    from bot.bootstrap import make_tracker_store
    from bot.config import get_settings

    store = make_tracker_store(get_settings())
    ticket = resume_conversation(ticket_id, get_backend(), store)
    typer.echo(f"Ticket #{ticket.id} resolved; the bot answers {ticket.sender_id} again.")

"""`supportbot seed`: the reference shop's database (registered by bot/cli.py as a plugin)."""

from __future__ import annotations

from typing import Annotated

import typer


def seed_command(
    reset: Annotated[bool, typer.Option("--reset", help="Drop the shop tables and load the demo data again.")] = False,
) -> None:
    """Create the shop database and load the demo customers, orders, catalogue and appointment slots."""
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
            f"Seeded {report.customers} customers, {report.orders} orders, {report.products} products, "
            f"{report.slots} appointment slots and "
            f"{report.appointments} bookings ({backend.url}). Fully booked day in Paris: {report.fully_booked_day}. "
            "See docs/demo-data.md."
        )
    else:
        typer.echo(f"The shop database already holds data ({backend.url}); use --reset to start again.")
    backend.dispose()


seed_command.command_name = "seed"  # type: ignore[attr-defined]

"""`supportbot db`: the database schema (bot/migrations, docs/deploy.md).

supportbot db upgrade      bring SUPPORTBOT_DATABASE_URL's database to the newest migration (serve does it too)
supportbot db current      the revision the database is at, and the newest one
"""

from __future__ import annotations

import typer

from bot.config import get_settings

db_app = typer.Typer(help="The database schema: Alembic migrations.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade_command() -> None:
    """Bring the database to the newest migration (safe while other nodes start: they wait for one lock)."""
    from bot.migrations import upgrade

    settings = get_settings()
    revision = upgrade(settings.resolved_database_url)
    typer.echo(f"database at {revision}")


@db_app.command("current")
def current_command() -> None:
    """The revision the database is at (none: never migrated) and the newest one."""
    from bot.dialogue.tracker_store import make_engine
    from bot.migrations import current, head

    engine = make_engine(get_settings().resolved_database_url)
    try:
        typer.echo(f"database at {current(engine) or 'none'}; newest {head()}")
    finally:
        engine.dispose()

"""`supportbot db`: the database schema (bot/migrations, docs/deploy.md).

supportbot db upgrade      bring SUPPORTBOT_DATABASE_URL's database to the newest migration (serve does it too)
supportbot db current      the revision the database is at, and the newest one
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot.config import get_settings
from bot.errors import BackendError

T = TypeVar("T")

db_app = typer.Typer(help="The database schema: Alembic migrations.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade_command() -> None:
    """Bring the database to the newest migration (safe while other nodes start: they wait for one lock)."""
    from bot.migrations import upgrade

    url = get_settings().resolved_database_url
    revision = _reaching(url, lambda: upgrade(url))
    typer.echo(f"database at {revision}")


@db_app.command("current")
def current_command() -> None:
    """The revision the database is at (none: never migrated) and the newest one."""
    from bot.dialogue.tracker_store import make_engine
    from bot.migrations import current, head

    url = get_settings().resolved_database_url
    engine = make_engine(url)
    try:
        at = _reaching(url, lambda: current(engine))
        typer.echo(f"database at {at or 'none'}; newest {head()}")
    finally:
        engine.dispose()


def _reaching(url: str, work: Callable[[], T]) -> T:
    """`work()`, with a database that cannot be reached said in one line that names it and the fix."""
    try:
        return work()
    except DBAPIError as e:
        shown = make_url(url).render_as_string(hide_password=True)
        reason = str(e.orig).strip().splitlines()[0] if e.orig else type(e).__name__
        raise BackendError(
            f"cannot reach the database {shown} ({reason}) — check SUPPORTBOT_DATABASE_URL and that the database "
            "server is up, then run the command again"
        ) from e

"""The bot's database schema, managed by Alembic migrations (`supportbot db upgrade`, docs/deploy.md).

`upgrade(url)` brings the database at `url` (SQLite or PostgreSQL) to the newest revision in `versions/`:

- an empty database runs every migration, starting with the baseline (`0001_baseline`: every table the stores
  create today);
- a database made before migrations (its tables there, no `alembic_version`) gets the tables it lacks as the
  stores would create them (`create_all`), is stamped at the baseline, then runs the later migrations;
- it runs under a lock, so several nodes starting at once migrate once: a PostgreSQL advisory lock
  (`pg_advisory_lock`, held by the migrating connection; the others wait, then find nothing to do), or for an
  SQLite file an exclusive lock on `<file>.migrate.lock`.

`serve` runs it before the server starts (and `server.workers.prepare`, the cluster's prepare step). The stores
keep their `create_all` at construction, so tests and tools that build a store on a fresh database still work.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DatabaseError, OperationalError

from bot.database_file import damaged_database, database_file, make_engine
from bot.migrations.schema import all_metadata, table_names

log = logging.getLogger("supportbot.migrations")

HERE = Path(__file__).resolve().parent
BASELINE = "0001_baseline"
VERSION_TABLE = "alembic_version"
ADVISORY_LOCK_KEY = 0x5375_7070_6F72_7462  # "Supportb": one lock for every migrating node of a database


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration without an ini file: the scripts of this package, run on `connection`."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("version_locations", str(HERE / "versions"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest revision."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None, "bot/migrations/versions holds no revision"
    return revision


def current(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(url: str) -> str:
    """Bring the database at `url` to the newest revision (see the module's docstring); the revision it is at."""
    engine = make_engine(url)
    try:
        with _migration_lock(engine) as conn:
            names = set(inspect(conn).get_table_names())
            config = alembic_config(conn)
            if VERSION_TABLE not in names and names & table_names():
                log.info("the database predates migrations: creating the tables it lacks, stamping %s", BASELINE)
                for metadata in all_metadata():
                    metadata.create_all(conn)
                command.stamp(config, BASELINE)
                conn.commit()
            command.upgrade(config, "head")
            conn.commit()
            revision = MigrationContext.configure(conn).get_current_revision()
            conn.commit()
    finally:
        engine.dispose()
    assert revision is not None
    return revision


def migrate_for_serving(url: str) -> None:
    """`upgrade` before a server starts. A database that cannot be reached is logged, not fatal: the node starts,
    says not ready until the database answers, and its stores create what they need (`create_all`); the next
    start migrates. A migration that fails on a reachable database stops the start (raised)."""
    try:
        revision = upgrade(url)
    except (DatabaseError, sqlite3.DatabaseError) as e:
        if damaged_database(url, e) is not None:
            # the server's start-up then stops with the one line that names the file and the fix
            log.warning("database migrations skipped: the database file cannot be read")
            return
        if not isinstance(e, OperationalError):
            raise
        log.warning(
            "database migrations skipped: cannot reach the database (%s); run `supportbot db upgrade` when it is back",
            str(e).splitlines()[0][:200],
        )
        return
    log.info("database schema at %s", revision)


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection to migrate on, held under the database's migration lock until the block ends."""
    file = database_file(engine)
    with contextlib.ExitStack() as stack:
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
            handle = stack.enter_context((file.parent / f"{file.name}.migrate.lock").open("a"))
            fcntl.flock(handle, fcntl.LOCK_EX)
            stack.callback(fcntl.flock, handle, fcntl.LOCK_UN)
        conn = stack.enter_context(engine.connect())
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            conn.commit()  # the lock belongs to the session, across the migrations' transactions
            stack.callback(_unlock, conn)
        yield conn


def _unlock(conn: Connection) -> None:
    conn.rollback()
    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
    conn.commit()

"""Recognising a damaged SQLite database file, and saying what to do about it.

Everything else under `.supportbot/` can be rebuilt and is, with a warning (the knowledge store, the
embedding cache); the database holds conversations, orders, bookings and handoff tickets, so a damaged one
stops the start-up with one message that names the file, the cause and the fix. The SQL stores (the shop
backend, the tracker store) turn their database errors into that message with `damaged_database`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy import event as sa_event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.errors import ConfigError

DAMAGE_SIGNS = (
    "file is not a database",
    "file is encrypted or is not a database",
    "database disk image is malformed",
    "malformed database schema",
)
"""What SQLite says about a file it cannot read as a database."""


def damaged_database(url: str, error: BaseException) -> ConfigError | None:
    """The error to raise when `error` (or what caused it) says the SQLite database at `url` is damaged;
    None when it says something else."""
    cause = _damage(error)
    if cause is None:
        return None
    return ConfigError(
        f"the database file {_file(url)} is damaged ({cause}) — restore it from a backup, or move it away and "
        "run `supportbot seed` to start a new one (its conversations, orders, bookings and tickets are then gone)"
    )


def _damage(error: BaseException | None) -> str | None:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        text = str(getattr(error, "orig", None) or error)
        for sign in DAMAGE_SIGNS:
            if sign in text:
                return sign
        error = error.__cause__ or error.__context__
    return None


def _file(url: str) -> str:
    try:
        database = make_url(url).database
    except ArgumentError:
        return url
    return database or url


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine; SQLite gets WAL and a busy timeout so threads and processes can share it."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # one connection per worker thread (the server runs up to 40); SQLite itself serialises writers
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=16, max_overflow=32
        )

        @sa_event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def database_file(engine: Engine) -> Path | None:
    """The SQLite file behind `engine`; None for an in-memory or URI-named SQLite database, or another one."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    named = database and database != ":memory:" and not database.startswith("file:")
    return Path(database).absolute() if named and database else None

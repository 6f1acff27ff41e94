"""`migrate_for_serving`, what `serve` runs before it starts: a database that cannot be reached (or a damaged
SQLite file) is logged and the start goes on; a migration that fails on a reachable database stops it."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from alembic.util import CommandError
from sqlalchemy import text

from bot.dialogue.tracker_store import make_engine
from bot.migrations import VERSION_TABLE, current, head, migrate_for_serving
from server.testing import free_port

LOGGER = "supportbot.migrations"


def test_a_reachable_database_is_migrated_and_the_revision_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    with caplog.at_level(logging.INFO, logger=LOGGER):
        migrate_for_serving(url)
    engine = make_engine(url)
    try:
        assert current(engine) == head()
    finally:
        engine.dispose()
    assert f"database schema at {head()}" in caplog.text


def test_an_unreachable_database_is_logged_and_the_start_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing_listens_here?connect_timeout=2"
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        migrate_for_serving(url)  # returns: the node starts, and says not ready until the database answers
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert message.startswith("database migrations skipped: cannot reach the database (")
    assert "run `supportbot db upgrade` when it is back" in message


def test_a_damaged_sqlite_file_is_left_to_the_start_up_check(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    database = tmp_path / "bot.db"
    database.write_bytes(b"this is not a database file" * 200)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        migrate_for_serving(f"sqlite:///{database}")
    assert "database migrations skipped: the database file cannot be read" in caplog.text
    assert database.read_bytes().startswith(b"this is not a database file")  # left as it was


def test_a_migration_failing_on_a_reachable_database_stops_the_start(tmp_path: Path) -> None:
    """A database at a revision this version does not know (made by a newer supportbot) cannot be migrated."""
    database = tmp_path / "bot.db"
    with sqlite3.connect(database) as conn:
        conn.execute(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        conn.execute(f"INSERT INTO {VERSION_TABLE} VALUES ('9999_from_the_future')")
    with pytest.raises(CommandError, match="9999_from_the_future"):
        migrate_for_serving(f"sqlite:///{database}")
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one() == "9999_from_the_future"
    finally:
        engine.dispose()

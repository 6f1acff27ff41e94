"""`supportbot db upgrade` and `supportbot db current` (bot/migrations/cli.py) on the database that
SUPPORTBOT_DATABASE_URL names: SQLite here, PostgreSQL too when SUPPORTBOT_TEST_POSTGRES_URL is set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner

from bot.config import get_settings
from bot.dialogue.tracker_store import make_engine
from bot.errors import BackendError
from bot.migrations import VERSION_TABLE, head
from bot.migrations.cli import db_app
from bot.migrations.schema import table_names
from tests.migrations.test_upgrade import _fresh

runner = CliRunner()


@pytest.fixture(params=["sqlite", "postgresql"])
def configured_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh database, named by SUPPORTBOT_DATABASE_URL as the commands read it (`get_settings`)."""
    for url in _fresh(str(request.param), tmp_path, "cli"):
        monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", url)
        monkeypatch.setenv("SUPPORTBOT_STATE_DIR", str(tmp_path / "state"))
        get_settings.cache_clear()
        try:
            yield url
        finally:
            get_settings.cache_clear()


def test_current_says_none_before_and_the_newest_revision_after_upgrade(configured_url: str) -> None:
    before = runner.invoke(db_app, ["current"])
    assert before.exit_code == 0, before.output
    assert before.stdout.strip() == f"database at none; newest {head()}"

    upgraded = runner.invoke(db_app, ["upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.stdout.strip() == f"database at {head()}"
    engine = make_engine(configured_url)
    try:
        assert set(inspect(engine).get_table_names()) == table_names() | {VERSION_TABLE}
    finally:
        engine.dispose()

    after = runner.invoke(db_app, ["current"])
    assert after.exit_code == 0, after.output
    assert after.stdout.strip() == f"database at {head()}; newest {head()}"


def test_upgrade_twice_changes_nothing(configured_url: str) -> None:
    assert runner.invoke(db_app, ["upgrade"]).exit_code == 0
    again = runner.invoke(db_app, ["upgrade"])
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == f"database at {head()}"


def test_the_commands_are_registered_as_supportbot_db() -> None:
    from bot.cli import PLUGINS

    assert ("bot.migrations.cli", "db_app", "db") in PLUGINS
    assert {command.name for command in db_app.registered_commands} == {"upgrade", "current"}


@pytest.mark.parametrize("command", ["upgrade", "current"])
def test_an_unreachable_database_is_one_clear_error_without_the_password(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", "postgresql+psycopg://nobody:s3cret@127.0.0.1:1/nothing")
    monkeypatch.setenv("SUPPORTBOT_STATE_DIR", str(tmp_path / "state"))
    get_settings.cache_clear()
    try:
        result = runner.invoke(db_app, [command])
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0
    assert isinstance(result.exception, BackendError)
    message = str(result.exception)
    assert "127.0.0.1:1/nothing" in message and "SUPPORTBOT_DATABASE_URL" in message
    assert "s3cret" not in message

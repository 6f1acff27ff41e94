"""`bot.migrations.upgrade` on SQLite, and on PostgreSQL when SUPPORTBOT_TEST_POSTGRES_URL is set (`.ci/run`
sets it): the migrated schema is the one the stores' `create_all` makes; a database made before migrations
is stamped and completed, its rows kept; several nodes upgrading at once migrate once."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, inspect, text

from bot.dialogue.tracker_store import make_engine
from bot.feedback import Feedback, SqlFeedbackStore
from bot.feedback import _metadata as feedback_metadata
from bot.migrations import BASELINE, VERSION_TABLE, current, head, upgrade
from bot.migrations.schema import all_metadata, table_names
from tests.databases import fresh_database


def _fresh(kind: str, tmp_path: Path, name: str) -> Iterator[str]:
    yield from fresh_database(kind, tmp_path, f"migrations_{name}", "the migrations")


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    yield from _fresh(kind, tmp_path, "migrated")


@pytest.fixture
def reference_url(kind: str, tmp_path: Path) -> Iterator[str]:
    yield from _fresh(kind, tmp_path, "created")


def schema_of(engine: Engine) -> dict[str, Any]:
    """Each table's columns (name, type's class, nullable), primary key, indexes (name, columns, unique)."""
    inspector = inspect(engine)
    described: dict[str, Any] = {}
    for table in sorted(set(inspector.get_table_names()) - {VERSION_TABLE}):
        described[table] = {
            "columns": [(c["name"], type(c["type"]).__name__, c["nullable"]) for c in inspector.get_columns(table)],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)
            ),
            "foreign_keys": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"]) for f in inspector.get_foreign_keys(table)
            ),
        }
    return described


def test_an_empty_database_gets_exactly_the_schema_the_stores_create(database_url: str, reference_url: str) -> None:
    assert upgrade(database_url) == head()
    migrated = make_engine(database_url)
    created = make_engine(reference_url)
    for metadata in all_metadata():
        metadata.create_all(created)
    try:
        assert set(inspect(migrated).get_table_names()) == table_names() | {VERSION_TABLE}
        assert schema_of(migrated) == schema_of(created)
        assert current(migrated) == head()
        store = SqlFeedbackStore(migrated)  # a store's own create_all finds its table: a no-op
        store.record(Feedback("anna", "r1", "up"))
        assert [f.reply_id for f in store.list("anna")] == ["r1"]
    finally:
        migrated.dispose()
        created.dispose()


def test_a_database_made_before_migrations_is_stamped_and_completed(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        feedback_metadata.create_all(engine)  # an older version: some of today's tables, with customer data
        SqlFeedbackStore(engine).record(Feedback("anna", "r1", "down", "too slow"))
        assert current(engine) is None
        assert upgrade(database_url) == head()
        assert current(engine) == head()
        assert set(inspect(engine).get_table_names()) == table_names() | {VERSION_TABLE}
        [kept] = SqlFeedbackStore(engine).list("anna")
        assert (kept.value, kept.comment) == ("down", "too slow")
        assert upgrade(database_url) == head()  # again: nothing to do
    finally:
        engine.dispose()


def test_nodes_starting_at_once_migrate_once(database_url: str) -> None:
    results: list[str] = []
    errors: list[BaseException] = []

    def node() -> None:
        try:
            results.append(upgrade(database_url))
        except BaseException as e:  # reported below, with the others' results
            errors.append(e)

    threads = [threading.Thread(target=node) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert results == [head()] * 4
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all() == [head()]
    finally:
        engine.dispose()


def test_the_baseline_is_the_first_revision() -> None:
    from alembic.script import ScriptDirectory

    from bot.migrations import alembic_config

    revisions = list(ScriptDirectory.from_config(alembic_config()).walk_revisions())  # newest first
    assert revisions[-1].revision == BASELINE and revisions[-1].down_revision is None


def test_every_table_a_store_creates_is_migrated() -> None:
    """A module of bot/ that calls `create_all` on a table missing from `bot.migrations.schema` would create it
    outside the migrations: every MetaData such a module holds must be listed."""
    root = Path(__file__).resolve().parents[2]
    created: set[str] = set()
    for source in sorted((root / "bot").rglob("*.py")):
        if "create_all(" not in source.read_text(encoding="utf-8") or "migrations" in source.parts:
            continue
        module = importlib.import_module(".".join(source.relative_to(root).with_suffix("").parts))
        for value in vars(module).values():
            metadata = value if isinstance(value, MetaData) else getattr(value, "metadata", None)
            if isinstance(metadata, MetaData):
                created |= set(metadata.tables)
    assert created, "no store found: the scan is broken"
    assert created <= table_names(), sorted(created - table_names())

"""The unanswered-questions store on the bot's database: SQLite, and PostgreSQL when
SUPPORTBOT_TEST_POSTGRES_URL is set (`.ci/run` sets it). Every node of a cluster records into, and staff read
from, the one shared table; a table older versions created in SQLite is used as it is."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bot.config import Settings
from bot.faq.unanswered import SqliteUnansweredStore, SqlUnansweredStore
from tests.databases import fresh_database

OLD_SCHEMA = (
    "CREATE TABLE kb_unanswered (id INTEGER PRIMARY KEY, text TEXT NOT NULL, created_at REAL NOT NULL, "
    "top_scores TEXT NOT NULL, embedding BLOB)"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database: an SQLite file, or a schema of its own in SUPPORTBOT_TEST_POSTGRES_URL's database."""
    yield from fresh_database(str(request.param), tmp_path, "unanswered", "the store")


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_two_nodes_record_into_one_table_and_staff_see_them_grouped(database_url: str) -> None:
    node_a, node_b = SqlUnansweredStore.from_url(database_url), SqlUnansweredStore.from_url(database_url)
    try:
        node_a.record("do you ship to the moon", [("delivery", 0.31), ("returns", 0.2)], unit(1, 0, 0))
        node_b.record("shipping to the moon?", [("delivery", 0.29)], unit(0.95, 0.05, 0))
        node_b.record("can I pay with seashells", [("payment-methods", 0.12)], None)
        staff = SqlUnansweredStore.from_url(database_url)
        questions = staff.all()
        assert [q.text for q in questions] == [
            "do you ship to the moon",
            "shipping to the moon?",
            "can I pay with seashells",
        ]
        assert questions[0].top_scores == (("delivery", 0.31), ("returns", 0.2))
        assert questions[0].embedding is not None and np.allclose(questions[0].embedding, unit(1, 0, 0))
        assert questions[2].embedding is None
        groups = staff.list_grouped()
        assert [(g.count, g.texts) for g in groups] == [
            (2, ("shipping to the moon?", "do you ship to the moon")),
            (1, ("can I pay with seashells",)),
        ]
        staff.close()
    finally:
        node_a.close()
        node_b.close()


def test_from_settings_writes_to_the_database_not_to_the_state_folder(tmp_path: Path) -> None:
    database = tmp_path / "shared" / "bot.db"
    settings = Settings(
        project_dir=tmp_path, state_dir=tmp_path / "state", database_url=f"sqlite:///{database}", watch_knowledge=False
    )
    store = SqlUnansweredStore.from_settings(settings)
    store.record("is there a shop in Lyon", [("store-locations", 0.4)])
    store.close()
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT text FROM kb_unanswered").fetchall() == [("is there a shop in Lyon",)]
    assert not (settings.state_path / "supportbot.db").exists()


def test_a_table_an_older_version_created_is_read_and_extended(tmp_path: Path) -> None:
    file = tmp_path / "supportbot.db"
    with sqlite3.connect(file) as conn:
        conn.execute(OLD_SCHEMA)
        conn.execute(
            "INSERT INTO kb_unanswered (text, created_at, top_scores, embedding) VALUES (?, ?, ?, ?)",
            ("old question", 1_700_000_000.5, '[["delivery", 0.3]]', unit(0, 1).tobytes()),
        )
    store = SqliteUnansweredStore(file)
    store.record("new question", [("returns", 0.2)], unit(1, 0))
    questions = store.all()
    store.close()
    assert [(q.text, q.top_scores) for q in questions] == [
        ("old question", (("delivery", 0.3),)),
        ("new question", (("returns", 0.2),)),
    ]
    assert questions[0].time == 1_700_000_000.5


def test_a_database_that_is_down_loses_the_record_not_the_turn(caplog: pytest.LogCaptureFixture) -> None:
    store = SqlUnansweredStore.from_url("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    with caplog.at_level(logging.WARNING, logger="supportbot.faq"):
        store.record("anything", [("delivery", 0.1)])  # must not raise into the customer's turn
    assert "an unanswered question was not recorded" in caplog.text
    store.close()

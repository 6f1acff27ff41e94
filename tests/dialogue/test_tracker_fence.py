"""The conversation store refuses a write under an older fencing token than the last one that wrote the
conversation (a node that lost the lock while stalled), on SQLite and, when given, on PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.coordination.fencing import Fence, StaleFenceError, fenced
from bot.dialogue.state import ConversationState, event
from bot.dialogue.tracker_store import SqlTrackerStore, make_engine
from tests.databases import fresh_database


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlTrackerStore]:
    for url in fresh_database(request.param, tmp_path, "fence", "the store"):
        engine = make_engine(url)
        try:
            yield SqlTrackerStore(engine)
        finally:
            engine.dispose()


def write(store: SqlTrackerStore, text_: str, token: int | None) -> None:
    state = store.load("s1") or ConversationState("s1")
    state.add(event("user", text=text_))
    state.slots["last"] = text_
    if token is None:
        store.save(state)
        return
    with fenced(Fence("s1", token)):
        store.save(state)


def test_a_write_under_an_older_token_is_refused_and_changes_nothing(store: SqlTrackerStore) -> None:
    write(store, "first", 5)
    with pytest.raises(StaleFenceError):
        write(store, "from the node that lost the lock", 3)
    state = store.load("s1")
    assert state is not None and state.slots["last"] == "first"
    assert [e["text"] for e in state.events if e["event"] == "user"] == ["first"]  # its events rolled back
    write(store, "newer holder", 7)
    write(store, "a tool without a lock", None)  # no token: single machine, always allowed
    with pytest.raises(StaleFenceError):
        write(store, "still stale", 6)  # the token of the last fenced write (7) is kept
    state = store.load("s1")
    assert state is not None and state.slots["last"] == "a tool without a lock"


def test_a_database_made_before_fencing_gets_the_column(tmp_path: Path) -> None:
    file = tmp_path / "old.db"
    with sqlite3.connect(file) as conn:
        conn.execute(
            "CREATE TABLE conversations (sender_id VARCHAR(128) PRIMARY KEY, state TEXT NOT NULL, "
            "updated_at FLOAT NOT NULL)"
        )
        conn.execute("INSERT INTO conversations VALUES ('old', '{\"sender_id\": \"old\"}', 1.0)")
    store = SqlTrackerStore(make_engine(f"sqlite:///{file}"))
    assert store.load("old") is not None
    write(store, "after the upgrade", 2)
    assert store.load("s1") is not None

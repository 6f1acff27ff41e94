"""Handoff tickets: the store (SQL and the in-memory fake), resuming a conversation, existing databases."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

from bot.dialogue.handoff import (
    HandoffNotFoundError,
    HandoffStatus,
    HandoffStore,
    InMemoryHandoffStore,
    SqlHandoffStore,
    TranscriptLine,
    handoff_tickets,
    resume_conversation,
)
from bot.dialogue.state import ConversationState
from bot.dialogue.tracker_store import InMemoryTrackerStore
from bot.errors import BackendError

NOW = datetime(2026, 12, 21, 9, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> HandoffStore:
    if request.param == "memory":
        return InMemoryHandoffStore(clock)
    return SqlHandoffStore.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}", clock=clock)


def test_tickets_open_list_and_resolve(store: HandoffStore) -> None:
    ticket = store.open("u1", "help", [TranscriptLine("customer", "help"), TranscriptLine("bot", "sure")])
    again = store.open("u1", "still there?", [TranscriptLine("customer", "still there?", NOW)])
    assert again.id == ticket.id  # one open ticket per conversation
    assert again.reason == "help" and again.transcript == (TranscriptLine("customer", "still there?", NOW),)
    other = store.open("u2", "agent", [])
    assert [t.id for t in store.tickets()] == [ticket.id, other.id]
    resolved = store.resolve(ticket.id)
    assert resolved.status is HandoffStatus.RESOLVED and resolved.resolved_at == NOW
    assert store.resolve(ticket.id) == resolved  # resolving twice changes nothing
    assert [t.id for t in store.tickets()] == [other.id]
    assert [t.id for t in store.tickets(HandoffStatus.RESOLVED)] == [ticket.id]
    assert [t.id for t in store.tickets(status=None)] == [ticket.id, other.id]
    assert store.get(ticket.id) == resolved and store.get(999) is None
    assert store.open("u1", "back again", []).id not in (ticket.id, other.id)  # a resolved ticket stays closed


def test_an_unknown_ticket_is_not_found_and_says_how_to_list_them(store: HandoffStore) -> None:
    with pytest.raises(HandoffNotFoundError) as caught:
        store.resolve(42)
    assert str(caught.value) == "no handoff ticket 42 — list open tickets with `supportbot handoff list`"
    assert isinstance(caught.value, BackendError)


def test_resume_resolves_the_ticket_and_unpauses_the_conversation(store: HandoffStore) -> None:
    conversations = InMemoryTrackerStore()
    conversations.save(ConversationState("u9", paused=True))
    ticket = store.open("u9", "help", [])
    resolved = resume_conversation(ticket.id, store, conversations)
    state = conversations.load("u9")
    assert resolved.status is HandoffStatus.RESOLVED
    assert state is not None and not state.paused and state.events[-1]["event"] == "resume"
    with pytest.raises(HandoffNotFoundError):
        resume_conversation(ticket.id + 100, store, conversations)


# The table as the shop backend created it before the tickets moved to the dialogue layer (SQLite DDL).
OLD_COLUMNS = (
    "id INTEGER NOT NULL",
    "sender_id VARCHAR(200) NOT NULL",
    "status VARCHAR(16) NOT NULL",
    "reason VARCHAR(200) NOT NULL",
    "transcript_json TEXT NOT NULL",
    "created_at DATETIME NOT NULL",
    "resolved_at DATETIME",
    "PRIMARY KEY (id)",
)
OLD_TABLE = "\nCREATE TABLE shop_handoff_tickets (\n\t" + ", \n\t".join(OLD_COLUMNS) + "\n)\n\n"


def test_the_table_is_the_one_existing_databases_have() -> None:
    assert str(CreateTable(handoff_tickets).compile(dialect=sqlite.dialect())) == OLD_TABLE
    [index] = handoff_tickets.indexes
    expected = "CREATE INDEX ix_shop_handoff_tickets_sender_id ON shop_handoff_tickets (sender_id)"
    assert str(CreateIndex(index).compile(dialect=sqlite.dialect())) == expected


def test_tickets_of_an_existing_database_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "supportbot.db"
    with sqlite3.connect(path) as db:
        db.execute(OLD_TABLE)
        db.execute(
            "INSERT INTO shop_handoff_tickets VALUES (7, 'old', 'open', 'help', "
            """'[{"speaker": "customer", "text": "help", "at": null}]', '2026-12-20 08:30:00.000000', NULL)"""
        )
    store = SqlHandoffStore.from_url(f"sqlite:///{path}", clock=clock)
    [ticket] = store.tickets()
    assert (ticket.id, ticket.sender_id, ticket.transcript) == (7, "old", (TranscriptLine("customer", "help"),))
    assert ticket.created_at == NOW - timedelta(minutes=30, days=1)
    assert store.open("new", "agent", []).id == 8


def test_a_broken_database_is_a_backend_error(tmp_path: Path) -> None:
    store = SqlHandoffStore.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}", clock=clock)
    handoff_tickets.drop(store.engine)
    with pytest.raises(BackendError, match="handoff tickets: database read failed"):
        store.tickets()

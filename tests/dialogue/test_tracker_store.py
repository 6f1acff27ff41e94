"""Tracker stores: state round trip, history, one transaction per save, per-sender ordering."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot.dialogue.state import ConversationState, event
from bot.dialogue.tracker_store import InMemoryTrackerStore, SqlTrackerStore, TrackerStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> TrackerStore:
    if request.param == "memory":
        return InMemoryTrackerStore()
    return SqlTrackerStore.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}")


def test_round_trip_and_history(store: TrackerStore) -> None:
    assert store.load("u1") is None
    state = ConversationState("u1", active_loop="return_form", session_id=1)
    state.set_slot("order_number", "AN-10001")
    state.add(event("user", text="hello"))
    state.add(event("bot", text="hi there", data={"buttons": []}))
    store.save(state)
    assert state.new_events == []
    loaded = store.load("u1")
    assert loaded is not None
    assert loaded.slots == {"order_number": "AN-10001"}
    assert loaded.active_loop == "return_form"
    assert [e["event"] for e in loaded.events] == ["slot", "user", "bot"]
    assert [(e["event"], e["text"]) for e in store.history("u1")] == [("user", "hello"), ("bot", "hi there")]
    assert store.history("someone-else") == []


def test_history_appends_across_saves(store: TrackerStore) -> None:
    state = ConversationState("u1")
    for i in range(3):
        state.add(event("user", text=f"m{i}"))
        store.save(state)
    assert [e["text"] for e in store.history("u1")] == ["m0", "m1", "m2"]
    assert [e["text"] for e in store.history("u1", limit=2)] == ["m1", "m2"]


def test_sqlite_survives_a_new_store_object(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    state = ConversationState("u1", active_loop="booking_form")
    state.set_slot("shop", "berlin")
    SqlTrackerStore.from_url(url).save(state)
    again = SqlTrackerStore.from_url(url).load("u1")
    assert again is not None and again.active_loop == "booking_form" and again.slots["shop"] == "berlin"


def test_lock_serialises_one_sender(store: TrackerStore) -> None:
    order: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def first() -> None:
        with store.lock("u1"):
            order.append("first-in")
            inside.set()
            release.wait(5)
            order.append("first-out")

    def second() -> None:
        inside.wait(5)
        with store.lock("u1"):
            order.append("second-in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    inside.wait(5)
    with store.lock("u2"):  # another sender is not blocked
        order.append("other-sender")
    release.set()
    for t in threads:
        t.join(5)
    assert order == ["first-in", "other-sender", "first-out", "second-in"]


def test_live_tracker_is_capped_but_history_is_complete(store: TrackerStore) -> None:
    from bot.dialogue.state import MAX_EVENTS

    state = ConversationState("long")
    for i in range(MAX_EVENTS * 2):
        state.add(event("user", text=f"m{i}"))
    store.save(state)
    loaded = store.load("long")
    assert loaded is not None and len(loaded.events) <= MAX_EVENTS
    assert loaded.events[-1]["text"] == f"m{MAX_EVENTS * 2 - 1}"
    assert len(store.history("long", limit=10_000)) == MAX_EVENTS * 2

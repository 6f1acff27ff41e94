"""Tracker stores: state round trip, history, one transaction per save, per-sender ordering."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from bot.dialogue.state import ConversationState, event
from bot.dialogue.tracker_store import InMemoryTrackerStore, SqlTrackerStore, StripedLocks, TrackerStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> TrackerStore:
    if request.param == "memory":
        return InMemoryTrackerStore()
    return SqlTrackerStore.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}", lock_file=tmp_path / "conversations.lock")


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


# -- locks across processes (serve --workers N) ------------------------------------------------------
def _hold_then_wait_for_writer(path: Path, x_held: Any, writer_taken: Any, out: Any) -> None:
    senders, writer = StripedLocks(path), StripedLocks(path.with_name("writer"), stripes=1)
    try:
        with senders.hold("customer-x"):
            x_held.set()
            writer_taken.wait(10)
            time.sleep(0.2)  # the other process now waits for customer-x while holding the writer lock
            with writer.hold(""):
                pass
        out.put("a: ok")
    except OSError as e:
        out.put(f"a: {e!r}")


def _hold_writer_and_wait_for_sender(path: Path, x_held: Any, writer_taken: Any, out: Any) -> None:
    senders, writer = StripedLocks(path), StripedLocks(path.with_name("writer"), stripes=1)
    x_held.wait(10)

    def save() -> None:
        with writer.hold(""):
            writer_taken.set()
            time.sleep(0.6)

    def next_message() -> None:
        time.sleep(0.05)
        with senders.hold("customer-x"):
            out.put("b: got customer-x")

    threads = [threading.Thread(target=save), threading.Thread(target=next_message)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_locks_across_processes_serialise_without_false_deadlocks(tmp_path: Path) -> None:
    """Process A holds a sender and waits for the writer lock; process B holds the writer lock in one
    thread while another thread waits for that sender. Not a deadlock (B's writer finishes), but POSIX
    record locks belong to whole processes and the kernel would refuse A with EDEADLK."""
    context = multiprocessing.get_context("fork")
    out, x_held, writer_taken = context.Queue(), context.Event(), context.Event()
    path = tmp_path / "locks" / "conversations.lock"
    processes = [
        context.Process(target=_hold_then_wait_for_writer, args=(path, x_held, writer_taken, out)),
        context.Process(target=_hold_writer_and_wait_for_sender, args=(path, x_held, writer_taken, out)),
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join(20)
    assert sorted(out.get(timeout=5) for _ in processes) == ["a: ok", "b: got customer-x"]


def _hold_sender(path: Path, held: Any, release: Any) -> None:
    with StripedLocks(path).hold("customer-y"):
        held.set()
        release.wait(10)


def test_a_sender_held_in_one_process_waits_in_another(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    held, release = context.Event(), context.Event()
    path = tmp_path / "conversations.lock"
    other = context.Process(target=_hold_sender, args=(path, held, release))
    other.start()
    assert held.wait(10)
    locks = StripedLocks(path)
    acquired = threading.Event()

    def take() -> None:
        with locks.hold("customer-y"):
            acquired.set()

    taker = threading.Thread(target=take)
    taker.start()
    assert not acquired.wait(0.3), "the other process still holds customer-y"
    with locks.hold("someone-else"):  # a different sender is not blocked
        pass
    release.set()
    assert acquired.wait(10)
    taker.join()
    other.join(10)

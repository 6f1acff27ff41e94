"""Durable reminders and the outbox on a real SQLite database: each fires / is delivered exactly once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.dialogue.state import ConversationState, event
from bot.dialogue.tracker_store import InMemoryTrackerStore
from bot.proactive.errors import ReminderError
from bot.proactive.outbox import SqlOutbox
from bot.proactive.reminders import Cancellation, Reminder, SqlScheduler, reminder_changes
from bot.proactive.scheduling_store import SchedulingTrackerStore

NOW = datetime(2030, 5, 1, 9, 0, tzinfo=UTC).timestamp()


def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bot.db'}"


def reminder_event(when: str, name: str = "r1", **extra: object) -> dict[str, object]:
    return {
        "event": "reminder",
        "intent": "EXTERNAL_ping",
        "date_time": when,
        "name": name,
        "entities": {"a": 1},
        **extra,
    }


def test_reminder_events_are_read_with_rasa_shapes() -> None:
    items = [
        reminder_event("2030-05-02T09:00:00+00:00"),
        {"event": "cancel_reminder", "name": "old", "intent": None},
        {"event": "slot", "name": "x", "value": 1},
    ]
    scheduled, cancelled = reminder_changes("s1", items, NOW)
    assert scheduled == [Reminder("s1", "r1", "EXTERNAL_ping", NOW + 86400, {"a": 1}, True, NOW)]
    assert cancelled == [Cancellation("s1", "old", None)]


@pytest.mark.parametrize(
    ("item", "complaint"),
    [
        (reminder_event("2030-04-30T09:00:00+00:00"), "in the past"),
        (reminder_event("tomorrow"), "not an ISO date"),
        ({"event": "reminder", "date_time": "2030-05-02T09:00:00"}, "has no intent"),
    ],
)
def test_bad_reminders_are_clear_errors(item: dict[str, object], complaint: str) -> None:
    with pytest.raises(ReminderError, match=complaint):
        reminder_changes("s1", [item], NOW)


def test_a_due_reminder_is_claimed_once_across_schedulers_and_restarts(tmp_path: Path) -> None:
    url = db(tmp_path)
    SqlScheduler.from_url(url).schedule(Reminder("s1", "r1", "EXTERNAL_ping", NOW + 60, created_at=NOW))
    assert SqlScheduler.from_url(url).claim_due(NOW, "w0") == []  # not due yet
    workers = [SqlScheduler.from_url(url) for _ in range(4)]  # "restarted" processes on the same database
    claimed: list[list[Reminder]] = [[] for _ in workers]

    def claim(i: int) -> None:
        claimed[i] = workers[i].claim_due(NOW + 61, f"w{i}")

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(c) for c in claimed) == [0, 0, 0, 1]
    won = next(c for c in claimed if c)[0]
    assert (won.sender_id, won.intent, won.name) == ("s1", "EXTERNAL_ping", "r1")
    assert workers[0].claim_due(NOW + 3600, "w0") == []


def test_same_name_replaces_and_cancel_by_name_or_intent(tmp_path: Path) -> None:
    scheduler = SqlScheduler.from_url(db(tmp_path))
    scheduler.schedule(Reminder("s1", "r1", "EXTERNAL_ping", NOW + 60))
    scheduler.schedule(Reminder("s1", "r1", "EXTERNAL_ping", NOW + 120))
    scheduler.schedule(Reminder("s1", "r2", "EXTERNAL_other", NOW + 60))
    assert [(r.name, r.due_at) for r in scheduler.waiting("s1")] == [("r2", NOW + 60), ("r1", NOW + 120)]
    assert scheduler.cancel(Cancellation("s1", intent="EXTERNAL_other")) == 1
    assert scheduler.cancel(Cancellation("s1", name="r1")) == 1
    assert scheduler.waiting() == []


def test_scheduling_store_keeps_the_turns_reminders(tmp_path: Path) -> None:
    scheduler = SqlScheduler.from_url(db(tmp_path))
    store = SchedulingTrackerStore(InMemoryTrackerStore(), scheduler, clock=lambda: NOW)
    state = ConversationState("s1")
    state.add(event("action", name="action_remind_appointment"))
    state.add(reminder_event("2030-05-02T09:00:00+00:00"))
    store.save(state)
    assert [r.name for r in scheduler.waiting("s1")] == ["r1"]
    assert store.load("s1") is not None
    state.add({"event": "cancel_reminder", "name": "r1"})
    store.save(state)
    assert scheduler.waiting("s1") == []


def test_a_reminder_in_the_past_is_logged_and_the_turn_still_saved(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = SqlScheduler.from_url(db(tmp_path))
    store = SchedulingTrackerStore(InMemoryTrackerStore(), scheduler, clock=lambda: NOW)
    state = ConversationState("s1")
    state.add(reminder_event("2030-04-01T09:00:00+00:00"))
    store.save(state)
    assert scheduler.waiting() == []
    assert store.load("s1") is not None
    assert "is in the past" in caplog.text


def test_outbox_item_is_claimed_by_one_worker_only(tmp_path: Path) -> None:
    first, second = SqlOutbox.from_url(db(tmp_path)), SqlOutbox.from_url(db(tmp_path))
    item_id = first.put("anna", [{"text": "shipped", "id": "r1"}])
    first.put("bo", [{"text": "other"}])
    pending = second.pending(["anna"], since=0)
    assert [(i.id, i.replies) for i in pending] == [(item_id, [{"text": "shipped", "id": "r1"}])]
    assert second.claim(item_id, "w2") is True
    assert first.claim(item_id, "w1") is False
    assert first.pending(["anna"], since=0) == []
    assert first.purge(before=float("inf")) == 2

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
from bot.proactive.reminder_events import reminder_changes
from bot.proactive.reminders import (
    LEASE_SECONDS,
    Cancellation,
    InMemoryScheduler,
    Reminder,
    RetryPolicy,
    SqlScheduler,
)
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
    assert (won.sender_id, won.intent, won.name, won.attempts) == ("s1", "EXTERNAL_ping", "r1", 1)
    assert workers[0].claim_due(NOW + 61 + LEASE_SECONDS - 1, "w0") == []  # the claim is a lease: still held
    assert workers[0].finish(won) is True
    assert workers[0].claim_due(NOW + 3600, "w0") == []  # fired: never again


def test_an_expired_claim_is_claimed_again_and_the_old_claimer_can_no_longer_mark_it(tmp_path: Path) -> None:
    url = db(tmp_path)
    first, second = SqlScheduler.from_url(url), SqlScheduler.from_url(url)
    first.schedule(Reminder("s1", "r1", "EXTERNAL_ping", NOW + 60, created_at=NOW))
    [lost] = first.claim_due(NOW + 60, "slow")
    [again] = second.claim_due(NOW + 60 + LEASE_SECONDS, "w2")
    assert (again.id, again.attempts, again.claimed_by) == (lost.id, 2, "w2")
    assert first.finish(lost) is False and first.release(lost, NOW + 200) is None  # not theirs any more
    assert second.status(again.id) == "claimed"
    assert second.finish(again) is True and second.status(again.id) == "fired"


def test_the_fake_scheduler_follows_the_same_lease_and_retry_rules() -> None:
    scheduler = InMemoryScheduler(RetryPolicy(lease_seconds=60, max_attempts=2, retry_seconds=5))
    stored = scheduler.schedule(Reminder("s1", "r1", "EXTERNAL_ping", NOW + 60, created_at=NOW))
    [first] = scheduler.claim_due(NOW + 60, "w1")
    assert scheduler.claim_due(NOW + 119, "w2") == []
    [second] = scheduler.claim_due(NOW + 120, "w2")
    assert scheduler.finish(first) is False
    assert scheduler.release(second, NOW + 130) == "failed"  # 2 attempts of 2
    assert scheduler.status(stored.id) == "failed" and scheduler.claim_due(NOW + 9999, "w3") == []


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


def test_one_bad_reminder_does_not_drop_the_turns_other_reminders_and_cancellations(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = SqlScheduler.from_url(db(tmp_path))
    scheduler.schedule(Reminder("s1", "old", "EXTERNAL_ping", NOW + 600))
    store = SchedulingTrackerStore(InMemoryTrackerStore(), scheduler, clock=lambda: NOW)
    state = ConversationState("s1")
    state.add(reminder_event("2030-05-02T09:00:00+00:00", name="good-before"))
    state.add(reminder_event("2030-04-01T09:00:00+00:00", name="in-the-past"))
    state.add({"event": "cancel_reminder", "name": "old"})
    state.add({"event": "reminder", "date_time": "2030-05-02T10:00:00+00:00", "name": "no-intent"})
    state.add(reminder_event("2030-05-03T09:00:00+00:00", name="good-after"))
    store.save(state)
    assert [r.name for r in scheduler.waiting("s1")] == ["good-before", "good-after"]  # "old" cancelled
    assert "'in-the-past' for 's1' is due at 2030-04-01T09:00:00+00:00" in caplog.text
    assert "has no intent" in caplog.text
    assert store.load("s1") is not None


def test_a_turn_schedules_and_cancels_in_its_order(tmp_path: Path) -> None:
    scheduler = SqlScheduler.from_url(db(tmp_path))
    store = SchedulingTrackerStore(InMemoryTrackerStore(), scheduler, clock=lambda: NOW)
    state = ConversationState("s1")
    state.add({"event": "cancel_reminder", "name": "r1"})
    state.add(reminder_event("2030-05-02T09:00:00+00:00", name="r1"))  # moved: cancelled, then set again
    state.add(reminder_event("2030-05-02T09:00:00+00:00", name="r2"))
    state.add({"event": "cancel_reminder", "name": "r2"})  # set, then cancelled
    store.save(state)
    assert [r.name for r in scheduler.waiting("s1")] == ["r1"]


def test_outbox_item_is_claimed_by_one_worker_only(tmp_path: Path) -> None:
    first, second = SqlOutbox.from_url(db(tmp_path)), SqlOutbox.from_url(db(tmp_path))
    item_id = first.put("anna", [{"text": "shipped", "id": "r1"}])
    first.put("bo", [{"text": "other"}])
    pending = second.pending(["anna"], since=0)
    assert [(i.id, i.replies) for i in pending] == [(item_id, [{"text": "shipped", "id": "r1"}])]
    assert second.claim(item_id, "w2") is True
    assert first.claim(item_id, "w1") is False
    assert first.pending(["anna"], since=0) == []
    assert first.holds("anna", "r1") and not first.holds("bo", "r1") and not first.holds("anna", "r2")
    assert first.purge(before=float("inf")) == 2

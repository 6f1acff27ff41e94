"""Reminders fire exactly once through `ProactiveService.fire_due`, also when a worker dies after claiming one
(its claim is a lease), when a worker dies after firing one but before marking it, when a delivery fails
(retried, then marked failed), and with several workers polling at once. On SQLite, and on PostgreSQL when
SUPPORTBOT_TEST_POSTGRES_URL is set (`.ci/run` sets it)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from bot.assistant import Assistant
from bot.dialogue.state import ConversationState, event
from bot.dialogue.tracker_store import SqlTrackerStore
from bot.proactive.outbox import SqlOutbox
from bot.proactive.reminders import CLAIMED, DROPPED, FAILED, FIRED, Reminder, SqlScheduler
from bot.proactive.service import ProactiveService
from tests.databases import fresh_database
from tests.proactive.fake_bot import fake_assistant

NOW = 1_900_000_000.0
LEASE = 60.0
RETRY = 5.0


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database: an SQLite file, or a schema of its own in SUPPORTBOT_TEST_POSTGRES_URL's database."""
    yield from fresh_database(str(request.param), tmp_path, "reminders", "the reminders")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FailingOutbox(SqlOutbox):
    """The outbox of a database that refuses the first `failures` writes (then works again)."""

    def __init__(self, outbox: SqlOutbox, failures: int) -> None:
        super().__init__(outbox.engine)
        self.failures = failures

    def put(self, sender_id: str, replies: Sequence[dict[str, Any]]) -> int:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("the database went away")
        return super().put(sender_id, replies)


class DyingScheduler(SqlScheduler):
    """A worker that dies right after firing a reminder, before marking it fired."""

    def finish(self, reminder: Reminder, status: str = FIRED) -> bool:
        raise SystemExit("the worker died")


@dataclass
class Shop:
    url: str
    clock: Clock
    assistant: Assistant
    engines: list[Any]

    def scheduler(self, kind: type[SqlScheduler] = SqlScheduler) -> SqlScheduler:
        scheduler = kind.from_url(self.url, lease_seconds=LEASE, max_attempts=3, retry_seconds=RETRY)
        scheduler._clock = self.clock
        self.engines.append(scheduler.engine)
        return scheduler

    def outbox(self) -> SqlOutbox:
        outbox = SqlOutbox.from_url(self.url)
        self.engines.append(outbox.engine)
        return outbox

    def worker(self, scheduler: SqlScheduler | None = None, outbox: SqlOutbox | None = None) -> ProactiveService:
        """One server process's service: its own connections to the shared database."""
        return ProactiveService(
            self.assistant, outbox or self.outbox(), scheduler or self.scheduler(), clock=self.clock
        )

    def remind(self, sender: str, name: str = "fitting", due: float = NOW + 60) -> Reminder:
        reminder = Reminder(sender, name, "EXTERNAL_fitting_reminder", due, {"shop": "Berlin"}, False, NOW)
        return self.scheduler().schedule(reminder)

    def said(self, sender: str) -> list[str]:
        return [e["text"] for e in self.assistant.history(sender, 1000) if e["event"] == "bot"]

    def queued(self, sender: str) -> list[str]:
        return [r["text"] for item in self.outbox().pending([sender], since=0) for r in item.replies]


@pytest.fixture
def shop(tmp_path: Path, database_url: str) -> Iterator[Shop]:
    tracker = SqlTrackerStore.from_url(database_url)
    clock = Clock(NOW)
    assistant = fake_assistant(tmp_path, tracker, clock)
    world = Shop(database_url, clock, assistant, [tracker.engine])
    try:
        yield world
    finally:
        for pool in world.engines:
            pool.dispose()


def test_a_due_reminder_is_delivered_and_marked_fired(shop: Shop) -> None:
    reminder = shop.remind("anna")
    worker = shop.worker()
    assert worker.fire_due("w1") == []  # not due yet
    shop.clock.now = NOW + 61
    [fired] = worker.fire_due("w1")
    assert [r.text for r in fired.replies] == ["Your fitting is tomorrow."]
    assert shop.said("anna") == shop.queued("anna") == ["Your fitting is tomorrow."]
    assert shop.scheduler().status(reminder.id) == FIRED
    shop.clock.now = NOW + 3600
    assert worker.fire_due("w1") == []


def test_a_worker_that_died_after_claiming_leaves_the_reminder_to_another_once_the_lease_is_over(shop: Shop) -> None:
    reminder = shop.remind("anna")
    shop.clock.now = NOW + 61
    assert [r.id for r in shop.scheduler().claim_due(shop.clock.now, "dead-worker")] == [reminder.id]
    # the claimer is gone without firing: nothing said, the row claimed
    survivor = shop.worker()
    shop.clock.now = NOW + 61 + LEASE - 1
    assert survivor.fire_due("w2") == []  # the claim still holds
    assert shop.scheduler().status(reminder.id) == CLAIMED
    shop.clock.now = NOW + 61 + LEASE
    assert len(survivor.fire_due("w2")) == 1
    shop.clock.now = NOW + 61 + 10 * LEASE
    assert survivor.fire_due("w2") == [] and shop.worker().fire_due("w3") == []
    assert shop.said("anna") == shop.queued("anna") == ["Your fitting is tomorrow."]
    assert shop.scheduler().status(reminder.id) == FIRED


def test_a_worker_that_died_after_firing_but_before_marking_does_not_make_it_speak_twice(shop: Shop) -> None:
    reminder = shop.remind("anna")
    shop.clock.now = NOW + 61
    with pytest.raises(SystemExit):
        shop.worker(scheduler=shop.scheduler(DyingScheduler)).fire_due("dying")
    assert shop.said("anna") == shop.queued("anna") == ["Your fitting is tomorrow."]
    first_id = shop.outbox().pending(["anna"], since=0)[0].replies[0]["id"]

    shop.clock.now = NOW + 61 + LEASE  # its claim expires; another worker claims it again
    assert len(shop.worker().fire_due("w2")) == 1
    assert shop.scheduler().status(reminder.id) == FIRED
    assert shop.said("anna") == shop.queued("anna") == ["Your fitting is tomorrow."]  # once, not twice
    external = [e for e in shop.assistant.history("anna", 1000) if e["event"] == "user"]
    assert len(external) == 1 and external[0]["metadata"]["once"] == reminder.once_key
    assert shop.outbox().holds("anna", first_id)


def test_a_failed_delivery_is_retried_after_a_back_off(shop: Shop, caplog: pytest.LogCaptureFixture) -> None:
    reminder = shop.remind("anna")
    worker = shop.worker(outbox=FailingOutbox(shop.outbox(), failures=1))
    shop.clock.now = NOW + 61
    assert worker.fire_due("w1") == []
    assert "reminder fitting for anna was not delivered" in caplog.text
    [waiting] = shop.scheduler().waiting("anna")
    assert (waiting.id, waiting.due_at, waiting.attempts) == (reminder.id, NOW + 61 + RETRY, 1)
    assert worker.fire_due("w1") == []  # not before its back-off
    shop.clock.now = NOW + 61 + RETRY
    assert len(worker.fire_due("w1")) == 1
    assert shop.scheduler().status(reminder.id) == FIRED
    # the first attempt had already said it in the conversation: said once, queued once
    assert shop.said("anna") == shop.queued("anna") == ["Your fitting is tomorrow."]


def test_a_delivery_that_keeps_failing_is_marked_failed_and_logged(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    reminder = shop.remind("anna")
    worker = shop.worker(outbox=FailingOutbox(shop.outbox(), failures=100))
    shop.clock.now = NOW + 61
    for _ in range(3):  # max_attempts=3: back-offs of 5 s and 10 s between them
        assert worker.fire_due("w1") == []
        shop.clock.now += 60
    assert shop.scheduler().status(reminder.id) == FAILED
    assert shop.scheduler().waiting() == []
    failed = [r for r in caplog.records if r.levelno == logging.ERROR and "marked failed" in r.getMessage()]
    assert [r.getMessage() for r in failed] == [
        "reminder fitting (EXTERNAL_fitting_reminder) for anna marked failed after 3 attempt(s): its last "
        "delivery failed"
    ]
    shop.clock.now += 3600
    assert worker.fire_due("w1") == [] and shop.queued("anna") == []


def test_a_reminder_whose_workers_keep_dying_is_marked_failed(shop: Shop) -> None:
    reminder = shop.remind("anna")
    for attempt in range(3):
        shop.clock.now = NOW + 61 + attempt * LEASE
        assert [r.attempts for r in shop.scheduler().claim_due(shop.clock.now, f"dead-{attempt}")] == [attempt + 1]
    shop.clock.now = NOW + 61 + 3 * LEASE
    assert shop.worker().fire_due("w1") == []
    assert shop.scheduler().status(reminder.id) == FAILED and shop.said("anna") == []


def test_four_workers_polling_at_once_fire_each_reminder_once(shop: Shop) -> None:
    senders = [f"customer-{i}" for i in range(12)]
    for sender in senders:
        shop.remind(sender)
    workers = [shop.worker() for _ in range(4)]
    shop.clock.now = NOW + 61
    fired: list[list[str]] = [[] for _ in workers]
    start = threading.Barrier(len(workers))

    def poll(i: int) -> None:
        start.wait()
        fired[i] = [t.sender for t in workers[i].fire_due(f"w{i}")]

    threads = [threading.Thread(target=poll, args=(i,)) for i in range(len(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s for got in fired for s in got) == sorted(senders)
    for sender in senders:
        assert shop.said(sender) == shop.queued(sender) == ["Your fitting is tomorrow."]
    assert shop.scheduler().waiting() == []
    assert {shop.scheduler().status(i) for i in range(1, len(senders) + 1)} == {FIRED}


def test_a_reminder_killed_by_the_customers_message_is_dropped_not_said(shop: Shop) -> None:
    reminder = shop.scheduler().schedule(
        Reminder("anna", "fitting", "EXTERNAL_fitting_reminder", NOW + 60, {}, True, NOW)
    )
    state = ConversationState("anna", session_id=1)
    state.add(event("user", text="actually I booked another day", timestamp=NOW + 10))
    shop.assistant.tracker_store.save(state)
    shop.clock.now = NOW + 61
    assert shop.worker().fire_due("w1") == []
    assert shop.scheduler().status(reminder.id) == DROPPED
    assert shop.said("anna") == shop.queued("anna") == []


def test_a_database_at_the_baseline_gains_the_attempts_column_and_keeps_its_reminders(database_url: str) -> None:
    from alembic import command

    from bot.migrations import alembic_config, head, upgrade

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            command.upgrade(alembic_config(conn), "0001_baseline")  # the schema before reminder attempts
            conn.commit()
            conn.execute(
                text(
                    "INSERT INTO proactive_reminders (sender_id, name, intent, entities, due_at, kill_on_user_message,"
                    " created_at, status) VALUES ('anna', 'fitting', 'EXTERNAL_fitting_reminder', '{}', :due, false,"
                    " :now, 'scheduled')"
                ),
                {"due": NOW + 60, "now": NOW},
            )
            conn.commit()
        assert upgrade(database_url) == head()
        scheduler = SqlScheduler.from_url(database_url)
        [claimed] = scheduler.claim_due(NOW + 60, "w1")
        assert (claimed.sender_id, claimed.name, claimed.attempts) == ("anna", "fitting", 1)
        scheduler.engine.dispose()
    finally:
        engine.dispose()

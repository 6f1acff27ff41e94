"""Durable reminders: what a handler's `ReminderScheduled` asks for, kept in the database until due.

`Reminder` and `Cancellation` are what a turn asks for (read from its events by `bot.proactive.reminder_events`).
The `Scheduler` keeps them. `SqlScheduler` stores one row per reminder; scheduling a reminder replaces the
sender's waiting one of the same name (Rasa's rule). A row goes

    scheduled ──claim_due──► claimed ──finish──► fired (or dropped: the customer wrote since, Rasa's rule)
        ▲                       │
        └──────release──────────┘  delivery failed: due again after a back-off; after `max_attempts` → failed

`claim_due` claims each due row with one conditional `UPDATE` in its own transaction, so of several workers
exactly one gets it. A claim is a lease: a row still `claimed` `lease_seconds` after its claim (its worker
died between claim and fire) is claimed again, and each claim counts an attempt. `finish` and `release`
change a row only while the caller still holds the claim it got (same worker, same claim time). The
service (`bot.proactive.service`) makes the firing itself idempotent, so a reminder reclaimed after its
first worker fired it but died before `finish` does not speak twice.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
    text,
    update,
)

from bot.dialogue.tracker_store import make_engine
from bot.errors import ConfigError

log = logging.getLogger("supportbot.proactive")

SCHEDULED, CLAIMED, FIRED, CANCELLED = "scheduled", "claimed", "fired", "cancelled"
DROPPED, FAILED = "dropped", "failed"
DONE = (FIRED, CANCELLED, DROPPED, FAILED)
"""States past which a reminder is only history (the retention purge deletes these)."""
LEASE_SECONDS = 60.0
"""A claim older than this is taken to be of a worker that died: the reminder is claimed again."""
MAX_ATTEMPTS = 5
"""Claims of one reminder (failed deliveries and expired claims) before it is marked failed."""
RETRY_SECONDS = 5.0
"""The first back-off after a failed delivery; it doubles with each attempt (5 s, 10 s, 20 s, 40 s)."""


@dataclass(frozen=True)
class Reminder:
    sender_id: str
    name: str
    intent: str
    due_at: float  # Unix seconds
    entities: Mapping[str, Any] = field(default_factory=dict)
    kill_on_user_message: bool = True
    created_at: float = 0.0
    id: int = 0
    attempts: int = 0  # claims so far, this one included
    claimed_by: str | None = None  # the claim this copy holds (set by claim_due)
    claimed_at: float | None = None

    @property
    def once_key(self) -> str:
        """Names this reminder's firing in the conversation, so a second firing of it is recognised."""
        return f"reminder:{self.id}:{self.name}"


@dataclass(frozen=True)
class Cancellation:
    sender_id: str
    name: str | None = None
    intent: str | None = None


class Scheduler(Protocol):
    def schedule(self, reminder: Reminder) -> Reminder:
        """Keep the reminder (replacing the sender's waiting one of the same name); returns it with its id."""
        ...

    def cancel(self, cancellation: Cancellation) -> int:
        """Cancel the sender's waiting reminders of that name or intent (all of them when neither); the count."""
        ...

    def claim_due(self, now: float, worker: str, limit: int = 100) -> list[Reminder]:
        """The due reminders this call claimed (and those whose claim expired): no other call gets them
        while the claim lasts. A reminder out of attempts is marked failed instead."""
        ...

    def finish(self, reminder: Reminder, status: str = FIRED) -> bool:
        """Mark a claimed reminder fired (or dropped); False when the claim was lost (it expired and another
        worker claimed the reminder again)."""
        ...

    def release(self, reminder: Reminder, now: float) -> str | None:
        """Its delivery failed: due again after a back-off, or failed when out of attempts. The new state;
        None when the claim was lost."""
        ...

    def waiting(self, sender_id: str | None = None) -> list[Reminder]: ...


_metadata = MetaData()
reminders_table = Table(
    "proactive_reminders",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sender_id", String(128), nullable=False),
    Column("name", String(200), nullable=False),
    Column("intent", String(200), nullable=False),
    Column("entities", Text, nullable=False),
    Column("due_at", Float, nullable=False),
    Column("kill_on_user_message", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("status", String(16), nullable=False),
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_at", Float, nullable=True),
    Column("attempts", Integer, nullable=False, default=0, server_default=text("0")),
    Index("ix_proactive_reminders_due", "status", "due_at"),
    Index("ix_proactive_reminders_sender", "sender_id", "status"),
)


class SqlScheduler:
    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], float] = time.time,
        *,
        lease_seconds: float = LEASE_SECONDS,
        max_attempts: int = MAX_ATTEMPTS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.engine = engine
        self._clock = clock
        self.policy = RetryPolicy(lease_seconds, max_attempts, retry_seconds)
        _metadata.create_all(engine)

    @classmethod
    def from_url(cls, url: str, **policy: Any) -> SqlScheduler:
        return cls(make_engine(url), **policy)

    def schedule(self, reminder: Reminder) -> Reminder:
        table = reminders_table
        with self.engine.begin() as conn:
            conn.execute(
                update(table)
                .where((table.c.sender_id == reminder.sender_id) & (table.c.name == reminder.name))
                .where(table.c.status == SCHEDULED)
                .values(status=CANCELLED)
            )
            result = conn.execute(
                table.insert().values(
                    sender_id=reminder.sender_id,
                    name=reminder.name,
                    intent=reminder.intent,
                    entities=json.dumps(dict(reminder.entities)),
                    due_at=reminder.due_at,
                    kill_on_user_message=reminder.kill_on_user_message,
                    created_at=reminder.created_at or self._clock(),
                    status=SCHEDULED,
                    attempts=0,
                )
            )
            key = result.inserted_primary_key
        return replace(reminder, id=int(key[0]) if key else 0)

    def cancel(self, cancellation: Cancellation) -> int:
        table = reminders_table
        statement = update(table).where(table.c.sender_id == cancellation.sender_id).where(table.c.status == SCHEDULED)
        if cancellation.name:
            statement = statement.where(table.c.name == cancellation.name)
        if cancellation.intent:
            statement = statement.where(table.c.intent == cancellation.intent)
        with self.engine.begin() as conn:
            return int(conn.execute(statement.values(status=CANCELLED)).rowcount)

    def claim_due(self, now: float, worker: str, limit: int = 100) -> list[Reminder]:
        table = reminders_table
        due = (table.c.status == SCHEDULED) & (table.c.due_at <= now)
        expired = (table.c.status == CLAIMED) & (table.c.claimed_at <= now - self.policy.lease_seconds)
        claimable = due | expired
        query = select(table.c.id, table.c.attempts).where(claimable).order_by(table.c.due_at).limit(limit)
        with self.engine.connect() as conn:
            candidates = [(int(r[0]), int(r[1])) for r in conn.execute(query)]
        claimed: list[Reminder] = []
        for reminder_id, attempts in candidates:
            with self.engine.begin() as conn:
                this = (table.c.id == reminder_id) & claimable  # re-checked by the UPDATE: one worker wins
                if attempts >= self.policy.max_attempts:
                    if conn.execute(update(table).where(this).values(status=FAILED)).rowcount == 1:
                        row = conn.execute(select(table).where(table.c.id == reminder_id)).mappings().one()
                        _log_failed(_reminder(row), "its last claim expired")
                    continue
                won = conn.execute(
                    update(table)
                    .where(this)
                    .values(status=CLAIMED, claimed_by=worker[:64], claimed_at=now, attempts=table.c.attempts + 1)
                ).rowcount
                if won == 1:
                    row = conn.execute(select(table).where(table.c.id == reminder_id)).mappings().one()
                    claimed.append(_reminder(row))
        return claimed

    def _held(self, reminder: Reminder) -> Any:
        table = reminders_table
        return (
            (table.c.id == reminder.id)
            & (table.c.status == CLAIMED)
            & (table.c.claimed_by == reminder.claimed_by)
            & (table.c.claimed_at == reminder.claimed_at)
        )

    def finish(self, reminder: Reminder, status: str = FIRED) -> bool:
        with self.engine.begin() as conn:
            done = conn.execute(update(reminders_table).where(self._held(reminder)).values(status=status)).rowcount
        return bool(done == 1)

    def release(self, reminder: Reminder, now: float) -> str | None:
        if reminder.attempts >= self.policy.max_attempts:
            values: dict[str, Any] = {"status": FAILED}
        else:
            values = {"status": SCHEDULED, "due_at": self.policy.retry_at(reminder, now)}
            values.update(claimed_by=None, claimed_at=None)
        with self.engine.begin() as conn:
            changed = conn.execute(update(reminders_table).where(self._held(reminder)).values(**values)).rowcount
        if changed != 1:
            return None
        if values["status"] == FAILED:
            _log_failed(reminder, "its last delivery failed")
        return str(values["status"])

    def waiting(self, sender_id: str | None = None) -> list[Reminder]:
        query = select(reminders_table).where(reminders_table.c.status == SCHEDULED).order_by(reminders_table.c.due_at)
        if sender_id is not None:
            query = query.where(reminders_table.c.sender_id == sender_id)
        with self.engine.connect() as conn:
            return [_reminder(row) for row in conn.execute(query).mappings()]

    def status(self, reminder_id: int) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(reminders_table.c.status).where(reminders_table.c.id == reminder_id)).first()
        return str(row[0]) if row else None


@dataclass(frozen=True)
class RetryPolicy:
    """How long a claim lasts, how many claims a reminder gets, and the back-off after a failed delivery."""

    lease_seconds: float = LEASE_SECONDS
    max_attempts: int = MAX_ATTEMPTS
    retry_seconds: float = RETRY_SECONDS

    def __post_init__(self) -> None:
        if self.lease_seconds <= 0 or self.max_attempts < 1 or self.retry_seconds < 0:
            raise ConfigError(
                f"reminder retries: lease_seconds must be > 0 (is {self.lease_seconds}), max_attempts >= 1 "
                f"(is {self.max_attempts}) and retry_seconds >= 0 (is {self.retry_seconds})"
            )

    def retry_at(self, reminder: Reminder, now: float) -> float:
        return now + self.retry_seconds * float(2 ** max(reminder.attempts - 1, 0))


def _log_failed(reminder: Reminder, why: str) -> None:
    log.error(
        "reminder %s (%s) for %s marked failed after %d attempt(s): %s",
        reminder.name,
        reminder.intent,
        reminder.sender_id,
        reminder.attempts,
        why,
    )


def _reminder(row: Any) -> Reminder:
    return Reminder(
        sender_id=str(row["sender_id"]),
        name=str(row["name"]),
        intent=str(row["intent"]),
        due_at=float(row["due_at"]),
        entities=json.loads(row["entities"]),
        kill_on_user_message=bool(row["kill_on_user_message"]),
        created_at=float(row["created_at"]),
        id=int(row["id"]),
        attempts=int(row["attempts"] or 0),
        claimed_by=row["claimed_by"],
        claimed_at=None if row["claimed_at"] is None else float(row["claimed_at"]),
    )


class InMemoryScheduler:
    """The fake: one process, same rules."""

    def __init__(self, policy: RetryPolicy | None = None) -> None:
        self.policy = policy or RetryPolicy()
        self._rows: dict[int, tuple[Reminder, str]] = {}
        self._lock = threading.Lock()

    def schedule(self, reminder: Reminder) -> Reminder:
        with self._lock:
            for key, (other, status) in list(self._rows.items()):
                if status == SCHEDULED and (other.sender_id, other.name) == (reminder.sender_id, reminder.name):
                    self._rows[key] = (other, CANCELLED)
            stored = replace(reminder, id=len(self._rows) + 1, attempts=0, claimed_by=None, claimed_at=None)
            self._rows[stored.id] = (stored, SCHEDULED)
            return stored

    def cancel(self, cancellation: Cancellation) -> int:
        count = 0
        with self._lock:
            for key, (other, status) in list(self._rows.items()):
                if status != SCHEDULED or other.sender_id != cancellation.sender_id:
                    continue
                if cancellation.name and other.name != cancellation.name:
                    continue
                if cancellation.intent and other.intent != cancellation.intent:
                    continue
                self._rows[key] = (other, CANCELLED)
                count += 1
        return count

    def claim_due(self, now: float, worker: str, limit: int = 100) -> list[Reminder]:
        def claimable(reminder: Reminder, status: str) -> bool:
            if status == SCHEDULED:
                return reminder.due_at <= now
            return status == CLAIMED and (reminder.claimed_at or 0.0) <= now - self.policy.lease_seconds

        with self._lock:
            due = sorted((r for r, s in self._rows.values() if claimable(r, s)), key=lambda r: r.due_at)[:limit]
            claimed: list[Reminder] = []
            for reminder in due:
                if reminder.attempts >= self.policy.max_attempts:
                    self._rows[reminder.id] = (reminder, FAILED)
                    _log_failed(reminder, "its last claim expired")
                    continue
                mine = replace(reminder, attempts=reminder.attempts + 1, claimed_by=worker[:64], claimed_at=now)
                self._rows[reminder.id] = (mine, CLAIMED)
                claimed.append(mine)
            return claimed

    def _holds(self, reminder: Reminder) -> bool:
        stored, status = self._rows[reminder.id]
        claim = (reminder.claimed_by, reminder.claimed_at)
        return status == CLAIMED and (stored.claimed_by, stored.claimed_at) == claim

    def finish(self, reminder: Reminder, status: str = FIRED) -> bool:
        with self._lock:
            if not self._holds(reminder):
                return False
            self._rows[reminder.id] = (self._rows[reminder.id][0], status)
            return True

    def release(self, reminder: Reminder, now: float) -> str | None:
        with self._lock:
            if not self._holds(reminder):
                return None
            if reminder.attempts >= self.policy.max_attempts:
                self._rows[reminder.id] = (reminder, FAILED)
                _log_failed(reminder, "its last delivery failed")
                return FAILED
            again = replace(reminder, due_at=self.policy.retry_at(reminder, now), claimed_by=None, claimed_at=None)
            self._rows[reminder.id] = (again, SCHEDULED)
            return SCHEDULED

    def waiting(self, sender_id: str | None = None) -> list[Reminder]:
        with self._lock:
            return [
                r for r, s in self._rows.values() if s == SCHEDULED and (sender_id is None or r.sender_id == sender_id)
            ]

    def status(self, reminder_id: int) -> str | None:
        with self._lock:
            row = self._rows.get(reminder_id)
            return row[1] if row else None

"""Durable reminders: what a handler's `ReminderScheduled` asks for, kept in the database until due.

`reminder_changes(sender, events, now)` reads Rasa's `reminder` / `cancel_reminder` event dicts (what
rasa-sdk's `ReminderScheduled` / `ReminderCancelled` serialise to) into `Reminder`s and `Cancellation`s.
A reminder due in the past, or without an intent, is a `ReminderError`.

The `Scheduler` keeps them. `SqlScheduler` stores one row per reminder; scheduling a reminder replaces the
sender's waiting one of the same name (Rasa's rule). `claim_due` claims each due row with one
`UPDATE … WHERE status = 'scheduled'` in its own transaction, so across restarts and several workers a
reminder fires at most once, and every due reminder is fired by the first worker that polls after its
time. A reminder with `kill_on_user_message` is dropped when the customer wrote after it was set (Rasa).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Boolean, Column, Engine, Float, Index, Integer, MetaData, String, Table, Text, select, update

from bot.dialogue.tracker_store import make_engine
from bot.proactive.errors import ReminderError

SCHEDULED, CLAIMED, FIRED, CANCELLED = "scheduled", "claimed", "fired", "cancelled"


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


@dataclass(frozen=True)
class Cancellation:
    sender_id: str
    name: str | None = None
    intent: str | None = None


def _entities(raw: Any) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return {str(k): v for k, v in raw.items()}
    if isinstance(raw, list):  # Rasa's entity list
        return {str(e["entity"]): e.get("value") for e in raw if isinstance(e, Mapping) and "entity" in e}
    return {}


def _due(raw: Any, sender: str) -> float:
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        raise ReminderError(
            f"reminder for {sender!r}: date_time {raw!r} is not an ISO date and time (e.g. 2030-05-01T09:00:00+00:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Rasa reads naive times as the server's; supportbot's are UTC
    return moment.timestamp()


def reminder_from_event(sender: str, item: Mapping[str, Any], now: float) -> Reminder:
    """A `reminder` event dict as a Reminder; ReminderError when it has no intent or is due in the past."""
    intent = item.get("intent")
    if not isinstance(intent, str) or not intent:
        raise ReminderError(f"reminder for {sender!r} has no intent: pass the intent to fire to ReminderScheduled")
    due = _due(item.get("date_time"), sender)
    if due <= now:
        when = datetime.fromtimestamp(due, UTC).isoformat(timespec="seconds")
        raise ReminderError(
            f"reminder {item.get('name') or intent!r} for {sender!r} is due at {when}, which is in the past: "
            "schedule it for a later time"
        )
    name = item.get("name") or f"{intent}_{uuid.uuid4().hex[:8]}"
    kill = bool(item.get("kill_on_user_msg", True))
    return Reminder(sender, str(name), intent, due, _entities(item.get("entities")), kill, now)


def reminder_changes(
    sender: str, events: Iterable[Mapping[str, Any]], now: float
) -> tuple[list[Reminder], list[Cancellation]]:
    """The reminders to schedule and cancel among a turn's events, in order. Raises ReminderError."""
    scheduled: list[Reminder] = []
    cancelled: list[Cancellation] = []
    for item in events:
        kind = item.get("event")
        if kind == "reminder":
            scheduled.append(reminder_from_event(sender, item, now))
        elif kind == "cancel_reminder":
            name, intent = item.get("name"), item.get("intent")
            cancelled.append(Cancellation(sender, str(name) if name else None, str(intent) if intent else None))
    return scheduled, cancelled


class Scheduler(Protocol):
    def schedule(self, reminder: Reminder) -> Reminder:
        """Keep the reminder (replacing the sender's waiting one of the same name); returns it with its id."""
        ...

    def cancel(self, cancellation: Cancellation) -> int:
        """Cancel the sender's waiting reminders of that name or intent (all of them when neither); the count."""
        ...

    def claim_due(self, now: float, worker: str, limit: int = 100) -> list[Reminder]:
        """The due reminders this call claimed: no other call ever gets them."""
        ...

    def finish(self, reminder_id: int) -> None:
        """Mark a claimed reminder fired."""
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
    Index("ix_proactive_reminders_due", "status", "due_at"),
    Index("ix_proactive_reminders_sender", "sender_id", "status"),
)


class SqlScheduler:
    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock
        _metadata.create_all(engine)

    @classmethod
    def from_url(cls, url: str) -> SqlScheduler:
        return cls(make_engine(url))

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
        query = (
            select(table.c.id)
            .where(table.c.status == SCHEDULED)
            .where(table.c.due_at <= now)
            .order_by(table.c.due_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            ids = [int(r[0]) for r in conn.execute(query)]
        claimed: list[Reminder] = []
        for reminder_id in ids:
            with self.engine.begin() as conn:
                won = conn.execute(
                    update(table)
                    .where(table.c.id == reminder_id)
                    .where(table.c.status == SCHEDULED)
                    .values(status=CLAIMED, claimed_by=worker[:64], claimed_at=now)
                ).rowcount
                if won == 1:
                    row = conn.execute(select(table).where(table.c.id == reminder_id)).mappings().one()
                    claimed.append(_reminder(row))
        return claimed

    def finish(self, reminder_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(reminders_table).where(reminders_table.c.id == reminder_id).values(status=FIRED))

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
    )


class InMemoryScheduler:
    """The fake: one process, same rules."""

    def __init__(self) -> None:
        self._rows: dict[int, tuple[Reminder, str]] = {}
        self._lock = threading.Lock()

    def schedule(self, reminder: Reminder) -> Reminder:
        with self._lock:
            for key, (other, status) in list(self._rows.items()):
                if status == SCHEDULED and (other.sender_id, other.name) == (reminder.sender_id, reminder.name):
                    self._rows[key] = (other, CANCELLED)
            stored = replace(reminder, id=len(self._rows) + 1)
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
        with self._lock:
            due = sorted(
                (r for r, s in self._rows.values() if s == SCHEDULED and r.due_at <= now), key=lambda r: r.due_at
            )
            for reminder in due[:limit]:
                self._rows[reminder.id] = (reminder, CLAIMED)
            return due[:limit]

    def finish(self, reminder_id: int) -> None:
        with self._lock:
            reminder, _ = self._rows[reminder_id]
            self._rows[reminder_id] = (reminder, FIRED)

    def waiting(self, sender_id: str | None = None) -> list[Reminder]:
        with self._lock:
            return [
                r for r, s in self._rows.values() if s == SCHEDULED and (sender_id is None or r.sender_id == sender_id)
            ]

"""Human handoff: tickets for conversations handed over to a person, and handing them back to the bot.

The platform owns the tickets, not a shop. An action opens one (the reference shop's
`action_human_handoff` does, then pauses the conversation); an operator lists the tickets and gives a
conversation back with `supportbot handoff list|resume ID` or `GET /admin/handoffs` and
`POST /admin/handoffs/{id}/resume`, both through `resume_conversation`.

`HandoffStore` is the seam. `SqlHandoffStore` keeps the tickets in the bot's database, in the table
`shop_handoff_tickets` (named when the tickets lived in the shop backend; existing databases keep their
tickets); `InMemoryHandoffStore` is the fake. `get_handoff_store()` is the process-wide store of the
settings' database, which the in-process actions and the operator tools share. Every write is one
transaction; a database failure is a `BackendError`, an unknown ticket a `HandoffNotFoundError`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import Column, Connection, Engine, Integer, MetaData, Row, String, Table, Text, select
from sqlalchemy.exc import SQLAlchemyError

from bot.dialogue.state import event
from bot.dialogue.tracker_store import TrackerStore, make_engine
from bot.errors import BackendError
from bot.sql_types import UtcDateTime

Clock = Callable[[], datetime]


class HandoffStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class TranscriptLine:
    """One line of a conversation transcript handed to a human operator."""

    speaker: str  # "customer" | "bot" | "operator"
    text: str
    at: datetime | None = None


@dataclass(frozen=True)
class HandoffTicket:
    id: int
    sender_id: str
    status: HandoffStatus
    reason: str
    created_at: datetime
    transcript: tuple[TranscriptLine, ...] = field(default=())
    resolved_at: datetime | None = None


class HandoffNotFoundError(BackendError):
    """No handoff ticket has this id."""

    def __init__(self, ticket_id: int) -> None:
        self.ticket_id = ticket_id
        super().__init__(f"no handoff ticket {ticket_id} — list open tickets with `supportbot handoff list`")


class HandoffStore(Protocol):
    """Tickets of conversations handed over to a person."""

    def open(self, sender_id: str, reason: str, transcript: Sequence[TranscriptLine]) -> HandoffTicket:
        """Open a ticket for an operator (or return the conversation's ticket that is still open, with
        this transcript)."""
        ...

    def tickets(self, status: HandoffStatus | None = HandoffStatus.OPEN) -> list[HandoffTicket]:
        """Tickets, oldest first; `status=None` lists all."""
        ...

    def get(self, ticket_id: int) -> HandoffTicket | None: ...

    def resolve(self, ticket_id: int) -> HandoffTicket:
        """Mark a ticket resolved (the caller then resumes the conversation). Raises HandoffNotFoundError."""
        ...


def resume_conversation(ticket_id: int, handoffs: HandoffStore, tracker_store: TrackerStore) -> HandoffTicket:
    """Resolve the ticket and un-pause its conversation (appends a Rasa `resume` event), atomically per
    sender. The one place that gives a paused conversation back to the bot."""
    ticket = handoffs.get(ticket_id)
    if ticket is None:
        raise HandoffNotFoundError(ticket_id)
    with tracker_store.lock(ticket.sender_id):
        state = tracker_store.load(ticket.sender_id)
        if state is not None and state.paused:
            state.paused = False
            state.add(event("resume"))
            tracker_store.save(state)
    return handoffs.resolve(ticket_id)


def utc_now() -> datetime:
    return datetime.now(UTC)


class InMemoryHandoffStore:
    """The fake: tickets in a dict, numbered from 1."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self.clock = clock
        self._tickets: dict[int, HandoffTicket] = {}
        self._lock = threading.Lock()

    def open(self, sender_id: str, reason: str, transcript: Sequence[TranscriptLine]) -> HandoffTicket:
        with self._lock:
            ticket = next((t for t in self._open_tickets() if t.sender_id == sender_id), None)
            if ticket is None:
                ticket = HandoffTicket(len(self._tickets) + 1, sender_id, HandoffStatus.OPEN, reason, self.clock())
            ticket = replace(ticket, transcript=tuple(transcript))
            self._tickets[ticket.id] = ticket
            return ticket

    def _open_tickets(self) -> Iterator[HandoffTicket]:
        return (t for t in self._tickets.values() if t.status is HandoffStatus.OPEN)

    def tickets(self, status: HandoffStatus | None = HandoffStatus.OPEN) -> list[HandoffTicket]:
        found = [t for t in self._tickets.values() if status is None or t.status is status]
        return sorted(found, key=lambda t: (t.created_at, t.id))

    def get(self, ticket_id: int) -> HandoffTicket | None:
        return self._tickets.get(ticket_id)

    def resolve(self, ticket_id: int) -> HandoffTicket:
        with self._lock:
            ticket = self._tickets.get(ticket_id)
            if ticket is None:
                raise HandoffNotFoundError(ticket_id)
            if ticket.status is not HandoffStatus.RESOLVED:
                ticket = replace(ticket, status=HandoffStatus.RESOLVED, resolved_at=self.clock())
                self._tickets[ticket_id] = ticket
            return ticket


_metadata = MetaData()
handoff_tickets = Table(
    "shop_handoff_tickets",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(200), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("transcript_json", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime, nullable=True),
)


class SqlHandoffStore:
    """Handoff tickets in the bot's SQL database (SQLite by default); the table is created if missing.

    Writes start with their UPDATE or INSERT, so on SQLite a transaction takes the write lock first
    (and waits for it) instead of upgrading a read."""

    def __init__(self, engine: Engine, *, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock
        try:
            _metadata.create_all(engine)
        except SQLAlchemyError as e:
            raise BackendError(f"cannot create the handoff tickets table in {engine.url}: {e}") from e

    @classmethod
    def from_url(cls, url: str, *, clock: Clock = utc_now) -> SqlHandoffStore:
        return cls(make_engine(url), clock=clock)

    @contextmanager
    def _transaction(self, what: str) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as e:
            raise BackendError(f"handoff tickets: database {what} failed ({self.engine.url}): {e}") from e

    def open(self, sender_id: str, reason: str, transcript: Sequence[TranscriptLine]) -> HandoffTicket:
        t = handoff_tickets
        still_open = (t.c.sender_id == sender_id) & (t.c.status == HandoffStatus.OPEN.value)
        lines = _dump_transcript(transcript)
        with self._transaction("write") as conn:
            if conn.execute(t.update().where(still_open).values(transcript_json=lines)).rowcount == 0:
                conn.execute(
                    t.insert().values(
                        sender_id=sender_id,
                        status=HandoffStatus.OPEN.value,
                        reason=reason,
                        created_at=self.clock(),
                        transcript_json=lines,
                    )
                )
            row = conn.execute(select(t).where(still_open).order_by(t.c.id).limit(1)).one()
        return _ticket(row)

    def tickets(self, status: HandoffStatus | None = HandoffStatus.OPEN) -> list[HandoffTicket]:
        t = handoff_tickets
        query = select(t).order_by(t.c.created_at, t.c.id)
        if status is not None:
            query = query.where(t.c.status == status.value)
        with self._transaction("read") as conn:
            return [_ticket(row) for row in conn.execute(query)]

    def get(self, ticket_id: int) -> HandoffTicket | None:
        with self._transaction("read") as conn:
            row = conn.execute(select(handoff_tickets).where(handoff_tickets.c.id == ticket_id)).first()
        return _ticket(row) if row is not None else None

    def resolve(self, ticket_id: int) -> HandoffTicket:
        t = handoff_tickets
        with self._transaction("write") as conn:
            conn.execute(
                t.update()
                .where((t.c.id == ticket_id) & (t.c.status != HandoffStatus.RESOLVED.value))
                .values(status=HandoffStatus.RESOLVED.value, resolved_at=self.clock())
            )
            row = conn.execute(select(t).where(t.c.id == ticket_id)).first()
            if row is None:
                raise HandoffNotFoundError(ticket_id)
        return _ticket(row)


def _dump_transcript(lines: Sequence[TranscriptLine]) -> str:
    return json.dumps(
        [{"speaker": x.speaker, "text": x.text, "at": x.at.isoformat() if x.at else None} for x in lines],
        ensure_ascii=False,
    )


def _ticket(row: Row[Any]) -> HandoffTicket:
    raw = json.loads(row.transcript_json)
    transcript = tuple(
        TranscriptLine(x["speaker"], x["text"], datetime.fromisoformat(x["at"]) if x["at"] else None) for x in raw
    )
    return HandoffTicket(
        id=row.id,
        sender_id=row.sender_id,
        status=HandoffStatus(row.status),
        reason=row.reason,
        created_at=row.created_at,
        transcript=transcript,
        resolved_at=row.resolved_at,
    )


_stores: dict[str, SqlHandoffStore] = {}
_stores_lock = threading.Lock()


def get_handoff_store(url: str | None = None) -> SqlHandoffStore:
    """The process-wide store for `url` (default: the settings' database), created on first use, never
    at import. The in-process handoff action and the operator tools of one process share it."""
    from bot.config import get_settings

    target = url or get_settings().resolved_database_url
    with _stores_lock:
        store = _stores.get(target)
        if store is None:
            store = SqlHandoffStore.from_url(target)
            _stores[target] = store
        return store

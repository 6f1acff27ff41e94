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

A live agent (the console's inbox, `server/console/live.py`) works a ticket through its lifecycle:

    open, waiting ──take(id, agent)──► open, taken by the agent ──close(id)──► resolved (handed back)
          ▲                                   │
          └──── requeue_stale(before) ◄───────┘  the agent's console was not seen since `before`

`take` is one conditional UPDATE (`… WHERE agent_id IS NULL AND the ticket is open`): of two agents racing
for one ticket exactly one wins, the other gets `HandoffTakenError` ("Maria took this conversation at
10:42 UTC"). `close(id, agent)` is one conditional UPDATE too (`… WHERE the ticket is open AND its agent is
this one or nobody`): an agent cannot hand back a conversation another agent took in the meantime
(`HandoffTakenError`). `close` twice gets `HandoffClosedError` the second time and changes nothing. What the live
agent needs beyond the original ticket (the agent, when they took it and were last seen, when the
customer last typed, the email to reply to outside opening hours) is kept in the side table
`handoff_live` (one row per ticket, created with the ticket; tickets of older databases get theirs at
start-up), so the original table stays as existing databases have it.
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

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from bot.dialogue.state import event
from bot.dialogue.tracker_store import TrackerStore, make_engine
from bot.errors import BackendError, SupportbotError
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
class Agent:
    """A person answering customers: the console member's id and display name."""

    id: int
    name: str


@dataclass(frozen=True)
class HandoffTicket:
    id: int
    sender_id: str
    status: HandoffStatus
    reason: str
    created_at: datetime
    transcript: tuple[TranscriptLine, ...] = field(default=())
    resolved_at: datetime | None = None
    agent: Agent | None = None  # who took it (None: waiting in the inbox)
    taken_at: datetime | None = None
    agent_seen_at: datetime | None = None  # the agent's console last asked for news
    customer_typing_at: datetime | None = None
    contact_email: str | None = None  # where to reply when nobody was there (outside opening hours)

    @property
    def waiting(self) -> bool:
        return self.status is HandoffStatus.OPEN and self.agent is None

    @property
    def taken(self) -> bool:
        return self.status is HandoffStatus.OPEN and self.agent is not None


class HandoffNotFoundError(BackendError):
    """No handoff ticket has this id."""

    def __init__(self, ticket_id: int) -> None:
        self.ticket_id = ticket_id
        super().__init__(f"no handoff ticket {ticket_id} — list open tickets with `supportbot handoff list`")


class HandoffConflictError(SupportbotError):
    """The ticket is not in a state that allows this (someone else took it, it was handed back)."""

    def __init__(self, ticket: HandoffTicket, message: str) -> None:
        self.ticket = ticket
        super().__init__(message)


class HandoffTakenError(HandoffConflictError):
    """Another agent took the conversation first."""


class HandoffClosedError(HandoffConflictError):
    """The conversation was already handed back to the bot."""


class HandoffNotYoursError(HandoffConflictError):
    """The agent does not hold this conversation (never took it, or it went back to the queue)."""


def _at(when: datetime | None) -> str:
    return f"{when:%H:%M} UTC" if when else "an unknown time"


def taken_error(ticket: HandoffTicket) -> HandoffConflictError:
    """The error for acting on a ticket one cannot take: taken by someone else, or closed."""
    if ticket.status is HandoffStatus.RESOLVED:
        return HandoffClosedError(
            ticket, f"this conversation was already handed back to the bot at {_at(ticket.resolved_at)}"
        )
    name = ticket.agent.name if ticket.agent else "another agent"
    return HandoffTakenError(ticket, f"{name} took this conversation at {_at(ticket.taken_at)}")


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

    def take(self, ticket_id: int, agent: Agent) -> HandoffTicket:
        """Give the waiting ticket to `agent` (one conditional UPDATE: of racing agents exactly one wins).
        Raises HandoffTakenError (someone else has it), HandoffClosedError, HandoffNotFoundError. Taking
        a ticket one already holds returns it."""
        ...

    def close(self, ticket_id: int, agent: Agent | None = None) -> HandoffTicket:
        """Resolve an open ticket (handed back). With `agent`: only while that agent holds it or nobody
        does, checked in the same step that closes it (HandoffTakenError when another agent holds it).
        Raises HandoffClosedError when it already was resolved."""
        ...

    def seen(self, ticket_id: int, agent_id: int) -> bool:
        """The agent's console is still there: keep the ticket theirs. False when they no longer hold it."""
        ...

    def requeue_stale(self, before: datetime) -> list[HandoffTicket]:
        """Put back in the queue the taken tickets whose agent was last seen before `before`; returns the
        tickets this call requeued (each one by exactly one caller, whatever the workers)."""
        ...

    def customer_typing(self, sender_id: str) -> None:
        """The customer of the conversation's open ticket is typing now."""
        ...

    def set_contact_email(self, ticket_id: int, email: str) -> HandoffTicket: ...


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

    def _known(self, ticket_id: int) -> HandoffTicket:
        ticket = self._tickets.get(ticket_id)
        if ticket is None:
            raise HandoffNotFoundError(ticket_id)
        return ticket

    def take(self, ticket_id: int, agent: Agent) -> HandoffTicket:
        with self._lock:
            ticket = self._known(ticket_id)
            if ticket.taken and ticket.agent is not None and ticket.agent.id == agent.id:
                return ticket
            if not ticket.waiting:
                raise taken_error(ticket)
            now = self.clock()
            ticket = replace(ticket, agent=agent, taken_at=now, agent_seen_at=now)
            self._tickets[ticket_id] = ticket
            return ticket

    def close(self, ticket_id: int, agent: Agent | None = None) -> HandoffTicket:
        with self._lock:
            ticket = self._known(ticket_id)
            held_by_other = agent is not None and ticket.agent is not None and ticket.agent.id != agent.id
            if ticket.status is HandoffStatus.RESOLVED or held_by_other:
                raise taken_error(ticket)
            ticket = replace(ticket, status=HandoffStatus.RESOLVED, resolved_at=self.clock())
            self._tickets[ticket_id] = ticket
            return ticket

    def seen(self, ticket_id: int, agent_id: int) -> bool:
        with self._lock:
            ticket = self._tickets.get(ticket_id)
            if ticket is None or not ticket.taken or ticket.agent is None or ticket.agent.id != agent_id:
                return False
            self._tickets[ticket_id] = replace(ticket, agent_seen_at=self.clock())
            return True

    def requeue_stale(self, before: datetime) -> list[HandoffTicket]:
        with self._lock:
            stale = [t for t in self._tickets.values() if t.taken and (t.agent_seen_at or before) < before]
            requeued = []
            for ticket in stale:
                back = replace(ticket, agent=None, taken_at=None, agent_seen_at=None)
                self._tickets[ticket.id] = back
                requeued.append(ticket)  # as it was: who left it
            return requeued

    def customer_typing(self, sender_id: str) -> None:
        with self._lock:
            for ticket in list(self._open_tickets()):
                if ticket.sender_id == sender_id:
                    self._tickets[ticket.id] = replace(ticket, customer_typing_at=self.clock())

    def set_contact_email(self, ticket_id: int, email: str) -> HandoffTicket:
        with self._lock:
            ticket = replace(self._known(ticket_id), contact_email=email)
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
handoff_live = Table(
    "handoff_live",
    _metadata,
    Column("ticket_id", Integer, primary_key=True),  # shop_handoff_tickets.id
    Column("agent_id", Integer, nullable=True),
    Column("agent_name", String(200), nullable=True),
    Column("taken_at", UtcDateTime, nullable=True),
    Column("agent_seen_at", UtcDateTime, nullable=True),
    Column("customer_typing_at", UtcDateTime, nullable=True),
    Column("contact_email", String(320), nullable=True),
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
            with engine.begin() as conn:  # tickets of databases older than the live table get their row
                t, live = handoff_tickets, handoff_live
                missing = select(t.c.id).where(
                    (t.c.status == HandoffStatus.OPEN.value) & t.c.id.not_in(select(live.c.ticket_id))
                )
                conn.execute(insert(live).from_select(["ticket_id"], missing))
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
                created = conn.execute(
                    t.insert().values(
                        sender_id=sender_id,
                        status=HandoffStatus.OPEN.value,
                        reason=reason,
                        created_at=self.clock(),
                        transcript_json=lines,
                    )
                )
                key = created.inserted_primary_key
                new_id = int(key[0]) if key else 0
                # a purged ticket's id may come back (SQLite): its old live row goes with it
                conn.execute(delete(handoff_live).where(handoff_live.c.ticket_id == new_id))
                conn.execute(insert(handoff_live).values(ticket_id=new_id))
            row = conn.execute(_query().where(still_open).order_by(t.c.id).limit(1)).one()
        return _ticket(row)

    def tickets(self, status: HandoffStatus | None = HandoffStatus.OPEN) -> list[HandoffTicket]:
        t = handoff_tickets
        query = _query().order_by(t.c.created_at, t.c.id)
        if status is not None:
            query = query.where(t.c.status == status.value)
        with self._transaction("read") as conn:
            return [_ticket(row) for row in conn.execute(query)]

    def get(self, ticket_id: int) -> HandoffTicket | None:
        with self._transaction("read") as conn:
            row = conn.execute(_query().where(handoff_tickets.c.id == ticket_id)).first()
        return _ticket(row) if row is not None else None

    def resolve(self, ticket_id: int) -> HandoffTicket:
        t = handoff_tickets
        with self._transaction("write") as conn:
            conn.execute(
                t.update()
                .where((t.c.id == ticket_id) & (t.c.status != HandoffStatus.RESOLVED.value))
                .values(status=HandoffStatus.RESOLVED.value, resolved_at=self.clock())
            )
            row = conn.execute(_query().where(t.c.id == ticket_id)).first()
            if row is None:
                raise HandoffNotFoundError(ticket_id)
        return _ticket(row)

    def _current(self, conn: Connection, ticket_id: int) -> HandoffTicket:
        row = conn.execute(_query().where(handoff_tickets.c.id == ticket_id)).first()
        if row is None:
            raise HandoffNotFoundError(ticket_id)
        return _ticket(row)

    def take(self, ticket_id: int, agent: Agent) -> HandoffTicket:
        t, live = handoff_tickets, handoff_live
        now = self.clock()
        is_open = select(t.c.id).where((t.c.id == ticket_id) & (t.c.status == HandoffStatus.OPEN.value))
        claim = (
            update(live)
            .where((live.c.ticket_id == ticket_id) & live.c.agent_id.is_(None) & live.c.ticket_id.in_(is_open))
            .values(agent_id=agent.id, agent_name=agent.name[:200], taken_at=now, agent_seen_at=now)
        )
        with self._transaction("write") as conn:
            won = conn.execute(claim).rowcount == 1
            ticket = self._current(conn, ticket_id)
        if won or (ticket.taken and ticket.agent is not None and ticket.agent.id == agent.id):
            return ticket
        raise taken_error(ticket)

    def close(self, ticket_id: int, agent: Agent | None = None) -> HandoffTicket:
        t, live = handoff_tickets, handoff_live
        closable = (t.c.id == ticket_id) & (t.c.status == HandoffStatus.OPEN.value)
        if agent is not None:  # the holder is checked by the UPDATE itself: no window between check and close
            others = select(live.c.ticket_id).where(
                (live.c.ticket_id == ticket_id) & live.c.agent_id.is_not(None) & (live.c.agent_id != agent.id)
            )
            closable = closable & t.c.id.not_in(others)
        with self._transaction("write") as conn:
            closed = conn.execute(
                t.update().where(closable).values(status=HandoffStatus.RESOLVED.value, resolved_at=self.clock())
            ).rowcount
            ticket = self._current(conn, ticket_id)
        if closed != 1:
            raise taken_error(ticket)
        return ticket

    def seen(self, ticket_id: int, agent_id: int) -> bool:
        live = handoff_live
        with self._transaction("write") as conn:
            mine = (live.c.ticket_id == ticket_id) & (live.c.agent_id == agent_id)
            return bool(conn.execute(update(live).where(mine).values(agent_seen_at=self.clock())).rowcount == 1)

    def requeue_stale(self, before: datetime) -> list[HandoffTicket]:
        t, live = handoff_tickets, handoff_live
        open_ids = select(t.c.id).where(t.c.status == HandoffStatus.OPEN.value)
        stale = live.c.agent_id.is_not(None) & (live.c.agent_seen_at < before) & live.c.ticket_id.in_(open_ids)
        with self._transaction("read") as conn:
            candidates = [_ticket(row) for row in conn.execute(_query().where(stale))]
        requeued: list[HandoffTicket] = []
        for ticket in candidates:
            if ticket.agent is None:
                continue
            with self._transaction("write") as conn:
                gone = (live.c.ticket_id == ticket.id) & (live.c.agent_id == ticket.agent.id) & stale
                cleared = dict(agent_id=None, agent_name=None, taken_at=None, agent_seen_at=None)
                if conn.execute(update(live).where(gone).values(**cleared)).rowcount == 1:
                    requeued.append(ticket)
        return requeued

    def customer_typing(self, sender_id: str) -> None:
        t, live = handoff_tickets, handoff_live
        open_ids = select(t.c.id).where((t.c.sender_id == sender_id) & (t.c.status == HandoffStatus.OPEN.value))
        with self._transaction("write") as conn:
            conn.execute(update(live).where(live.c.ticket_id.in_(open_ids)).values(customer_typing_at=self.clock()))

    def set_contact_email(self, ticket_id: int, email: str) -> HandoffTicket:
        live = handoff_live
        with self._transaction("write") as conn:
            changed = conn.execute(update(live).where(live.c.ticket_id == ticket_id).values(contact_email=email))
            if changed.rowcount == 0:
                conn.execute(insert(live).values(ticket_id=self._current(conn, ticket_id).id, contact_email=email))
            return self._current(conn, ticket_id)


def _query() -> Any:
    """The tickets with their live columns (absent for tickets older than the live table)."""
    t, live = handoff_tickets, handoff_live
    return select(
        t,
        live.c.agent_id,
        live.c.agent_name,
        live.c.taken_at,
        live.c.agent_seen_at,
        live.c.customer_typing_at,
        live.c.contact_email,
    ).select_from(t.outerjoin(live, live.c.ticket_id == t.c.id))


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
        agent=Agent(int(row.agent_id), str(row.agent_name or "")) if row.agent_id is not None else None,
        taken_at=row.taken_at,
        agent_seen_at=row.agent_seen_at,
        customer_typing_at=row.customer_typing_at,
        contact_email=row.contact_email,
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

"""Tracker stores: where conversation state lives between messages.

`SqlTrackerStore` (SQLAlchemy; SQLite by default, Postgres for scale-out) keeps one row of state per
sender and an append-only history of events; `InMemoryTrackerStore` is the fake for tests.
Each save is one transaction.
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    select,
)
from sqlalchemy import (
    event as sa_event,
)

from bot.dialogue.state import MAX_EVENTS, ConversationState

_metadata = MetaData()
conversations = Table(
    "conversations",
    _metadata,
    Column("sender_id", String(128), primary_key=True),
    Column("state", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)
history = Table(
    "conversation_events",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sender_id", String(128), nullable=False),
    Column("session_id", Integer, nullable=False),
    Column("event", String(32), nullable=False),
    Column("data", Text, nullable=False),
    Column("timestamp", Float, nullable=False),
    Index("ix_conversation_events_sender_session", "sender_id", "session_id", "id"),
    Index("ix_conversation_events_sender_kind", "sender_id", "event", "id"),
)

HISTORY_EVENTS = ("user", "bot", "session_started", "restart", "pause", "resume")


class TrackerStore(Protocol):
    def load(self, sender_id: str) -> ConversationState | None: ...

    def save(self, state: ConversationState) -> None:
        """Persist the state and append `state.new_events` to the history, atomically."""
        ...

    def history(self, sender_id: str, limit: int = 200) -> list[dict[str, Any]]: ...

    @contextmanager
    def lock(self, sender_id: str) -> Iterator[None]:
        """Messages of one sender are processed one at a time, in order."""
        yield


class StripedLocks:
    """One holder per key at a time: a fixed set of striped locks, picked by a stable hash of the key
    (memory stays bounded however many customers come; two keys rarely share a stripe, and then merely
    take turns).

    With `path`, each stripe is also a byte-range lock on that file, so several server processes on one
    machine (`supportbot serve --workers N`) serialise the same key too; a waiter is woken as soon as the
    lock is free. The locks are Linux's open-file-description locks: POSIX record locks belong to the
    whole process, and the kernel's deadlock detection then refuses (EDEADLK) a thread that waits while
    another thread of its process holds an unrelated stripe. Either way one descriptor serves every
    thread, which is why the thread lock of the stripe is taken first."""

    def __init__(self, path: Path | None = None, *, stripes: int = 1024) -> None:
        self._stripes = [threading.Lock() for _ in range(stripes)]
        self._fd: int | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def stripe(self, key: str) -> int:
        return zlib.crc32(key.encode("utf-8")) % len(self._stripes)

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        index = self.stripe(key)
        with self._stripes[index]:
            if self._fd is None:
                yield
                return
            _file_lock(self._fd, index, exclusive=True)
            try:
                yield
            finally:
                _file_lock(self._fd, index, exclusive=False)


_OFD_SETLKW = getattr(fcntl, "F_OFD_SETLKW", None)


def _file_lock(fd: int, offset: int, *, exclusive: bool) -> None:
    """Lock (blocking) or unlock one byte of `fd`: an OFD lock on Linux, a POSIX record lock elsewhere."""
    if _OFD_SETLKW is None:  # no OFD locks on this platform
        fcntl.lockf(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_UN, 1, offset)
        return
    kind = fcntl.F_WRLCK if exclusive else fcntl.F_UNLCK
    # struct flock {short l_type, l_whence; off_t l_start, l_len; pid_t l_pid} (l_pid must be 0 for OFD)
    fcntl.fcntl(fd, _OFD_SETLKW, struct.pack("hhqqi", kind, os.SEEK_SET, offset, 1, 0))


class InMemoryTrackerStore:
    def __init__(self) -> None:
        self._states: dict[str, dict[str, Any]] = {}
        self._history: dict[str, list[dict[str, Any]]] = {}
        self._locks = StripedLocks()

    def load(self, sender_id: str) -> ConversationState | None:
        data = self._states.get(sender_id)
        return ConversationState.from_json(json.loads(json.dumps(data))) if data else None

    def save(self, state: ConversationState) -> None:
        self._states[state.sender_id] = json.loads(json.dumps(state.to_json()))
        self._history.setdefault(state.sender_id, []).extend(
            dict(e) for e in state.new_events if e.get("event") in HISTORY_EVENTS
        )
        state.new_events = []

    def history(self, sender_id: str, limit: int = 200) -> list[dict[str, Any]]:
        return list(self._history.get(sender_id, []))[-limit:]

    @contextmanager
    def lock(self, sender_id: str) -> Iterator[None]:
        with self._locks.hold(sender_id):
            yield


def _upsert_statement(engine: Engine) -> Any:
    """`INSERT … ON CONFLICT (sender_id) DO UPDATE` for SQLite and Postgres; None elsewhere."""
    if engine.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    else:
        return None
    statement = insert(conversations)
    return statement.on_conflict_do_update(
        index_elements=[conversations.c.sender_id],
        set_={"state": statement.excluded.state, "updated_at": statement.excluded.updated_at},
    )


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine; SQLite gets WAL and a busy timeout so threads and processes can share it."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # one connection per worker thread (the server runs up to 40); SQLite itself serialises writers
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=16, max_overflow=32
        )

        @sa_event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class SqlTrackerStore:
    """Conversation state in SQL (SQLite default), shaped like Rasa's SQL tracker store: one row of state
    per sender (slots, active loop, …) and one row per event. A save upserts the state row and appends only
    the new events, in one transaction, so it costs the same on turn 5 and turn 500; a load reads the state
    and the last `MAX_EVENTS` events of the current session. Survives restarts.

    The statements are built once (building a SQLAlchemy statement per call cost more than running it),
    and on SQLite saves take turns on a lock of their own — across processes too, with `lock_file`: SQLite
    has one writer at a time, and a waiter on a lock wakes as soon as it is free, where SQLite's busy handler
    sleeps 1-100 ms between retries (the tail latency under load)."""

    def __init__(self, engine: Engine, *, lock_file: Path | None = None) -> None:
        self.engine = engine
        _metadata.create_all(engine)
        self._locks = StripedLocks(lock_file)
        writer_file = lock_file.with_name(lock_file.name + ".writer") if lock_file is not None else None
        # SQLite has one writer at a time; a server database (Postgres) takes concurrent writes
        self._writer = StripedLocks(writer_file, stripes=1) if engine.dialect.name == "sqlite" else None
        self._select_state = select(conversations.c.state).where(conversations.c.sender_id == bindparam("sender"))
        self._select_events = (
            select(history.c.data)
            .where(history.c.sender_id == bindparam("sender"), history.c.session_id == bindparam("session"))
            .order_by(history.c.id.desc())
            .limit(MAX_EVENTS)
        )
        self._upsert = _upsert_statement(engine)
        self._insert_event = history.insert()

    @classmethod
    def from_url(cls, url: str, *, lock_file: Path | None = None) -> SqlTrackerStore:
        """`lock_file` makes the per-sender lock hold across processes (several server workers)."""
        return cls(make_engine(url), lock_file=lock_file)

    def load(self, sender_id: str) -> ConversationState | None:
        with self.engine.connect() as conn:
            row = conn.execute(self._select_state, {"sender": sender_id}).first()
            if row is None:
                return None
            data = json.loads(row[0])
            session = int(data.get("session_id", 0))
            rows = conn.execute(self._select_events, {"sender": sender_id, "session": session}).all()
        data["events"] = [json.loads(r[0]) for r in reversed(rows)]
        return ConversationState.from_json(data)

    def save(self, state: ConversationState) -> None:
        data = state.to_json()
        data.pop("events", None)
        now = time.time()
        values = {"sender_id": state.sender_id, "state": json.dumps(data, default=str), "updated_at": now}
        rows = [
            {
                "sender_id": state.sender_id,
                "session_id": state.session_id,
                "event": e["event"],
                "data": json.dumps(e, default=str),
                "timestamp": float(e.get("timestamp") or now),
            }
            for e in state.new_events
        ]
        writer = self._writer.hold("") if self._writer is not None else nullcontext()
        with writer, self.engine.begin() as conn:
            if self._upsert is not None:
                conn.execute(self._upsert, values)
            else:  # a database without INSERT … ON CONFLICT
                updated = conn.execute(
                    conversations.update().where(conversations.c.sender_id == values["sender_id"]),
                    {"state": values["state"], "updated_at": now},
                )
                if updated.rowcount == 0:
                    conn.execute(conversations.insert(), values)
            if rows:
                conn.execute(self._insert_event, rows)
        state.new_events = []

    def history(self, sender_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """What was said (user and bot messages and session markers), oldest first, across sessions."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(history.c.data)
                .where(history.c.sender_id == sender_id, history.c.event.in_(HISTORY_EVENTS))
                .order_by(history.c.id.desc())
                .limit(limit)
            ).all()
        return [json.loads(r[0]) for r in reversed(rows)]

    @contextmanager
    def lock(self, sender_id: str) -> Iterator[None]:
        with self._locks.hold(sender_id):
            yield

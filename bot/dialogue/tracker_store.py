"""Tracker stores: where conversation state lives between messages.

`SqlTrackerStore` (SQLAlchemy; SQLite by default, Postgres for scale-out) keeps one row of state per
sender and an append-only history of events; `InMemoryTrackerStore` is the fake for tests.
Each save is one transaction.

A save that is not kept raises `TrackerStoreError`, and the server then refuses the turn (503) instead of
acknowledging it: the database failed or is read-only, or — SQLite — its file was deleted or replaced while
serving (open connections would go on writing to the deleted file, lost at the next restart, so every
load and save first checks that the file at the path is still the one opened). `check_writable` is the
same guarantee as a cheap write, for readiness (docs/operations.md).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
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
    func,
    inspect,
    or_,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

from bot.coordination.fencing import StaleFenceError, current_fence
from bot.database_file import damaged_database
from bot.database_file import database_file as database_file  # re-exported: its home before bot.database_file
from bot.database_file import make_engine as make_engine  # re-exported: its home before bot.database_file
from bot.dialogue.state import MAX_EVENTS, ConversationState
from bot.errors import TrackerStoreError as TrackerStoreError  # re-exported: its home before bot.errors

_metadata = MetaData()
conversations = Table(
    "conversations",
    _metadata,
    Column("sender_id", String(128), primary_key=True),
    Column("state", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("fence", BigInteger, nullable=True),  # the fencing token of the last write (bot/coordination)
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

probe = Table("tracker_store_probe", _metadata, Column("id", Integer, primary_key=True), Column("checked_at", Float))

HISTORY_EVENTS = ("user", "bot", "session_started", "restart", "pause", "resume")


class TrackerStore(Protocol):
    def load(self, sender_id: str) -> ConversationState | None: ...

    def save(self, state: ConversationState) -> None:
        """Persist the state and append `state.new_events` to the history, atomically."""
        ...

    def history(self, sender_id: str, limit: int = 200) -> list[dict[str, Any]]: ...

    def check_writable(self) -> None:
        """Raise `TrackerStoreError` unless a save made now would be kept (a cheap write; for readiness)."""
        ...

    @contextmanager
    def lock(self, sender_id: str) -> Iterator[None]:
        """Messages of one sender are processed one at a time, in order."""
        yield


class StripedLocks:
    """One holder per key at a time. A key's stripe is a stable 62-bit hash of it, so two keys practically
    never share one (with 1,024 stripes a customer now and then waited for another's slow action); a
    stripe's thread lock lives while held or awaited, so memory is bounded by the turns in flight.

    With `path`, each stripe is also a byte-range lock on that file (at the stripe's offset), so several
    server processes (`supportbot serve --workers N`) serialise the same key too, a waiter woken as soon as
    the lock is free. These are Linux's open-file-description locks: POSIX record locks belong to the whole
    process, and the kernel's deadlock detection would refuse (EDEADLK) a thread that waits while another
    thread of its process holds an unrelated stripe. One descriptor serves every thread, hence the thread
    lock first."""

    def __init__(self, path: Path | None = None, *, stripes: int = 2**62) -> None:
        self._count = stripes
        self._locks: dict[int, tuple[threading.Lock, list[int]]] = {}  # stripe → (lock, [holders + waiters])
        self._guard = threading.Lock()
        self._fd: int | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def stripe(self, key: str) -> int:
        return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big") % self._count

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        index = self.stripe(key)
        with self._guard:
            lock, users = self._locks.setdefault(index, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with lock:
                if self._fd is None:
                    yield
                    return
                _file_lock(self._fd, index, exclusive=True)
                try:
                    yield
                finally:
                    _file_lock(self._fd, index, exclusive=False)
        finally:
            with self._guard:
                users[0] -= 1
                if users[0] == 0:
                    del self._locks[index]


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

    def check_writable(self) -> None:
        """Memory can always be written."""

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
    fence, kept = statement.excluded.fence, conversations.c.fence
    return statement.on_conflict_do_update(
        index_elements=[conversations.c.sender_id],
        set_={
            "state": statement.excluded.state,
            "updated_at": statement.excluded.updated_at,
            "fence": func.coalesce(fence, kept),
        },
        # a write under an older fencing token than the last one is refused (no row returned)
        where=or_(fence.is_(None), kept.is_(None), kept <= fence),
    ).returning(conversations.c.sender_id)


def _add_fence_column(engine: Engine) -> None:
    """Databases made before fencing lack `conversations.fence`: add it (nullable, so old rows stay valid)."""
    columns = {c["name"] for c in inspect(engine).get_columns("conversations")}
    if "fence" not in columns:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE conversations ADD COLUMN fence BIGINT"))


_RESTORE_FIX = "put the file back (from a backup) and restart the server; until then turns are refused with 503"
_WRITABLE_FIX = (
    "make the database file, its -wal and -shm files and their folder writable by the server again (or free "
    "the disk / remount it read-write); turns are refused with 503 meanwhile and accepted again by themselves"
)
_REACH_FIX = "check that the database is reachable and its tables intact; turns are refused with 503 meanwhile"


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
        try:
            _metadata.create_all(engine)
        except SQLAlchemyError as e:  # a damaged SQLite file names itself and the fix (bot/database_file.py)
            damaged = damaged_database(engine.url.render_as_string(hide_password=True), e)
            if damaged is None:
                raise
            raise damaged from e
        _add_fence_column(engine)
        self.file = database_file(engine)
        self._identity = _identity(self.file) if self.file is not None else None
        self._where = str(self.file) if self.file is not None else engine.url.render_as_string(hide_password=True)
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
        self._check_file()
        try:
            with self.engine.connect() as conn:
                row = conn.execute(self._select_state, {"sender": sender_id}).first()
                if row is None:
                    return None
                data = json.loads(row[0])
                session = int(data.get("session_id", 0))
                rows = conn.execute(self._select_events, {"sender": sender_id, "session": session}).all()
        except SQLAlchemyError as e:
            raise self._failed("load a conversation", e) from e
        data["events"] = [json.loads(r[0]) for r in reversed(rows)]
        return ConversationState.from_json(data)

    def save(self, state: ConversationState) -> None:
        data = state.to_json()
        data.pop("events", None)
        now = time.time()
        fence = current_fence(state.sender_id)
        values = {
            "sender_id": state.sender_id,
            "state": json.dumps(data, default=str),
            "updated_at": now,
            "fence": fence,
        }
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
        try:
            with self._writing() as conn:
                if self._upsert is not None:
                    if conn.execute(self._upsert, values).first() is None:
                        stored = conn.execute(
                            select(conversations.c.fence).where(conversations.c.sender_id == state.sender_id)
                        ).scalar()
                        raise StaleFenceError(state.sender_id, fence or 0, int(stored or 0))
                else:  # a database without INSERT … ON CONFLICT
                    updated = conn.execute(
                        conversations.update().where(conversations.c.sender_id == values["sender_id"]),
                        {"state": values["state"], "updated_at": now},
                    )
                    if updated.rowcount == 0:
                        conn.execute(conversations.insert(), values)
                if rows:
                    conn.execute(self._insert_event, rows)
        except SQLAlchemyError as e:
            raise self._failed("save a conversation", e) from e
        state.new_events = []

    def check_writable(self) -> None:
        """One small write (a row of `tracker_store_probe`), checked like a save."""
        try:
            with self._writing() as conn:
                conn.execute(probe.delete())
                conn.execute(probe.insert(), {"id": 1, "checked_at": time.time()})
        except SQLAlchemyError as e:
            raise self._failed("write", e) from e

    @contextmanager
    def _writing(self) -> Iterator[Any]:
        """A transaction, taking the writer's turn on SQLite; the database file is checked before it and
        after the commit, so a write that landed in a deleted file raises instead of being acknowledged."""
        self._check_file()
        writer = self._writer.hold("") if self._writer is not None else nullcontext()
        with writer:
            with self.engine.begin() as conn:
                yield conn
            self._check_file()

    def _check_file(self) -> None:
        """Raise unless the SQLite file at the path is still the one this store opened."""
        if self.file is None:
            return
        try:
            same: bool | None = _identity(self.file) == self._identity
        except FileNotFoundError:
            same = None
        except OSError as e:
            raise TrackerStoreError(
                f"cannot check {self.file}: {e} — {_WRITABLE_FIX}", "the database file is unreachable"
            ) from e
        if not same:
            what = "deleted" if same is None else "replaced by another file"
            raise TrackerStoreError(
                f"the database file {self.file} was {what} while the server was running: conversations saved now "
                f"would be lost at the next restart — {_RESTORE_FIX}",
                f"the database file was {what.split()[0]}",
            )

    def _failed(self, doing: str, e: SQLAlchemyError) -> TrackerStoreError:
        cause = getattr(e, "orig", None) or e
        if "readonly" in str(cause) or "disk I/O" in str(cause):
            fix, reason = _WRITABLE_FIX, f"the database cannot be written ({cause})"
        else:
            fix, reason = _REACH_FIX, f"the database failed ({type(cause).__name__})"
        return TrackerStoreError(f"could not {doing} in {self._where}: {cause} — {fix}", reason)

    def history(self, sender_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """What was said (user and bot messages and session markers), oldest first, across sessions."""
        self._check_file()
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(history.c.data)
                    .where(history.c.sender_id == sender_id, history.c.event.in_(HISTORY_EVENTS))
                    .order_by(history.c.id.desc())
                    .limit(limit)
                ).all()
        except SQLAlchemyError as e:
            raise self._failed("read a conversation's history", e) from e
        return [json.loads(r[0]) for r in reversed(rows)]

    @contextmanager
    def lock(self, sender_id: str) -> Iterator[None]:
        with self._locks.hold(sender_id):
            yield


def _identity(file: Path) -> tuple[int, int]:
    """(device, inode) of `file`: the same path names another file once it was deleted and recreated."""
    info = os.stat(file)
    return info.st_dev, info.st_ino

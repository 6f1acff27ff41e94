"""Where suggestions, decisions and the audit live: the bot's SQL database (SQLite by default, Postgres for
several servers), in three tables created if missing:

    learning_suggestions       one row per suggestion: what, why, the messages, state open|accepted|rejected
    learning_audit             one row per decision: who, when, what (the diff written)
    learning_decided_signals   the messages a decision covered, never suggested again

`SuggestionStore` is the seam; `SqlSuggestionStore` the real one, `InMemorySuggestionStore` the fake. A decision
is one transaction that only succeeds on an open suggestion: deciding twice raises `SuggestionDecided`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sqlalchemy import Column, Connection, Engine, Float, Integer, MetaData, String, Table, Text, select
from sqlalchemy.exc import SQLAlchemyError

from bot.dialogue.tracker_store import make_engine
from bot.errors import BackendError
from bot.learning.errors import SuggestionDecided, SuggestionNotFound
from bot.learning.suggestions import Suggestion, iso


@dataclass(frozen=True)
class AuditRecord:
    """One decision: who accepted or rejected which suggestion, when, and what was written."""

    id: int
    suggestion_id: int
    action: str  # "accepted" | "rejected"
    by: str
    at: float
    kind: str
    target: str | None
    file: str | None
    diff: str | None
    note: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "suggestion_id": self.suggestion_id,
            "action": self.action,
            "by": self.by,
            "at": iso(self.at),
            "kind": self.kind,
            "target": self.target,
            "file": self.file,
            "diff": self.diff,
            "note": self.note,
        }


class SuggestionStore(Protocol):
    def sync_open(self, drafts: Sequence[Suggestion], now: float) -> list[Suggestion]:
        """Make the open suggestions these: an open one with a draft's key is updated (keeps its id), a new
        key is added, an open one no draft names is dropped. Decided ones are never touched."""
        ...

    def get(self, suggestion_id: int) -> Suggestion | None: ...

    def suggestions(self, state: str | None = "open", limit: int = 200) -> list[Suggestion]:
        """Open ones biggest first; decided ones newest decision first; `state=None`: all."""
        ...

    def decide(
        self, suggestion_id: int, state: str, by: str, at: float, *, diff: str | None = None, note: str | None = None
    ) -> Suggestion:
        """Accept or reject an open suggestion, record the audit and its messages, in one transaction."""
        ...

    def decided_signal_keys(self) -> set[str]: ...

    def rebase(self, file: str, old_hash: str, new_hash: str) -> int:
        """Open suggestions prepared from `file` at `old_hash` now count it at `new_hash` (the learner's own
        write: not a hand edit). Returns how many."""
        ...

    def audit(self, limit: int = 200) -> list[AuditRecord]:
        """Newest first."""
        ...


def _order(items: list[Suggestion], state: str | None) -> list[Suggestion]:
    if state == "open":
        return sorted(items, key=lambda s: (-s.count, -s.last_seen, s.id or 0))
    return sorted(items, key=lambda s: (-(s.decided_at or s.updated_at), -(s.id or 0)))


def _decided_error(found: Suggestion | None, suggestion_id: int) -> Exception:
    if found is None:
        return SuggestionNotFound(suggestion_id)
    return SuggestionDecided(suggestion_id, found.state, found.decided_by, iso(found.decided_at))


class InMemorySuggestionStore:
    """The fake: suggestions in a dict, numbered from 1."""

    def __init__(self) -> None:
        self._items: dict[int, Suggestion] = {}
        self._audit: list[AuditRecord] = []
        self._decided: set[str] = set()
        self._lock = threading.Lock()
        self._last_id = 0

    def sync_open(self, drafts: Sequence[Suggestion], now: float) -> list[Suggestion]:
        with self._lock:
            open_by_key = {s.key: s for s in self._items.values() if s.state == "open"}
            wanted = {d.key for d in drafts}
            for key, stale in open_by_key.items():
                if key not in wanted:
                    del self._items[stale.id or 0]
            for draft in drafts:
                same = open_by_key.get(draft.key)
                if same is not None and same.id is not None:
                    number = same.id
                else:
                    self._last_id += 1  # never reused, as the SQL store's AUTOINCREMENT
                    number = self._last_id
                created = same.created_at if same is not None else now
                self._items[number] = replace(draft, id=number, state="open", created_at=created, updated_at=now)
        return self.suggestions("open", limit=len(self._items) + 1)

    def get(self, suggestion_id: int) -> Suggestion | None:
        return self._items.get(suggestion_id)

    def suggestions(self, state: str | None = "open", limit: int = 200) -> list[Suggestion]:
        items = [s for s in self._items.values() if state is None or s.state == state]
        return _order(items, state)[:limit]

    def decide(
        self, suggestion_id: int, state: str, by: str, at: float, *, diff: str | None = None, note: str | None = None
    ) -> Suggestion:
        with self._lock:
            found = self._items.get(suggestion_id)
            if found is None or found.state != "open":
                raise _decided_error(found, suggestion_id)
            decided = replace(found, state=state, decided_by=by, decided_at=at, change=diff)  # type: ignore[arg-type]
            self._items[suggestion_id] = decided
            self._decided.update(found.signal_keys)
            record = AuditRecord(len(self._audit) + 1, suggestion_id, state, by, at, found.kind, found.target,
                                 found.file, diff, note)  # fmt: skip
            self._audit.append(record)
            return decided

    def decided_signal_keys(self) -> set[str]:
        return set(self._decided)

    def rebase(self, file: str, old_hash: str, new_hash: str) -> int:
        with self._lock:
            moved = [
                s for s in self._items.values() if s.state == "open" and s.file == file and s.base_hash == old_hash
            ]
            for s in moved:
                self._items[s.id or 0] = replace(s, base_hash=new_hash)
            return len(moved)

    def audit(self, limit: int = 200) -> list[AuditRecord]:
        return list(reversed(self._audit))[:limit]


_metadata = MetaData()
suggestions_table = Table(
    "learning_suggestions",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("target", String(200), nullable=True),
    Column("question", Text, nullable=True),
    Column("phrasings", Text, nullable=False),
    Column("file", String(500), nullable=True),
    Column("reason", Text, nullable=False),
    Column("count", Integer, nullable=False),
    Column("examples", Text, nullable=False),
    Column("signals", Text, nullable=False),
    Column("signal_keys", Text, nullable=False),
    Column("candidates", Text, nullable=False),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("base_hash", String(64), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("decided_at", Float, nullable=True),
    Column("decided_by", String(200), nullable=True),
    Column("change", Text, nullable=True),
    sqlite_autoincrement=True,  # an id is never given to another suggestion, even after a drop
)
audit_table = Table(
    "learning_audit",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("suggestion_id", Integer, nullable=False, index=True),
    Column("action", String(16), nullable=False),
    Column("by", String(200), nullable=False),
    Column("at", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("target", String(200), nullable=True),
    Column("file", String(500), nullable=True),
    Column("diff", Text, nullable=True),
    Column("note", Text, nullable=True),
)
decided_signals_table = Table(
    "learning_decided_signals",
    _metadata,
    Column("signal_key", String(64), primary_key=True),
    Column("suggestion_id", Integer, nullable=False),
)


def _row_values(s: Suggestion) -> dict[str, Any]:
    return {
        "key": s.key,
        "kind": s.kind,
        "target": s.target,
        "question": s.question,
        "phrasings": json.dumps(list(s.phrasings), ensure_ascii=False),
        "file": s.file,
        "reason": s.reason,
        "count": s.count,
        "examples": json.dumps(list(s.examples), ensure_ascii=False),
        "signals": json.dumps(dict(s.signals)),
        "signal_keys": json.dumps(list(s.signal_keys)),
        "candidates": json.dumps([[n, v] for n, v in s.candidates]),
        "first_seen": s.first_seen,
        "last_seen": s.last_seen,
        "base_hash": s.base_hash,
    }


def _suggestion(row: Any) -> Suggestion:
    return Suggestion(
        id=int(row.id),
        key=str(row.key),
        kind=row.kind,
        state=row.state,
        target=row.target,
        question=row.question,
        phrasings=tuple(json.loads(row.phrasings)),
        file=row.file,
        reason=str(row.reason),
        count=int(row.count),
        examples=tuple(json.loads(row.examples)),
        signals=json.loads(row.signals),
        signal_keys=tuple(json.loads(row.signal_keys)),
        candidates=tuple((str(n), float(v)) for n, v in json.loads(row.candidates)),
        first_seen=float(row.first_seen),
        last_seen=float(row.last_seen),
        base_hash=row.base_hash,
        created_at=float(row.created_at),
        updated_at=float(row.updated_at),
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        change=row.change,
    )


class SqlSuggestionStore:
    """Suggestions, the audit and decided messages in the bot's SQL database; tables created if missing. A
    database failure is a `BackendError` naming the database and the fix."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        try:
            _metadata.create_all(engine)
        except SQLAlchemyError as e:
            raise BackendError(f"cannot create the learning tables in {self._where()}: {e}") from e

    @classmethod
    def from_url(cls, url: str) -> SqlSuggestionStore:
        return cls(make_engine(url))

    def _where(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def _transaction(self, what: str) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as e:
            raise BackendError(
                f"learning suggestions: database {what} failed ({self._where()}): {e} — check that the database "
                "is reachable and writable"
            ) from e

    def sync_open(self, drafts: Sequence[Suggestion], now: float) -> list[Suggestion]:
        t = suggestions_table
        with self._transaction("write") as conn:
            existing = {
                row.key: int(row.id) for row in conn.execute(select(t.c.id, t.c.key).where(t.c.state == "open"))
            }
            wanted = {d.key for d in drafts}
            stale = [number for key, number in existing.items() if key not in wanted]
            if stale:
                conn.execute(t.delete().where(t.c.id.in_(stale)))
            for draft in drafts:
                values = {**_row_values(draft), "updated_at": now}
                if draft.key in existing:
                    conn.execute(t.update().where(t.c.id == existing[draft.key]).values(**values))
                else:
                    conn.execute(t.insert().values(**values, state="open", created_at=now))
        return self.suggestions("open", limit=len(drafts) + 1)

    def get(self, suggestion_id: int) -> Suggestion | None:
        with self._transaction("read") as conn:
            row = conn.execute(select(suggestions_table).where(suggestions_table.c.id == suggestion_id)).first()
        return _suggestion(row) if row is not None else None

    def suggestions(self, state: str | None = "open", limit: int = 200) -> list[Suggestion]:
        t = suggestions_table
        query = select(t)
        if state is not None:
            query = query.where(t.c.state == state)
        with self._transaction("read") as conn:
            items = [_suggestion(row) for row in conn.execute(query)]
        return _order(items, state)[:limit]

    def decide(
        self, suggestion_id: int, state: str, by: str, at: float, *, diff: str | None = None, note: str | None = None
    ) -> Suggestion:
        t = suggestions_table
        with self._transaction("write") as conn:
            updated = conn.execute(
                t.update()
                .where((t.c.id == suggestion_id) & (t.c.state == "open"))
                .values(state=state, decided_by=by, decided_at=at, change=diff)
            )
            row = conn.execute(select(t).where(t.c.id == suggestion_id)).first()
            found = _suggestion(row) if row is not None else None
            if updated.rowcount == 0 or found is None:
                raise _decided_error(found, suggestion_id)
            conn.execute(
                audit_table.insert().values(
                    suggestion_id=suggestion_id, action=state, by=by, at=at, kind=found.kind, target=found.target,
                    file=found.file, diff=diff, note=note,
                )
            )  # fmt: skip
            keys = set(found.signal_keys)
            if keys:
                d = decided_signals_table
                known = {r[0] for r in conn.execute(select(d.c.signal_key).where(d.c.signal_key.in_(keys)))}
                rows = [{"signal_key": k, "suggestion_id": suggestion_id} for k in sorted(keys - known)]
                if rows:
                    conn.execute(d.insert(), rows)
        return found

    def decided_signal_keys(self) -> set[str]:
        with self._transaction("read") as conn:
            return {str(r[0]) for r in conn.execute(select(decided_signals_table.c.signal_key))}

    def rebase(self, file: str, old_hash: str, new_hash: str) -> int:
        t = suggestions_table
        where = (t.c.state == "open") & (t.c.file == file) & (t.c.base_hash == old_hash)
        with self._transaction("write") as conn:
            return int(conn.execute(t.update().where(where).values(base_hash=new_hash)).rowcount)

    def audit(self, limit: int = 200) -> list[AuditRecord]:
        a = audit_table
        with self._transaction("read") as conn:
            rows = conn.execute(select(a).order_by(a.c.at.desc(), a.c.id.desc()).limit(limit)).all()
        return [
            AuditRecord(
                int(r.id), int(r.suggestion_id), r.action, r.by, float(r.at), r.kind, r.target, r.file, r.diff, r.note
            )  # fmt: skip
            for r in rows
        ]

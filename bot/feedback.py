"""Feedback on bot replies: a thumbs up or down per (sender, reply), kept for the team to review.

`FeedbackStore` is the protocol; `SqlFeedbackStore` keeps a `feedback` table in the bot's database
(created if missing) and `InMemoryFeedbackStore` is the fake for tests. Recording is an idempotent
upsert: the latest vote of a customer on a reply wins, and voting twice never fails.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, Protocol, get_args

from sqlalchemy import Column, Engine, Float, MetaData, RowMapping, String, Table, Text, select
from sqlalchemy.exc import IntegrityError

from bot.dialogue.tracker_store import make_engine

FeedbackValue = Literal["up", "down"]
FEEDBACK_VALUES: tuple[str, ...] = get_args(FeedbackValue)
MAX_COMMENT_CHARS = 2000

_metadata = MetaData()
feedback_table = Table(
    "feedback",
    _metadata,
    Column("sender_id", String(128), primary_key=True),
    Column("reply_id", String(128), primary_key=True),
    Column("value", String(8), nullable=False),
    Column("comment", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)


@dataclass(frozen=True)
class Feedback:
    """One customer's vote on one bot reply."""

    sender_id: str
    reply_id: str
    value: FeedbackValue
    comment: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0

    def __post_init__(self) -> None:
        if self.value not in FEEDBACK_VALUES:
            raise ValueError(f"feedback value must be one of {FEEDBACK_VALUES}; got {self.value!r}")
        if not self.sender_id or not self.reply_id:
            raise ValueError(f"feedback needs a sender and a reply id; got {self.sender_id!r}, {self.reply_id!r}")
        if self.comment is not None and len(self.comment) > MAX_COMMENT_CHARS:
            raise ValueError(f"feedback comment is {len(self.comment)} characters; the limit is {MAX_COMMENT_CHARS}")


class FeedbackStore(Protocol):
    def record(self, feedback: Feedback) -> Feedback:
        """Insert or replace the vote for (sender, reply); returns it with its timestamps."""
        ...

    def get(self, sender_id: str, reply_id: str) -> Feedback | None: ...

    def list(self, sender_id: str | None = None, limit: int = 1000) -> list[Feedback]:
        """Newest first; all senders when `sender_id` is None."""
        ...


class InMemoryFeedbackStore:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._items: dict[tuple[str, str], Feedback] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def record(self, feedback: Feedback) -> Feedback:
        now = self._clock()
        key = (feedback.sender_id, feedback.reply_id)
        with self._lock:
            previous = self._items.get(key)
            created = previous.created_at if previous else now
            stored = replace(feedback, created_at=created, updated_at=now)
            self._items[key] = stored
        return stored

    def get(self, sender_id: str, reply_id: str) -> Feedback | None:
        return self._items.get((sender_id, reply_id))

    def list(self, sender_id: str | None = None, limit: int = 1000) -> list[Feedback]:
        items = [f for f in self._items.values() if sender_id is None or f.sender_id == sender_id]
        return sorted(items, key=lambda f: f.updated_at, reverse=True)[:limit]


class SqlFeedbackStore:
    """Feedback in the bot's SQL database (SQLite by default), one row per (sender, reply)."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock
        _metadata.create_all(engine)

    @classmethod
    def from_url(cls, url: str) -> SqlFeedbackStore:
        return cls(make_engine(url))

    def record(self, feedback: Feedback) -> Feedback:
        now = self._clock()
        values = {"value": feedback.value, "comment": feedback.comment, "updated_at": now}
        where = (feedback_table.c.sender_id == feedback.sender_id) & (feedback_table.c.reply_id == feedback.reply_id)
        # Update first, insert when nothing was there; a concurrent insert of the same key loses the
        # race with an IntegrityError and then updates the row the winner created.
        for _attempt in range(2):
            try:
                with self.engine.begin() as conn:
                    if conn.execute(feedback_table.update().where(where).values(**values)).rowcount == 0:
                        conn.execute(
                            feedback_table.insert().values(
                                sender_id=feedback.sender_id, reply_id=feedback.reply_id, created_at=now, **values
                            )
                        )
                break
            except IntegrityError:
                continue
        stored = self.get(feedback.sender_id, feedback.reply_id)
        assert stored is not None  # just written
        return stored

    def get(self, sender_id: str, reply_id: str) -> Feedback | None:
        query = select(feedback_table).where(
            (feedback_table.c.sender_id == sender_id) & (feedback_table.c.reply_id == reply_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _from_row(row) if row else None

    def list(self, sender_id: str | None = None, limit: int = 1000) -> list[Feedback]:
        query = select(feedback_table).order_by(feedback_table.c.updated_at.desc()).limit(limit)
        if sender_id is not None:
            query = query.where(feedback_table.c.sender_id == sender_id)
        with self.engine.connect() as conn:
            return [_from_row(row) for row in conn.execute(query).mappings()]


def _from_row(row: RowMapping) -> Feedback:
    value = str(row["value"])
    if value not in FEEDBACK_VALUES:  # only this module writes the table; a bad row is a bug or a hand edit
        raise ValueError(f"feedback row ({row['sender_id']}, {row['reply_id']}) has an unknown value {value!r}")
    return Feedback(
        sender_id=str(row["sender_id"]),
        reply_id=str(row["reply_id"]),
        value="up" if value == "up" else "down",
        comment=None if row["comment"] is None else str(row["comment"]),
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
    )

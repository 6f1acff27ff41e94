"""The outbox: the bot's messages waiting for delivery to the customer's open widget.

An event or a reminder stores the bot's replies in the conversation (the history shows them at the next
visit) and one outbox row here. Every server worker polls the rows of the senders it holds sockets for
(`server/push.py`, every `proactive_poll_seconds`) and claims a row before it sends it: the claim is one
`UPDATE … WHERE delivered_at IS NULL`, so a message is delivered by exactly one worker, once. Rows keep
their replies for `proactive_outbox_hours`, then `purge` removes them (the conversation keeps the text).

`SqlOutbox` works on SQLite (the default, several processes of one machine) and Postgres; `InMemoryOutbox`
is the fake for tests.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Column, Engine, Float, Index, Integer, MetaData, String, Table, Text, delete, select, update

from bot.dialogue.tracker_store import make_engine

MAX_SENDERS_PER_QUERY = 500

_metadata = MetaData()
outbox_table = Table(
    "proactive_outbox",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sender_id", String(128), nullable=False),
    Column("replies", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float, nullable=True),
    Column("delivered_by", String(64), nullable=True),
    Index("ix_proactive_outbox_pending", "sender_id", "delivered_at"),
)


@dataclass(frozen=True)
class OutboxItem:
    id: int
    sender_id: str
    replies: list[dict[str, Any]]
    created_at: float
    delivered_at: float | None = None


class Outbox(Protocol):
    def put(self, sender_id: str, replies: Sequence[dict[str, Any]]) -> int:
        """Store the replies for delivery; returns the row's id."""
        ...

    def pending(self, senders: Collection[str], since: float) -> list[OutboxItem]:
        """Undelivered items of these senders created at or after `since`, oldest first."""
        ...

    def claim(self, item_id: int, worker: str) -> bool:
        """Mark the item delivered by `worker`; False when another worker (or call) already did."""
        ...

    def holds(self, sender_id: str, reply_id: str) -> bool:
        """Does a row of the sender (delivered or not) carry the reply with this id?"""
        ...

    def purge(self, before: float) -> int: ...


class SqlOutbox:
    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock
        _metadata.create_all(engine)

    @classmethod
    def from_url(cls, url: str) -> SqlOutbox:
        return cls(make_engine(url))

    def put(self, sender_id: str, replies: Sequence[dict[str, Any]]) -> int:
        row = {"sender_id": sender_id, "replies": json.dumps(list(replies)), "created_at": self._clock()}
        with self.engine.begin() as conn:
            result = conn.execute(outbox_table.insert().values(**row))
            key = result.inserted_primary_key
        return int(key[0]) if key else 0

    def pending(self, senders: Collection[str], since: float) -> list[OutboxItem]:
        names = sorted(set(senders))
        items: list[OutboxItem] = []
        with self.engine.connect() as conn:
            for start in range(0, len(names), MAX_SENDERS_PER_QUERY):
                chunk = names[start : start + MAX_SENDERS_PER_QUERY]
                query = (
                    select(outbox_table)
                    .where(outbox_table.c.sender_id.in_(chunk))
                    .where(outbox_table.c.delivered_at.is_(None))
                    .where(outbox_table.c.created_at >= since)
                    .order_by(outbox_table.c.id)
                )
                items.extend(_item(row) for row in conn.execute(query).mappings())
        return sorted(items, key=lambda i: i.id)

    def claim(self, item_id: int, worker: str) -> bool:
        statement = (
            update(outbox_table)
            .where(outbox_table.c.id == item_id)
            .where(outbox_table.c.delivered_at.is_(None))
            .values(delivered_at=self._clock(), delivered_by=worker[:64])
        )
        with self.engine.begin() as conn:
            return bool(conn.execute(statement).rowcount == 1)

    def holds(self, sender_id: str, reply_id: str) -> bool:
        query = select(outbox_table.c.replies).where(outbox_table.c.sender_id == sender_id)
        with self.engine.connect() as conn:
            return any(_has_reply(json.loads(row[0]), reply_id) for row in conn.execute(query))

    def purge(self, before: float) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(delete(outbox_table).where(outbox_table.c.created_at < before)).rowcount)

    def get(self, item_id: int) -> OutboxItem | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(outbox_table).where(outbox_table.c.id == item_id)).mappings().first()
        return _item(row) if row else None


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        int(row["id"]), str(row["sender_id"]), json.loads(row["replies"]), float(row["created_at"]), row["delivered_at"]
    )


def _has_reply(replies: list[dict[str, Any]], reply_id: str) -> bool:
    return any(isinstance(r, dict) and r.get("id") == reply_id for r in replies)


class InMemoryOutbox:
    """The fake: the same behaviour in a dict (one process)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._items: dict[int, OutboxItem] = {}
        self._lock = threading.Lock()

    def put(self, sender_id: str, replies: Sequence[dict[str, Any]]) -> int:
        with self._lock:
            item_id = len(self._items) + 1
            self._items[item_id] = OutboxItem(item_id, sender_id, list(replies), self._clock())
            return item_id

    def pending(self, senders: Collection[str], since: float) -> list[OutboxItem]:
        wanted = set(senders)
        with self._lock:
            return [
                i
                for i in self._items.values()
                if i.sender_id in wanted and i.delivered_at is None and i.created_at >= since
            ]

    def claim(self, item_id: int, worker: str) -> bool:
        with self._lock:
            item = self._items.get(item_id)
            if item is None or item.delivered_at is not None:
                return False
            self._items[item_id] = OutboxItem(item.id, item.sender_id, item.replies, item.created_at, self._clock())
            return True

    def holds(self, sender_id: str, reply_id: str) -> bool:
        with self._lock:
            return any(i.sender_id == sender_id and _has_reply(i.replies, reply_id) for i in self._items.values())

    def purge(self, before: float) -> int:
        with self._lock:
            old = [k for k, i in self._items.items() if i.created_at < before]
            for key in old:
                del self._items[key]
            return len(old)

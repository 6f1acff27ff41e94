"""Questions the knowledge base could not answer, kept in the bot's database for staff to review.

`SqlUnansweredStore` keeps text, time, the top entry scores and the message embedding (so `list_grouped`
can group similar questions without running the model) in table `kb_unanswered` of the settings' database
(`resolved_database_url`: SQLite in the state folder by default, PostgreSQL shared by every node of a
cluster). `SqliteUnansweredStore(file)` is the same store on one SQLite file (what older versions wrote to
`state_path/supportbot.db` whatever the database: docs/deploy.md). `MemoryUnansweredStore` is the fake.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from sqlalchemy import Column, Engine, Float, Integer, LargeBinary, MetaData, Table, Text, select
from sqlalchemy.exc import SQLAlchemyError

from bot.database_file import make_engine

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger("supportbot.faq")

GROUP_COSINE = 0.75

_metadata = MetaData()
unanswered_table = Table(
    "kb_unanswered",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("text", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("top_scores", Text, nullable=False),
    Column("embedding", LargeBinary),
)
"""The columns older versions created in SQLite (`REAL`, `TEXT`, `BLOB`): an existing table is used as is."""


@dataclass(frozen=True)
class UnansweredQuestion:
    text: str
    time: float
    top_scores: tuple[tuple[str, float], ...]
    embedding: np.ndarray | None = None


@dataclass(frozen=True)
class UnansweredGroup:
    """Similar unanswered questions; `texts` holds each distinct wording once, most recent first."""

    texts: tuple[str, ...]
    count: int
    first_time: float
    last_time: float
    top_scores: tuple[tuple[str, float], ...]


class UnansweredRecorder(Protocol):
    def record(self, text: str, scores: Sequence[tuple[str, float]], embedding: np.ndarray | None = None) -> None: ...


def group_questions(questions: Sequence[UnansweredQuestion], threshold: float = GROUP_COSINE) -> list[UnansweredGroup]:
    """Greedy grouping by embedding cosine (exact text match when there is no embedding); biggest first."""
    groups: list[list[UnansweredQuestion]] = []
    centres: list[np.ndarray | None] = []
    for q in sorted(questions, key=lambda q: -q.time):
        placed = False
        for g, centre in enumerate(centres):
            same_text = any(q.text.strip().casefold() == o.text.strip().casefold() for o in groups[g])
            close = q.embedding is not None and centre is not None and float(centre @ q.embedding) >= threshold
            if same_text or close:
                groups[g].append(q)
                placed = True
                break
        if not placed:
            groups.append([q])
            centres.append(q.embedding)
    out = []
    for members in groups:
        texts = tuple(dict.fromkeys(m.text for m in members))
        out.append(
            UnansweredGroup(
                texts, len(members), min(m.time for m in members), max(m.time for m in members), members[0].top_scores
            )
        )
    out.sort(key=lambda g: (-g.count, -g.last_time))
    return out


class MemoryUnansweredStore:
    def __init__(self) -> None:
        self.questions: list[UnansweredQuestion] = []

    def record(self, text: str, scores: Sequence[tuple[str, float]], embedding: np.ndarray | None = None) -> None:
        self.questions.append(UnansweredQuestion(text, time.time(), tuple(scores), embedding))

    def list_grouped(self, threshold: float = GROUP_COSINE) -> list[UnansweredGroup]:
        return group_questions(self.questions, threshold)


class SqlUnansweredStore:
    """Table `kb_unanswered` in the bot's database. The table is created at the first use (a database that is
    down when the server starts does not stop it); a failed write is logged, never the customer's problem."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._ready = False

    @classmethod
    def from_url(cls, url: str) -> SqlUnansweredStore:
        return cls(make_engine(url))

    @classmethod
    def from_settings(cls, settings: Settings) -> SqlUnansweredStore:
        """On the settings' database, the one every node of a cluster shares."""
        return cls.from_url(settings.resolved_database_url)

    def _table(self) -> Table:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    _metadata.create_all(self.engine)
                    self._ready = True
        return unanswered_table

    def record(self, text: str, scores: Sequence[tuple[str, float]], embedding: np.ndarray | None = None) -> None:
        blob = None if embedding is None else np.asarray(embedding, dtype=np.float32).tobytes()
        payload = json.dumps([[i, round(float(s), 4)] for i, s in scores])
        try:
            table = self._table()
            with self.engine.begin() as conn:
                conn.execute(
                    table.insert().values(text=text, created_at=time.time(), top_scores=payload, embedding=blob)
                )
        except SQLAlchemyError as e:
            log.warning(
                "an unanswered question was not recorded (%s: %s)", type(e).__name__, str(e).splitlines()[0][:200]
            )

    def all(self) -> list[UnansweredQuestion]:
        table = self._table()
        query = select(table.c.text, table.c.created_at, table.c.top_scores, table.c.embedding).order_by(table.c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            UnansweredQuestion(
                text,
                float(created),
                tuple((str(i), float(s)) for i, s in json.loads(scores)),
                None if blob is None else np.frombuffer(bytes(blob), dtype=np.float32),
            )
            for text, created, scores, blob in rows
        ]

    def list_grouped(self, threshold: float = GROUP_COSINE) -> list[UnansweredGroup]:
        return group_questions(self.all(), threshold)

    def close(self) -> None:
        self.engine.dispose()


class SqliteUnansweredStore(SqlUnansweredStore):
    """The store on one SQLite file (`<state_path>/supportbot.db` in older versions, whatever the database)."""

    def __init__(self, file: Path) -> None:
        super().__init__(make_engine(f"sqlite:///{file}"))

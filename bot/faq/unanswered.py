"""Questions the knowledge base could not answer, kept in SQLite for staff to review.

`SqliteUnansweredStore` keeps text, time, the top entry scores and the message embedding (so
`list_grouped` can group similar questions without running the model). `MemoryUnansweredStore` is the fake.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

GROUP_COSINE = 0.75


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


class SqliteUnansweredStore:
    """Table `kb_unanswered` in an SQLite file (by default `<state_path>/supportbot.db`)."""

    def __init__(self, file: Path) -> None:
        self._file = file
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._file, check_same_thread=False, timeout=10)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS kb_unanswered (id INTEGER PRIMARY KEY, text TEXT NOT NULL, "
                "created_at REAL NOT NULL, top_scores TEXT NOT NULL, embedding BLOB)"
            )
            conn.commit()
            self._conn = conn
        return self._conn

    def record(self, text: str, scores: Sequence[tuple[str, float]], embedding: np.ndarray | None = None) -> None:
        blob = None if embedding is None else np.asarray(embedding, dtype=np.float32).tobytes()
        payload = json.dumps([[i, round(float(s), 4)] for i, s in scores])
        with self._lock:
            conn = self._connection()
            with conn:
                conn.execute(
                    "INSERT INTO kb_unanswered (text, created_at, top_scores, embedding) VALUES (?, ?, ?, ?)",
                    (text, time.time(), payload, blob),
                )

    def all(self) -> list[UnansweredQuestion]:
        with self._lock:
            rows = (
                self._connection()
                .execute("SELECT text, created_at, top_scores, embedding FROM kb_unanswered ORDER BY id")
                .fetchall()
            )
        return [
            UnansweredQuestion(
                text,
                created,
                tuple((str(i), float(s)) for i, s in json.loads(scores)),
                None if blob is None else np.frombuffer(blob, dtype=np.float32),
            )
            for text, created, scores, blob in rows
        ]

    def list_grouped(self, threshold: float = GROUP_COSINE) -> list[UnansweredGroup]:
        return group_questions(self.all(), threshold)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

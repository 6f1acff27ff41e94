"""`KnowledgeService`: loads, validates and serves the knowledge base, with atomic hot reload.

The service holds one immutable `KnowledgeSnapshot` (entries, index, responder). `reload()` reads
the folder, validates, embeds only changed entries, builds a new snapshot and swaps one reference:
requests in flight finish on the snapshot they started with. An invalid edit keeps the last good
snapshot serving and is reported by `status()`; so does a reload that raises (a disk, cache or encoder
fault), which `watch()` retries with a backoff (`bot/faq/watcher.py`). Every outcome is recorded in
`health` (`bot/faq/reload_health.py`), whose listeners feed the server's metrics.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.encoding import Encoder
from bot.errors import KnowledgeError, Problem, display_path
from bot.faq.entry import KnowledgeEntry
from bot.faq.index import FaissIndex, VectorIndex
from bot.faq.loader import EXCLUDED_DIRS, KNOWLEDGE_SUFFIXES, VARIABLES_FILE, ParseCache, load_knowledge
from bot.faq.passage import best_passage
from bot.faq.reload_health import ReloadHealth, ReloadListener, ReloadOutcome
from bot.faq.responder import KnowledgeResponder, KnowledgeResult
from bot.faq.scoring import EntryScorer, ScoringConfig, bm25_document, entry_texts
from bot.faq.store import EmbeddingStore
from bot.faq.templates import ReplyTemplates
from bot.faq.thresholds import DEFAULT_THRESHOLDS, Thresholds, resolve_thresholds
from bot.faq.unanswered import SqlUnansweredStore, UnansweredRecorder
from bot.faq.validation import (
    check_ids_and_questions,
    check_links,
    check_long_answers,
    check_near_duplicates,
    render_answers,
)
from bot.faq.watcher import Backoff, watch_and_reload
from bot.types import KnowledgeQuery

if TYPE_CHECKING:
    from bot.config import Settings

logger = logging.getLogger("supportbot.knowledge")
IndexFactory = Callable[[int], VectorIndex]


@dataclass(frozen=True)
class KnowledgeSnapshot:
    """One consistent, immutable view of the knowledge base."""

    entries: tuple[KnowledgeEntry, ...]
    responder: KnowledgeResponder
    files: tuple[str, ...]
    warnings: tuple[Problem, ...]
    loaded_at: float
    answers: dict[str, str] = field(repr=False, default_factory=dict)

    def entry(self, entry_id: str) -> KnowledgeEntry | None:
        return next((e for e in self.entries if e.id == entry_id), None)


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts else None


class KnowledgeService:
    """Owns the current snapshot; thread-safe. Build one per process with `from_settings`."""

    def __init__(
        self,
        knowledge_path: Path,
        encoder: Encoder,
        *,
        state_path: Path | None = None,
        root: Path | None = None,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        scoring: ScoringConfig | None = None,
        recorder: UnansweredRecorder | None = None,
        index_factory: IndexFactory = FaissIndex,
    ) -> None:
        self.knowledge_path = knowledge_path
        self.root = root or knowledge_path.parent
        self.encoder = encoder
        self.thresholds = thresholds
        self.scoring = scoring or ScoringConfig()
        self.recorder = recorder
        self._index_factory = index_factory
        self._store = EmbeddingStore(encoder, state_path / "knowledge" if state_path else None)
        self._render_cache: dict[tuple[str, str], str] = {}
        self._parse_cache: ParseCache = {}
        self._build_lock = threading.Lock()  # the caches are shared by build() calls
        self._snapshot: KnowledgeSnapshot | None = None
        self._reload_lock = threading.Lock()
        self._last_problems: tuple[Problem, ...] = ()
        self._last_attempt: float | None = None
        self._reloads = 0
        self.health = ReloadHealth()

    @classmethod
    def from_settings(cls, settings: Settings, encoder: Encoder) -> KnowledgeService:
        return cls(
            settings.knowledge_path,
            encoder,
            state_path=settings.state_path,
            root=settings.project_dir,
            thresholds=resolve_thresholds(settings.kb_answer_threshold, settings.kb_suggest_threshold),
            recorder=SqlUnansweredStore.from_settings(settings),
        )

    # Building ---------------------------------------------------------------------------------
    @property
    def store(self) -> EmbeddingStore:
        return self._store

    def build(self) -> tuple[KnowledgeSnapshot | None, list[Problem]]:
        """Read, validate, embed and index. Returns (snapshot or None when there are errors, problems).

        Unchanged files are not parsed again, unchanged answers not rendered again and unchanged
        texts not embedded again (the parse, render and embedding caches).
        """
        with self._build_lock:
            return self._build()

    def _build(self) -> tuple[KnowledgeSnapshot | None, list[Problem]]:
        loaded = load_knowledge(self.knowledge_path, self.root, self._parse_cache)
        problems = list(loaded.problems)
        entries = loaded.entries
        problems += check_ids_and_questions(entries)
        answers, template_problems = render_answers(entries, loaded.variables, self._render_cache)
        problems += template_problems
        problems += check_long_answers(entries)
        problems += check_links(entries, self.root)
        templates = ReplyTemplates(self.knowledge_path / "templates", root=self.root)
        problems += templates.check()
        if any(p.severity == "error" for p in problems):
            return None, problems
        texts = [entry_texts(e, answers[e.id], self.scoring) for e in entries]
        before = self._store.embedded_texts
        vectors = self._store.vectors_for(texts)
        if self._store.embedded_texts != before:
            problems += self._save_store(texts)
        if entries:
            problems += check_near_duplicates(entries, np.vstack([v[0] for v in vectors]))
        index = self._index_factory(self.encoder.dim)
        n_phrasings = [len(e.phrasings) for e in entries]
        bm25_docs = (
            [bm25_document(e, answers[e.id], self.scoring.bm25_fields) for e in entries]
            if self.scoring.bm25_weight > 0
            else None
        )
        scorer = EntryScorer(vectors, n_phrasings, index, self.scoring, bm25_docs)
        index.add(scorer.vector_ids(), scorer.matrix())
        responder = KnowledgeResponder(entries, answers, scorer, self.thresholds, templates, self.recorder)
        snapshot = KnowledgeSnapshot(entries, responder, loaded.files, tuple(problems), time.time(), answers)
        return snapshot, problems

    def _save_store(self, texts: Sequence[Sequence[str]]) -> list[Problem]:
        """Save the embeddings; a disk fault is a warning (the file is a cache, the answers are right)."""
        try:
            self._store.save(keep=texts)
        except OSError as e:
            where = self._store.file or self.knowledge_path
            message = f"the knowledge embeddings could not be saved ({type(e).__name__}: {e})"
            fix = "check the disk space and permissions of the state folder; answers are not affected"
            return [Problem(display_path(where, self.root), None, message, fix, severity="warning")]
        return []

    def load(self) -> KnowledgeSnapshot:
        """First load: raises `KnowledgeError` listing every problem when the files are invalid, and
        lets any other exception of the build through (start-up must not hide it)."""
        if self._reload(raise_failure=True) != "ok" and self._snapshot is None:
            raise KnowledgeError(self._last_problems)
        assert self._snapshot is not None
        return self._snapshot

    def reload(self) -> bool:
        """Rebuild and swap in the new snapshot. False (and the old snapshot kept) when the files have
        errors or the build raised; never raises (the status and the log say what went wrong)."""
        return self.reload_outcome() == "ok"

    def reload_outcome(self) -> ReloadOutcome:
        """`reload()`, telling an invalid edit (`invalid`) from a fault worth retrying (`failed`)."""
        return self._reload(raise_failure=False)

    def _reload(self, *, raise_failure: bool) -> ReloadOutcome:
        with self._reload_lock:
            started = time.perf_counter()
            self._last_attempt = time.time()
            try:
                snapshot, problems = self.build()
            except KnowledgeError as e:
                snapshot, problems = None, list(e.problems)
            except Exception as e:  # any fault: reported and retried, the last good snapshot keeps serving
                serving = "the last good version keeps answering" if self._snapshot else "nothing to answer with"
                logger.exception("knowledge not (re)loaded: the build raised; %s", serving)
                self._last_problems = (self._failure_problem(e),)
                self.health.record("failed", time.time(), time.perf_counter() - started, f"{type(e).__name__}: {e}")
                if raise_failure:
                    raise
                return "failed"
            self._last_problems = tuple(problems)
            if snapshot is None:
                for p in problems:
                    if p.severity == "error":
                        logger.error("knowledge not reloaded: %s", p)
                self.health.record("invalid", time.time(), time.perf_counter() - started)
                return "invalid"
            self._snapshot = snapshot  # the atomic swap
            self._reloads += 1
            for p in problems:
                logger.warning("knowledge: %s", p)
            seconds = time.perf_counter() - started
            logger.info(
                "knowledge loaded: %d entries from %d files in %.0f ms",
                len(snapshot.entries),
                len(snapshot.files),
                1000 * seconds,
            )
            self.health.record("ok", snapshot.loaded_at, seconds)
            return "ok"

    def _failure_problem(self, error: Exception) -> Problem:
        """A reload that raised, as a Problem: the file the error names (else the knowledge folder)."""
        filename = getattr(error, "filename", None)
        where = Path(filename) if isinstance(filename, str) and filename else self.knowledge_path
        return Problem(
            display_path(where, self.root),
            None,
            f"the reload failed: {type(error).__name__}: {error}",
            "the last good version keeps answering and the watcher retries by itself; if this stays, "
            "see the server log (logger supportbot.knowledge) for the traceback",
        )

    def add_reload_listener(self, listener: ReloadListener) -> None:
        """Call `listener` with every reload's `ReloadEvent` (and at once with the last one)."""
        self.health.add_listener(listener)

    # Serving ----------------------------------------------------------------------------------
    @property
    def snapshot(self) -> KnowledgeSnapshot:
        snapshot = self._snapshot
        if snapshot is None:
            raise KnowledgeError(
                [
                    Problem(
                        str(self.knowledge_path),
                        None,
                        "the knowledge base is not loaded",
                        "call KnowledgeService.load() at start-up",
                    )
                ]
            )
        return snapshot

    @property
    def loaded(self) -> bool:
        return self._snapshot is not None

    def respond(self, embedding: np.ndarray, text: str, *, record: bool = True) -> KnowledgeResult:
        return self.snapshot.responder.respond(embedding, text, record=record)

    def answer(self, query: KnowledgeQuery) -> KnowledgeResult:
        """The knowledge base's reply to a dialogue's query (entities, follow-up); encodes the text
        only when the query carries no embedding."""
        if query.embedding is None:
            query = replace(query, embedding=self.encoder.encode([query.text])[0])
        responder = self.snapshot.responder
        result = responder.answer(query)
        top = result.top
        if result.decision == "answer" and top is not None and query.previous == top.entry.id:
            # the entry just given answers again: its passage closest to the question, not all of it again
            passage = best_passage(responder.answer_text(top.entry), np.asarray(query.embedding), self.encoder)
            if passage is not None:
                result = responder.focused(result, passage)
        return result

    def faq_training_examples(self) -> list[str]:
        """Questions and alternates of every entry: training examples for the `faq` intent."""
        return [p for e in self.snapshot.entries for p in e.phrasings]

    def validate(self) -> list[Problem]:
        """Every problem (errors and warnings) of the files as they are now; does not swap."""
        try:
            return self.build()[1]
        except KnowledgeError as e:
            return list(e.problems)

    def status(self) -> dict[str, Any]:
        """What the admin status shows. `ok` is false while the last (re)load failed or found errors:
        `last_error` lists them and `last_error_at` says when; `next_retry` is the watcher's next try
        of a reload that raised; `failed_reloads` counts both kinds since start-up."""
        snapshot = self._snapshot
        health = self.health
        errors = [p for p in self._last_problems if p.severity == "error"]
        warnings = snapshot.warnings if snapshot else tuple(p for p in self._last_problems if p.severity != "error")
        return {
            "ok": snapshot is not None and not errors,
            "entries": len(snapshot.entries) if snapshot else 0,
            "files": list(snapshot.files) if snapshot else [],
            "last_reload": _iso(snapshot.loaded_at if snapshot else None),
            "last_attempt": _iso(self._last_attempt),
            "last_error": [p.as_dict() for p in errors],
            "last_error_at": _iso(health.last_failure_at) if errors else None,
            "next_retry": _iso(health.next_retry_at),
            "failed_reloads": dict(health.failures),
            "warnings": [p.as_dict() for p in warnings],
            "thresholds": {"answer": self.thresholds.answer, "suggest": self.thresholds.suggest},
        }

    # Watching ---------------------------------------------------------------------------------
    def is_relevant(self, path: Path) -> bool:
        """Does a change of `path` affect the knowledge base?"""
        try:
            rel = path.resolve().relative_to(self.knowledge_path.resolve())
        except ValueError:
            return False
        if any(part.startswith(".") for part in rel.parts):
            return False
        if rel.parts and rel.parts[0] == "templates":
            return path.suffix == ".j2"
        if any(part in EXCLUDED_DIRS for part in rel.parts[:-1]):
            return False
        if rel.name.lower() == "readme.md":
            return False
        return path.suffix.lower() in KNOWLEDGE_SUFFIXES or rel.as_posix() == VARIABLES_FILE

    async def watch(
        self, stop_event: asyncio.Event | None = None, *, debounce_ms: int = 150, backoff: Backoff | None = None
    ) -> None:
        """Reload on every relevant change of the knowledge folder until `stop_event` is set. Survives
        any exception of a reload or of the file watcher; a reload that raised is retried with `backoff`."""
        await watch_and_reload(
            self.knowledge_path,
            self.reload_outcome,
            self.is_relevant,
            stop_event=stop_event,
            debounce_ms=debounce_ms,
            backoff=backoff,
            on_retry_scheduled=self.health.schedule_retry,
        )

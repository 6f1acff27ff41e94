"""`Learner`: signals in, suggestions out, and a person's decision written into the files they would edit.

    learner.refresh()                  read the signals since `window_days`, group them, store the suggestions
    learner.suggestions("open")        what staff review
    learner.preview(id, overrides)     the diff accepting would write, from the file as it is now
    learner.accept(id, by, overrides)  write it (or nothing, for `ignore`), record who/when/what
    learner.reject(id, by)             record it; its messages are never suggested again

Nothing is learned without a person's `accept`. Accepting checks, in this order and before writing anything:
the suggestion is open (`SuggestionDecided` otherwise), the file still has the content the suggestion was
prepared from (`FileChanged`: edited by hand meanwhile — never overwritten), the edit reads back as intended
(`SuggestionNotApplicable`). Then the file is written atomically, the project's validation runs as for a hand
edit (new errors put the file back and raise), and the decision is recorded. `on_change` hears of every
written change (the server reloads the knowledge base, or starts a background retrain). Refresh, accept and
reject of every process using the same state folder take turns on one lock file.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bot.encoding import Encoder
from bot.errors import Problem
from bot.faq.entry import KnowledgeEntry
from bot.learning.changes import (
    FileChange,
    FileChangedOnDisk,
    Overrides,
    ProjectPaths,
    content_hash,
    plan_change,
    read_text,
    restore,
    write_change,
)
from bot.learning.clustering import cluster
from bot.learning.errors import (
    FileChanged,
    LearningError,
    SuggestionDecided,
    SuggestionNotApplicable,
    SuggestionNotFound,
)
from bot.learning.signals import Signal, Similarity
from bot.learning.sources import SignalSources
from bot.learning.store import AuditRecord, SuggestionStore
from bot.learning.suggestions import (
    Analysis,
    IntentView,
    KnowledgeView,
    SuggestConfig,
    Suggestion,
    iso,
    merge_same_change,
)
from bot.learning.suggestions import suggest as suggest_for_group
from bot.nlu.training_data import TrainingData

log = logging.getLogger("supportbot.learning")

Validator = Callable[[], Sequence[Problem]]
"""The project's problems as they are now on disk (errors and warnings)."""


@dataclass(frozen=True)
class LearningConfig:
    window_days: float = 30.0
    cluster_distance: float = 0.3
    low_confidence: float = 0.5
    suggest: SuggestConfig = SuggestConfig()


@dataclass(frozen=True)
class RefreshReport:
    signals: int
    groups: int
    resolved_groups: int
    suggestions: list[Suggestion]


@dataclass(frozen=True)
class Preview:
    suggestion: Suggestion
    change: FileChange | None
    conflict: bool
    """the file is no longer the one the suggestion was prepared from"""

    @property
    def diff(self) -> str:
        return self.change.diff() if self.change is not None else ""


@dataclass(frozen=True)
class Accepted:
    suggestion: Suggestion
    change: FileChange | None


@dataclass(frozen=True)
class Views:
    """The knowledge base and intents as they are now (either may be None: that route is not suggested)."""

    knowledge: KnowledgeView | None
    intents: IntentView | None


class Learner:
    def __init__(
        self,
        *,
        store: SuggestionStore,
        sources: SignalSources,
        encoder: Encoder | None,
        views: Callable[[], Views],
        paths: ProjectPaths,
        entries: Callable[[], Sequence[KnowledgeEntry]],
        training: Callable[[], TrainingData],
        validators: dict[str, Validator] | None = None,
        config: LearningConfig | None = None,
        lock_file: Path | None = None,
        on_change: Callable[[FileChange], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.sources = sources
        self.encoder = encoder
        self.views = views
        self.paths = paths
        self.entries = entries
        self.training = training
        self.validators = validators or {}
        self.config = config or LearningConfig()
        self.on_change = on_change
        self.clock = clock
        self._thread_lock = threading.Lock()
        self._lock_file = lock_file

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """One refresh or decision at a time, in this process and across processes of the same state folder."""
        with self._thread_lock:
            if self._lock_file is None:
                yield
                return
            self._lock_file.parent.mkdir(parents=True, exist_ok=True)
            with self._lock_file.open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    # -- analysis --------------------------------------------------------------------------------
    def collect(self) -> list[Signal]:
        """Every signal of the window not covered by a decision yet, oldest first."""
        since = self.clock() - self.config.window_days * 86400
        found = self.sources.collect(since, low_confidence=self.config.low_confidence, similarity=self._similarity)
        decided = self.store.decided_signal_keys()
        return [s for s in found if s.key not in decided]

    def _encoder(self) -> Encoder:
        if self.encoder is None:
            raise LearningError("reading signals needs the encoder: this learner was made without one")
        return self.encoder

    def _similarity(self, texts: Sequence[str]) -> Similarity:
        vectors = dict(zip(texts, self._encoder().encode(list(texts)), strict=True))

        def similarity(a: str, b: str) -> float:
            va, vb = vectors.get(a), vectors.get(b)
            return float(va @ vb) if va is not None and vb is not None else 0.0

        return similarity

    def analyse(self, signals: Sequence[Signal]) -> Analysis:
        """Group the signals and pick each group's suggestion (nothing stored)."""
        if not signals:
            return Analysis()
        vectors = self._vectors(signals)
        views = self.views()
        found: list[Suggestion] = []
        resolved = 0
        groups = cluster(vectors, self.config.cluster_distance)
        for group in groups:
            suggestion = suggest_for_group(
                [signals[i] for i in group], vectors[group], views.knowledge, views.intents, self.config.suggest
            )
            if suggestion is None:
                resolved += 1
            else:
                found.append(suggestion)
        return Analysis(merge_same_change(found, self.config.suggest), resolved, len(groups))

    def _vectors(self, signals: Sequence[Signal]) -> np.ndarray:
        """The signals' embeddings: the unanswered log's when recorded, else encoded now (one batch)."""
        encoder = self._encoder()
        vectors = np.zeros((len(signals), encoder.dim), dtype=np.float32)
        missing = []
        for i, s in enumerate(signals):
            if s.embedding is not None and s.embedding.shape == (encoder.dim,):
                vectors[i] = s.embedding
            else:
                missing.append(i)
        if missing:
            vectors[missing] = encoder.encode([signals[i].text or " " for i in missing])
        return vectors

    def refresh(self) -> RefreshReport:
        """Collect, group and store: the open suggestions become this pass's (same change, same id), each
        with the content hash of its file as it is now."""
        with self._turn():
            signals = self.collect()
            analysis = self.analyse(signals)
            drafts = [self._prepared(s) for s in analysis.suggestions]
            stored = self.store.sync_open(drafts, self.clock())
        log.info("learning: %d signals, %d groups, %d suggestions", len(signals), analysis.groups, len(stored))
        return RefreshReport(len(signals), analysis.groups, analysis.resolved_groups, stored)

    def _prepared(self, suggestion: Suggestion) -> Suggestion:
        """The suggestion with the file it changes and that file's content hash now (what its diff is made
        from); an intent's file is the one holding most of its examples."""
        if suggestion.kind == "intent_example":
            try:
                change = plan_change(suggestion, Overrides(), self.paths, self.entries, self.training)
            except SuggestionNotApplicable:
                return suggestion  # accepting says why
            if change is not None:
                return replace(suggestion, file=change.shown, base_hash=change.before_hash)
        if suggestion.kind == "ignore" or suggestion.file is None:
            return suggestion
        return replace(suggestion, base_hash=content_hash(read_text(self.paths.resolve(suggestion.file))))

    # -- review ----------------------------------------------------------------------------------
    def suggestions(self, state: str | None = "open", limit: int = 200) -> list[Suggestion]:
        return self.store.suggestions(state, limit)

    def get(self, suggestion_id: int) -> Suggestion:
        found = self.store.get(suggestion_id)
        if found is None:
            raise SuggestionNotFound(suggestion_id)
        return found

    def preview(self, suggestion_id: int, overrides: Overrides | None = None) -> Preview:
        """What accepting would write now. A new entry without an answer is previewed with a placeholder."""
        suggestion = self.get(suggestion_id)
        overrides = overrides or Overrides()
        if suggestion.kind == "new_entry" and not (overrides.answer or "").strip():
            overrides = replace(overrides, answer="(the answer staff write)")
        change = (
            plan_change(suggestion, overrides, self.paths, self.entries, self.training)
            if suggestion.state == "open"
            else None
        )
        conflict = change is not None and self._conflict(suggestion, change, None)
        return Preview(suggestion, change, conflict)

    def _conflict(self, suggestion: Suggestion, change: FileChange, expected: str | None) -> bool:
        if expected is not None:
            return change.before_hash != expected
        if suggestion.base_hash is None or change.shown != suggestion.file:
            return False  # another file than the one the suggestion named: its diff is the one shown now
        return change.before_hash != suggestion.base_hash

    def accept(
        self, suggestion_id: int, by: str, overrides: Overrides | None = None, *, expected_hash: str | None = None
    ) -> Accepted:
        """Write the suggestion's change and record the decision; see the module docstring for the checks.
        `expected_hash`: the content hash of the file the accepted diff was shown from (default: the one the
        suggestion was prepared from)."""
        by = _who(by)
        overrides = overrides or Overrides()
        with self._turn():
            suggestion = self.get(suggestion_id)
            if suggestion.state != "open":
                raise SuggestionDecided(
                    suggestion_id, suggestion.state, suggestion.decided_by, iso(suggestion.decided_at)
                )
            change = plan_change(suggestion, overrides, self.paths, self.entries, self.training)
            if change is not None and self._conflict(suggestion, change, expected_hash):
                raise FileChanged(suggestion_id, change.shown)
            if change is not None:
                self._write_validated(suggestion_id, change)
                # the other suggestions on this file were prepared from what this change started from: this
                # write is not a hand edit for them
                self.store.rebase(change.shown, change.before_hash, content_hash(change.after))
            try:
                decided = self.store.decide(
                    suggestion_id, "accepted", by, self.clock(), diff=change.diff() if change is not None else None,
                    note=_note(suggestion, overrides),
                )  # fmt: skip
            except Exception:
                if change is not None:
                    restore(change)  # the decision could not be recorded: the file is put back
                raise
        log.info("learning: suggestion %d accepted by %s (%s %s)", suggestion_id, by, decided.kind, decided.target)
        if change is not None and self.on_change is not None:
            try:
                self.on_change(change)
            except Exception:  # the change is written and recorded; a reload hook failing must not hide that
                log.exception("learning: reacting to the change of %s failed", change.shown)
        return Accepted(decided, change)

    def _write_validated(self, suggestion_id: int, change: FileChange) -> None:
        validate = self.validators.get(change.area)
        before = {p.message for p in validate() if p.severity == "error"} if validate is not None else set()
        try:
            write_change(change)
        except FileChangedOnDisk as e:
            raise FileChanged(suggestion_id, change.shown) from e
        if validate is None:
            return
        new = [p for p in validate() if p.severity == "error" and p.message not in before]
        if new:
            restore(change)
            raise SuggestionNotApplicable(
                f"{change.shown} would not validate with this change: it was put back as it was", tuple(new)
            )

    def reject(self, suggestion_id: int, by: str, note: str | None = None) -> Suggestion:
        """Record the rejection; its messages are not suggested again. Raises SuggestionDecided when decided."""
        with self._turn():
            self.get(suggestion_id)
            return self.store.decide(suggestion_id, "rejected", _who(by), self.clock(), note=note)

    def audit(self, limit: int = 200) -> list[AuditRecord]:
        return self.store.audit(limit)


def _who(by: str) -> str:
    name = " ".join(by.split())
    if not name:
        raise SuggestionNotApplicable('say who decides: a name or login (--by NAME / "by")')
    return name[:200]


def _note(suggestion: Suggestion, overrides: Overrides) -> str | None:
    changed = [f"{k}={v!r}" for k, v in vars(overrides).items() if v is not None and k != "answer"]
    if overrides.answer is not None:
        changed.append("answer written by the person accepting")
    return ", ".join(changed) or None

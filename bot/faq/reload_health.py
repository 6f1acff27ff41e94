"""`ReloadHealth`: how the knowledge base's reloads are going, for the status, the metrics and the watcher.

Every (re)load ends in one `ReloadEvent`:

    ok        a new snapshot is serving
    invalid   the files have errors: the last good snapshot keeps serving until the staff's next save
    failed    the reload raised (a disk, cache or encoder fault): the last good snapshot keeps serving and
              the watcher retries with a backoff

`ReloadHealth` keeps the counts and times of these events and passes each one to its listeners (the
server's Prometheus metrics). A listener that raises is logged and never breaks a reload.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

logger = logging.getLogger("supportbot.knowledge")

ReloadOutcome = Literal["ok", "invalid", "failed"]


@dataclass(frozen=True)
class ReloadEvent:
    """The end of one (re)load: its outcome, when it ended (Unix time), how long it took, for a failed
    reload the exception as `"TypeName: message"`, and the time of the last successful (re)load so far."""

    outcome: ReloadOutcome
    at: float
    seconds: float = 0.0
    error: str | None = None
    last_success_at: float | None = None


ReloadListener = Callable[[ReloadEvent], None]


class ReloadHealth:
    """Counts and times of reload outcomes; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[ReloadListener] = []
        self.last_event: ReloadEvent | None = None
        self.last_success_at: float | None = None
        self.last_failure_at: float | None = None  # the last reload that ended `invalid` or `failed`
        self.failures: dict[ReloadOutcome, int] = {"invalid": 0, "failed": 0}
        self.consecutive_failures = 0  # `failed` reloads since the last one that did not raise
        self.next_retry_at: float | None = None

    @property
    def total_failures(self) -> int:
        return sum(self.failures.values())

    def record(self, outcome: ReloadOutcome, at: float, seconds: float = 0.0, error: str | None = None) -> ReloadEvent:
        """Note the end of one reload and tell the listeners."""
        with self._lock:
            if outcome == "ok":
                self.last_success_at = at
            else:
                self.last_failure_at = at
                self.failures[outcome] += 1
            self.consecutive_failures = self.consecutive_failures + 1 if outcome == "failed" else 0
            self.next_retry_at = None
            event = ReloadEvent(outcome, at, seconds, error, self.last_success_at)
            self.last_event = event
            listeners = list(self._listeners)
        for listener in listeners:
            _notify(listener, event)
        return event

    def schedule_retry(self, at: float | None) -> None:
        """The watcher's next retry of a failed reload (Unix time), or None when none is planned."""
        with self._lock:
            self.next_retry_at = at

    def add_listener(self, listener: ReloadListener) -> None:
        """Call `listener` with every later event, and at once with the last one (when there was one)."""
        with self._lock:
            self._listeners.append(listener)
            last = self.last_event
        if last is not None:
            _notify(listener, last)


def _notify(listener: ReloadListener, event: ReloadEvent) -> None:
    try:
        listener(event)
    except Exception:  # a listener (metrics) must never break a reload
        logger.exception("a knowledge reload listener failed on %s", event)

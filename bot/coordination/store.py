"""`CoordinatedTrackerStore`: a tracker store whose per-sender `lock` is a `SenderLocks` (the Redis lock of a
cluster), so every user of `TrackerStore.lock` — turns, the live handoff, proactive messages, the console —
takes the same lock on every node. Loads, saves and history go to the wrapped store unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bot.coordination.locks import SenderLocks
from bot.dialogue.state import ConversationState
from bot.dialogue.tracker_store import TrackerStore


class CoordinatedTrackerStore:
    def __init__(self, inner: TrackerStore, locks: SenderLocks) -> None:
        self.inner = inner
        self.locks = locks

    def load(self, sender_id: str) -> ConversationState | None:
        return self.inner.load(sender_id)

    def save(self, state: ConversationState) -> None:
        self.inner.save(state)

    def history(self, sender_id: str, limit: int = 200) -> list[dict[str, Any]]:
        return self.inner.history(sender_id, limit)

    def check_writable(self) -> None:
        self.inner.check_writable()

    @contextmanager
    def lock(self, sender_id: str) -> Iterator[None]:
        with self.locks.hold(sender_id):
            yield

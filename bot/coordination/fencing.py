"""Fencing tokens: a node that lost a conversation's lock (its lease ran out while it was stalled) must not
write that conversation any more.

Every acquisition of a `RedisSenderLocks` lock gets a token larger than every earlier one (`Fence`), set as
the current fence of the thread running the turn (a context variable) until the lock is released. A store
keeps the largest token that wrote each conversation and refuses a write whose token is smaller
(`fence_allows`), raising `StaleFenceError`: the turn is not acknowledged (503 `store_unavailable`) and the
customer's widget sends it again, to the node that holds the lock now.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from bot.errors import TrackerStoreError


@dataclass(frozen=True)
class Fence:
    """The lock of `sender_id` was acquired with `token` (larger than every earlier token)."""

    sender_id: str
    token: int


_current: ContextVar[Fence | None] = ContextVar("supportbot_fence", default=None)


def current_fence(sender_id: str) -> int | None:
    """The fencing token under which `sender_id`'s conversation may be written now; None when its lock
    has no token (the single-machine locks) or is not held by this thread."""
    fence = _current.get()
    return fence.token if fence is not None and fence.sender_id == sender_id else None


@contextmanager
def fenced(fence: Fence) -> Iterator[Fence]:
    """`fence` is the current fence inside the block."""
    reset = _current.set(fence)
    try:
        yield fence
    finally:
        _current.reset(reset)


def fence_allows(stored: int | None, token: int | None) -> bool:
    """May a write under `token` replace a conversation last written under `stored`? Yes unless a newer
    holder has written it. A write without a token (a single machine, a tool) is always allowed."""
    return token is None or stored is None or stored <= token


class StaleFenceError(TrackerStoreError):
    """A write of a conversation under a fencing token older than the last one that wrote it: this node lost
    the conversation's lock while the turn ran (it stalled past the lease), so its write is refused."""

    def __init__(self, sender_id: str, token: int, stored: int) -> None:
        super().__init__(
            f"refused to save conversation {sender_id!r}: its lock was taken over (fencing token {token} is older "
            f"than {stored}, which wrote it since) — this node stalled for longer than redis_lock_lease_seconds; "
            "the turn is refused with 503 and the client sends it again",
            "the conversation's lock was lost",
        )
        self.sender_id = sender_id
        self.token = token
        self.stored = stored

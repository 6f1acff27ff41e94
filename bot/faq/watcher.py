"""`watch_and_reload`: reload the knowledge base on every relevant change of its folder, for as long as
the server runs, whatever a reload or the file watcher throws.

Two tasks share one "changed" flag:

- the feeder runs `watchfiles.awatch` and raises the flag on each batch of relevant changes. If watching
  itself fails (the folder was removed, the inotify limit was hit), it logs the error, raises the flag
  (something may have changed meanwhile) and watches again after a backoff.
- the reloader waits for the flag and runs `reload()` in a thread. A reload that ends `failed` (it raised)
  is retried after `Backoff.delay(n)` — 0.5 s, 1 s, 2 s … up to 30 s — or sooner when the files change
  again. An exception escaping `reload()` itself counts as `failed` too: the loop only ends on `stop_event`.
  An `invalid` reload (the files have errors) is not retried: the staff's next save triggers one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.faq.reload_health import ReloadOutcome

logger = logging.getLogger("supportbot.knowledge")


@dataclass(frozen=True)
class Backoff:
    """Delays between retries: `initial`, then times `factor` each attempt, never above `maximum` (seconds)."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.factor < 1 or self.maximum < self.initial:
            raise ValueError(
                f"Backoff needs initial > 0, factor >= 1 and maximum >= initial. Currently, initial is "
                f"{self.initial}, factor {self.factor} and maximum {self.maximum}"
            )

    def delay(self, attempt: int) -> float:
        """The wait before retry number `attempt` (1 = the first retry)."""
        return float(min(self.maximum, self.initial * self.factor ** max(0, attempt - 1)))


async def watch_and_reload(
    folder: Path,
    reload: Callable[[], ReloadOutcome],
    relevant: Callable[[Path], bool],
    *,
    stop_event: asyncio.Event | None = None,
    debounce_ms: int = 150,
    backoff: Backoff | None = None,
    on_retry_scheduled: Callable[[float | None], None] | None = None,
) -> None:
    """Run until `stop_event` is set (or the task is cancelled); see the module docstring."""
    stop = stop_event or asyncio.Event()
    backoff = backoff or Backoff()
    changed = asyncio.Event()
    halt = asyncio.Event()  # stops the feeder's awatch when this loop ends, for any reason
    feeder = asyncio.create_task(_feed_changes(folder, relevant, changed, halt, debounce_ms, backoff))
    failures = 0
    try:
        while not stop.is_set():
            delay = backoff.delay(failures) if failures else None
            if on_retry_scheduled is not None:
                on_retry_scheduled(time.time() + delay if delay is not None else None)
            await _first_of(changed, stop, timeout=delay)
            if stop.is_set():
                break
            changed.clear()
            outcome = await _reload_once(reload)
            failures = failures + 1 if outcome == "failed" else 0
            if failures:
                logger.warning(
                    "knowledge reload failed (%d in a row); retrying in %.1f s", failures, backoff.delay(failures)
                )
    finally:
        halt.set()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(feeder, timeout=5)


async def _reload_once(reload: Callable[[], ReloadOutcome]) -> ReloadOutcome:
    try:
        return await asyncio.to_thread(reload)
    except Exception:  # the watcher outlives any fault of a reload
        logger.exception("knowledge reload raised")
        return "failed"


async def _first_of(*events: asyncio.Event, timeout: float | None) -> None:
    """Wait until one of `events` is set, or `timeout` seconds have passed."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


async def _feed_changes(
    folder: Path,
    relevant: Callable[[Path], bool],
    changed: asyncio.Event,
    halt: asyncio.Event,
    debounce_ms: int,
    backoff: Backoff,
) -> None:
    from watchfiles import awatch

    def keep(_change: Any, path: str) -> bool:
        return relevant(Path(path))

    attempt = 0
    while not halt.is_set():
        try:
            async for _changes in awatch(
                folder, watch_filter=keep, debounce=debounce_ms, step=30, stop_event=halt, recursive=True
            ):
                attempt = 0
                changed.set()
        except Exception:  # watching failed: say so, then watch again
            attempt += 1
            delay = backoff.delay(attempt)
            logger.exception("watching %s for knowledge changes failed; watching again in %.1f s", folder, delay)
            changed.set()
            await _first_of(halt, timeout=delay)

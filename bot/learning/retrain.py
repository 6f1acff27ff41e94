"""Background retraining and the model swap: a running server learns new intent examples without a restart.

`ModelRefresher.request()` (an accepted intent example, a change of `intents/` seen by `watch`, or
`POST /admin/learn/retrain`) wakes one background thread, which waits for the changes to settle, then:

1. validates the intents data — errors: nothing is trained, the serving model stays (`invalid`);
2. does nothing when the serving model is the one for this data (`current`);
3. trains (or finds, when another process trained it) the model for this data, one process at a time
   (a lock file in the state folder);
4. builds a new assistant on it, warms it up and checks it (it knows every intent and classifies its own
   training examples) — a failure discards the model and keeps the serving one (`failed`);
5. hands the new assistant to `swap`: turns already running finish on the old one, the next turn gets the
   new one. The conversation store, the encoder, the knowledge base and the actions are shared, so no
   conversation notices (`swapped`).

`ModelBuilder` is the seam (`ServingModelBuilder` the real one, over `bot.bootstrap`); tests give a fake.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from bot.errors import DataError

log = logging.getLogger("supportbot.learning")

Outcome = Literal["current", "swapped", "invalid", "failed"]
MIN_PROBE_ACCURACY = 0.8
"""A new model must classify at least this share of its probe examples (training examples) as their intent."""
PROBES_PER_INTENT = 3


class ModelCheckFailed(Exception):
    """The new model did not pass its check; the message says what it got wrong."""


class ModelBuilder(Protocol):
    def stale(self) -> bool:
        """Is the serving model not the one for the data as it is now? Raises DataError when the data is invalid."""
        ...

    def train(self) -> Path:
        """Train (or find) the model for the data now; its folder."""
        ...

    def load(self, path: Path) -> Any:
        """A warmed-up assistant on the model in `path`."""
        ...

    def check(self, assistant: Any) -> None:
        """Raise ModelCheckFailed unless the assistant's model is fit to serve."""
        ...

    def discard(self, path: Path) -> None:
        """Forget a model that failed its check (the last good one stays `current`)."""
        ...

    def swapped(self, assistant: Any) -> None:
        """The assistant now serves."""
        ...


@dataclass
class RetrainStatus:
    state: str = "idle"  # idle | waiting | training | failed | invalid
    last_outcome: str | None = None
    last_message: str | None = None
    last_at: float | None = None
    swaps: int = 0
    model: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "model": self.model,
            "last_outcome": self.last_outcome,
            "last_message": self.last_message,
            "last_at": self.last_at,
            "swaps": self.swaps,
        }


class ModelRefresher:
    """One background thread that retrains and swaps on request (see the module docstring)."""

    def __init__(
        self,
        builder: ModelBuilder,
        swap: Callable[[Any], None],
        *,
        settle_seconds: float = 1.0,
        model: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.builder = builder
        self._swap = swap
        self.settle_seconds = settle_seconds
        self.clock = clock
        self._status = RetrainStatus(model=model)
        self._cond = threading.Condition()
        self._pending = False
        self._running = False
        self._last_request = 0.0
        self._closed = False
        self._thread: threading.Thread | None = None

    # -- requests --------------------------------------------------------------------------------
    def request(self, reason: str = "") -> None:
        """Retrain soon (after `settle_seconds` without another request). Returns at once."""
        with self._cond:
            if self._closed:
                return
            self._pending = True
            self._last_request = time.monotonic()
            if self._status.state in ("idle", "failed", "invalid"):
                self._status.state = "waiting"
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="supportbot-retrain", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        log.info("retrain requested%s", f": {reason}" if reason else "")

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                while True:  # let a burst of changes (several files saved) settle into one training
                    left = self._last_request + self.settle_seconds - time.monotonic()
                    if left <= 0 or self._closed:
                        break
                    self._cond.wait(left)
                if self._closed:
                    return
                self._pending = False
                self._running = True
            try:
                self.run_once()
            finally:
                with self._cond:
                    self._running = False
                    self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no retrain is pending or running; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self) -> None:
        """Stop the thread after the current training (a daemon: it never holds up the process's exit)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- one pass --------------------------------------------------------------------------------
    def run_once(self) -> Outcome:
        """Validate, train, check and swap now, in this thread. Never raises: the outcome says what happened."""
        try:
            if not self.builder.stale():
                return self._done("current", "the serving model is the one for the data")
        except DataError as e:
            return self._done("invalid", f"the intents data has errors; the serving model stays: {e}")
        except Exception as e:
            log.exception("retrain: reading the data failed")
            return self._done("failed", f"reading the data failed ({type(e).__name__}: {e}); the serving model stays")
        self._set_state("training")
        started = time.monotonic()
        try:
            path = self.builder.train()
        except DataError as e:
            return self._done("invalid", f"the intents data has errors; the serving model stays: {e}")
        except Exception as e:
            log.exception("retrain: training failed; the serving model stays")
            return self._done("failed", f"training failed ({type(e).__name__}: {e}); the serving model stays")
        try:
            assistant = self.builder.load(path)
            self.builder.check(assistant)
        except Exception as e:
            log.exception("retrain: the new model %s was not fit to serve; the serving model stays", path.name)
            try:
                self.builder.discard(path)
            except Exception:
                log.exception("retrain: discarding %s failed", path.name)
            return self._done(
                "failed", f"the new model failed its check ({type(e).__name__}: {e}); the serving model stays"
            )
        with self._cond:
            if self._closed:  # the server is shutting down: nothing to swap into
                return self._done("current", "stopped before the swap")
        self._swap(assistant)
        self.builder.swapped(assistant)
        with self._cond:
            self._status.swaps += 1
            self._status.model = path.name
        seconds = time.monotonic() - started
        log.info("retrain: now serving %s (trained and checked in %.1f s)", path.name, seconds)
        return self._done("swapped", f"now serving {path.name} (ready in {seconds:.1f} s)")

    def _set_state(self, state: str) -> None:
        with self._cond:
            self._status.state = state

    def _done(self, outcome: Outcome, message: str) -> Outcome:
        with self._cond:
            self._status.last_outcome = outcome
            self._status.last_message = message
            self._status.last_at = self.clock()
            self._status.state = {"failed": "failed", "invalid": "invalid"}.get(outcome, "idle")
            if self._pending:
                self._status.state = "waiting"
        if outcome in ("failed", "invalid"):
            log.warning("retrain: %s", message)
        return outcome

    def status(self) -> dict[str, Any]:
        with self._cond:
            return self._status.as_dict()

    # -- watching the intents folder -------------------------------------------------------------
    async def watch(self, folder: Path, stop: asyncio.Event, *, retry_seconds: float = 5.0) -> None:
        """Request a retrain on every change of a YAML file of `folder` (not `tests/`) until `stop`."""
        from watchfiles import awatch

        def relevant(_change: Any, path: str) -> bool:
            p = Path(path)
            try:
                parts = p.resolve().relative_to(folder.resolve()).parts
            except ValueError:
                return False
            return p.suffix in (".yml", ".yaml") and "tests" not in parts[:-1] and not p.name.startswith(".")

        try:
            while not stop.is_set():
                try:
                    async for _changes in awatch(folder, watch_filter=relevant, stop_event=stop, recursive=True):
                        self.request("intents/ changed")
                except Exception:
                    log.exception(
                        "watching %s for intents changes failed; watching again in %.0f s", folder, retry_seconds
                    )
                    with suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=retry_seconds)
        finally:
            self.close()


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (created), across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def discard_model(models_dir: Path, path: Path, keep: Path | None) -> None:
    """Remove a model that failed its check and point `current` back at `keep` (the serving one)."""
    from bot.nlu.model import CURRENT_POINTER

    if keep is not None and path.resolve() == keep.resolve():
        return
    shutil.rmtree(path, ignore_errors=True)
    if keep is not None and keep.exists():
        pointer = models_dir / CURRENT_POINTER
        tmp = models_dir / f".{CURRENT_POINTER}.tmp"
        tmp.write_text(keep.name)
        tmp.replace(pointer)

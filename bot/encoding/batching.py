"""`MicroBatchingEncoder`: gathers concurrent `encode` calls into one forward pass.

Many server threads each encode one customer message. A transformer encodes 32 short sentences in little
more time than one, so one worker thread takes every request queued, runs them as one batch and hands
each caller its rows back through a future:

    thread A: encode(["hi"])      ─┐
    thread B: encode(["where…"])  ─┼─► queue ─► worker: inner.encode([...all texts...]) ─► futures
    thread C: encode(["return…"]) ─┘

Waiting policy (chosen by measurement, see docs/benchmarks.md "Load"): a request that finds the worker
idle and the queue empty after a pass that served a single caller is encoded at once — a lone customer
never waits for the window. Under load (others queued, the request arrived while a pass ran, or the last
pass served several callers) the worker keeps gathering for at most `max_wait_ms` after the first queued
request arrived, or until `max_batch` sentences are gathered.
A request larger than `max_batch` is encoded on its own (the inner encoder chunks it).

Bulk work (training, knowledge indexing: several texts in one call) can go to a different encoder —
`for_serving` sends it to the on-disk cached encoder, while single customer messages go straight to the
model, uncached (they rarely repeat, and the cache would keep every one). Either way every forward pass
runs on the one worker thread, so the model and its tokenizer are never used by two threads at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from bot.encoding.cache import CachedEncoder
from bot.encoding.protocol import Encoded, Encoder, ProgressCallback, encode_with_layers
from bot.encoding.wrapper import EncoderWrapper
from bot.errors import ConfigError

if TYPE_CHECKING:  # bot.config imports bot.encoding (layer feature names): no import cycle at run time
    from bot.config import Settings

log = logging.getLogger(__name__)

BatchCallback = Callable[[int, int], None]
"""Called after every forward pass with (sentences, callers) — the server counts them in /metrics."""


@dataclass
class _Request:
    texts: list[str]
    progress: ProgressCallback | None
    solo: bool = False
    layers: tuple[str, ...] = ()
    arrived: float = field(default_factory=time.monotonic)
    future: Future[Encoded] = field(default_factory=Future)


@dataclass(frozen=True)
class BatchStats:
    """Counters since construction: forward passes, sentences, requests and the largest batch."""

    batches: int
    sentences: int
    requests: int
    largest_batch: int

    @property
    def mean_batch(self) -> float:
        return self.sentences / self.batches if self.batches else 0.0


class MicroBatchingEncoder(EncoderWrapper):
    """An `Encoder` that batches concurrent callers through one worker thread. Thread-safe.

    The worker thread starts on first use and is a daemon; `close()` stops it (pending calls finish).
    """

    def __init__(
        self,
        inner: Encoder,
        *,
        max_batch: int = 64,
        max_wait_ms: float = 3.0,
        bulk: Encoder | None = None,
        on_batch: BatchCallback | None = None,
    ) -> None:
        if max_batch < 1:
            raise ConfigError(f"max_batch must be at least 1. Currently, max_batch is {max_batch}")
        if max_wait_ms < 0:
            raise ConfigError(f"max_wait_ms must be 0 or more. Currently, max_wait_ms is {max_wait_ms}")
        super().__init__(inner)
        self._bulk = bulk
        self.on_batch = on_batch
        self._max_batch = max_batch
        self._max_wait = max_wait_ms / 1000.0
        self._queue: deque[_Request] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._last_done = 0.0  # monotonic time the last forward pass ended
        self._last_requests = 0  # callers served by the last forward pass
        self._thread: threading.Thread | None = None
        self._batches = 0
        self._sentences = 0
        self._requests = 0
        self._largest = 0

    @classmethod
    def for_serving(
        cls, encoder: Encoder, settings: Settings, *, on_batch: BatchCallback | None = None
    ) -> MicroBatchingEncoder:
        """Micro-batch single messages on the model itself; bulk calls use `encoder` (e.g. cached)."""
        raw = encoder.inner if isinstance(encoder, CachedEncoder) else encoder
        return cls(
            raw,
            max_batch=settings.encoder_batch_size,
            max_wait_ms=settings.encoder_max_wait_ms,
            bulk=encoder,
            on_batch=on_batch,
        )

    # -- Encoder protocol (inner, fingerprint, dim and encode from `EncoderWrapper`) ---------------
    def warm_up(self) -> Any:
        """Load the inner model now (if it loads lazily)."""
        warm_up = getattr(self._inner, "warm_up", None)
        return warm_up() if callable(warm_up) else None

    def encode_layers(
        self, texts: Sequence[str], names: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> Encoded:
        """Embeddings and layer features (`bot.encoding.layer_features`) from the inner encoder's one pass."""
        if not texts:
            return Encoded.empty(names, self.dim)
        return self._submit(texts, progress, tuple(names)).result()

    async def encode_async(self, texts: Sequence[str]) -> np.ndarray:
        """`encode` for a coroutine: waits on the event loop, not on a thread, while the batch forms."""
        return (await self.encode_layers_async(texts, ())).vectors

    async def encode_layers_async(self, texts: Sequence[str], names: Sequence[str]) -> Encoded:
        """`encode_layers` for a coroutine."""
        if not texts:
            return Encoded.empty(names, self.dim)
        result: Encoded = await asyncio.wrap_future(self._submit(texts, None, tuple(names)))
        return result

    def _submit(
        self, texts: Sequence[str], progress: ProgressCallback | None, layers: tuple[str, ...]
    ) -> Future[Encoded]:
        solo = len(texts) > self._max_batch or (self._bulk is not None and len(texts) > 1)
        request = _Request(list(texts), progress, solo, layers)
        with self._cond:
            if self._closed:
                raise RuntimeError("MicroBatchingEncoder is closed; build a new one")
            self._ensure_worker()
            self._queue.append(request)
            self._cond.notify_all()
        return request.future

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the worker after the queued requests are done."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def queued(self) -> int:
        """Requests waiting for the worker right now."""
        with self._cond:
            return len(self._queue)

    def stats(self) -> BatchStats:
        with self._cond:
            return BatchStats(self._batches, self._sentences, self._requests, self._largest)

    # -- worker ----------------------------------------------------------------------------------
    def _ensure_worker(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="encoder-microbatch", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._process(batch)

    def _next_batch(self) -> list[_Request] | None:
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            # Load is present when more than one request waits, this one arrived while a pass ran, or the
            # last pass served several callers (their next messages are on their way).
            under_load = len(self._queue) > 1 or self._queue[0].arrived < self._last_done or self._last_requests > 1
            first = self._queue.popleft()
            batch, size = [first], len(first.texts)
            deadline = first.arrived + self._max_wait
            while size < self._max_batch and not first.solo:
                while self._queue and not self._queue[0].solo and size + len(self._queue[0].texts) <= self._max_batch:
                    request = self._queue.popleft()
                    batch.append(request)
                    size += len(request.texts)
                if self._queue or not under_load or self._closed:
                    break  # full (the next request does not fit), or nobody else is coming
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return batch

    def _process(self, batch: list[_Request]) -> None:
        texts = [t for r in batch for t in r.texts]
        progress = batch[0].progress if len(batch) == 1 else None
        encoder = self._bulk if batch[0].solo and self._bulk is not None else self._inner
        # one pass for the whole batch, with every layer feature any caller asked for
        names = list(dict.fromkeys(n for r in batch for n in r.layers))
        try:
            encoded = encode_with_layers(encoder, texts, names, progress=progress)
        except BaseException as e:  # hand every failure to the callers, keep the worker alive
            for request in batch:
                request.future.set_exception(e)
        else:
            start = 0
            for request in batch:
                end = start + len(request.texts)
                request.future.set_result(encoded.rows(slice(start, end)).only(request.layers))
                start = end
        finally:
            with self._cond:
                self._last_done = time.monotonic()
                self._last_requests = len(batch)
                self._batches += 1
                self._sentences += len(texts)
                self._requests += len(batch)
                self._largest = max(self._largest, len(texts))
            if self.on_batch is not None:
                try:
                    self.on_batch(len(texts), len(batch))
                except Exception:  # a metrics hook must never break encoding
                    log.exception("encoder on_batch callback failed")

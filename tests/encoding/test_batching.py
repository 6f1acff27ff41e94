"""MicroBatchingEncoder: concurrent callers share forward passes; each gets its own rows back."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from bot.config import Settings
from bot.encoding import CachedEncoder, Encoder, FakeEncoder, MicroBatchingEncoder, ProgressCallback
from bot.errors import ConfigError


class RecordingEncoder:
    """A fake encoder that records the size of every forward pass; can block until released."""

    def __init__(self, *, gate: threading.Event | None = None, fail_on: str | None = None) -> None:
        self.fake = FakeEncoder(dim=16)
        self.batches: list[int] = []
        self.gate = gate
        self.fail_on = fail_on
        self.started = threading.Event()

    @property
    def fingerprint(self) -> str:
        return "recording"

    @property
    def dim(self) -> int:
        return 16

    def encode(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> np.ndarray:
        self.batches.append(len(texts))
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        if self.fail_on in texts:
            raise ValueError(f"cannot encode {self.fail_on!r}")
        if progress:
            progress(len(texts))
        return self.fake.encode(texts)


def test_is_an_encoder() -> None:
    encoder = MicroBatchingEncoder(RecordingEncoder(), max_batch=8, max_wait_ms=1)
    assert isinstance(encoder, Encoder)
    assert encoder.dim == 16
    assert encoder.fingerprint == "recording"
    encoder.close()


def test_single_call_returns_the_same_vectors_as_the_inner_encoder() -> None:
    inner = RecordingEncoder()
    encoder = MicroBatchingEncoder(inner, max_batch=8, max_wait_ms=50)
    texts = ["where is my order", "hello"]
    np.testing.assert_array_equal(encoder.encode(texts), inner.fake.encode(texts))
    assert encoder.encode([]).shape == (0, 16)
    encoder.close()


def test_concurrent_calls_are_gathered_into_one_forward_pass() -> None:
    gate = threading.Event()
    inner = RecordingEncoder(gate=gate)
    encoder = MicroBatchingEncoder(inner, max_batch=64, max_wait_ms=200)
    texts = [f"message number {i}" for i in range(10)]
    with ThreadPoolExecutor(max_workers=11) as pool:
        first = pool.submit(encoder.encode, ["blocker"])
        assert inner.started.wait(5)  # the worker is busy with the first request ...
        futures = [pool.submit(encoder.encode, [t]) for t in texts]  # ... while ten more queue up
        _wait_for_queue(encoder, 10)
        gate.set()
        results = [f.result(timeout=10) for f in futures]
        first.result(timeout=10)
    assert inner.batches == [1, 10]
    for text, vector in zip(texts, results, strict=True):
        np.testing.assert_array_equal(vector, inner.fake.encode([text]))
    stats = encoder.stats()
    assert (stats.batches, stats.sentences, stats.requests, stats.largest_batch) == (2, 11, 11, 10)
    encoder.close()


def test_batches_never_exceed_max_batch() -> None:
    gate = threading.Event()
    inner = RecordingEncoder(gate=gate)
    encoder = MicroBatchingEncoder(inner, max_batch=4, max_wait_ms=200)
    with ThreadPoolExecutor(max_workers=12) as pool:
        first = pool.submit(encoder.encode, ["blocker"])
        assert inner.started.wait(5)
        futures = [pool.submit(encoder.encode, [f"text {i}"]) for i in range(10)]
        _wait_for_queue(encoder, 10)
        gate.set()
        for f in futures:
            f.result(timeout=10)
        first.result(timeout=10)
    assert inner.batches[0] == 1
    assert max(inner.batches) <= 4
    assert sum(inner.batches) == 11
    encoder.close()


def test_a_request_larger_than_max_batch_is_encoded_on_its_own() -> None:
    inner = RecordingEncoder()
    encoder = MicroBatchingEncoder(inner, max_batch=4, max_wait_ms=0)
    seen: list[int] = []
    vectors = encoder.encode([f"t{i}" for i in range(10)], progress=seen.append)
    assert vectors.shape == (10, 16)
    assert inner.batches == [10]
    assert seen == [10]
    encoder.close()


def test_a_lone_caller_does_not_wait_for_the_window() -> None:
    inner = RecordingEncoder()
    # A 10-minute window: if the idle path waited for it, this test would time out.
    encoder = MicroBatchingEncoder(inner, max_batch=64, max_wait_ms=600_000)
    for i in range(3):
        encoder.encode([f"one at a time {i}"])
    assert inner.batches == [1, 1, 1]
    encoder.close()


def test_an_inner_failure_reaches_every_caller_of_that_batch_and_the_worker_survives() -> None:
    gate = threading.Event()
    inner = RecordingEncoder(gate=gate, fail_on="boom")
    encoder = MicroBatchingEncoder(inner, max_batch=64, max_wait_ms=200)
    with ThreadPoolExecutor(max_workers=4) as pool:
        first = pool.submit(encoder.encode, ["blocker"])
        assert inner.started.wait(5)
        bad = pool.submit(encoder.encode, ["boom"])
        also_bad = pool.submit(encoder.encode, ["innocent bystander"])
        _wait_for_queue(encoder, 2)
        gate.set()
        first.result(timeout=10)
        with pytest.raises(ValueError, match="boom"):
            bad.result(timeout=10)
        with pytest.raises(ValueError, match="boom"):
            also_bad.result(timeout=10)
    assert encoder.encode(["still alive"]).shape == (1, 16)
    encoder.close()


def test_closed_encoder_refuses_work() -> None:
    encoder = MicroBatchingEncoder(RecordingEncoder(), max_batch=2, max_wait_ms=0)
    encoder.encode(["x"])
    encoder.close()
    with pytest.raises(RuntimeError, match="closed"):
        encoder.encode(["y"])


@pytest.mark.parametrize(("max_batch", "max_wait_ms", "message"), [(0, 1.0, "max_batch"), (4, -1.0, "max_wait_ms")])
def test_invalid_parameters_are_refused_with_the_value(max_batch: int, max_wait_ms: float, message: str) -> None:
    with pytest.raises(ConfigError, match=f"{message} .*Currently"):
        MicroBatchingEncoder(RecordingEncoder(), max_batch=max_batch, max_wait_ms=max_wait_ms)


def _wait_for_queue(encoder: MicroBatchingEncoder, n: int) -> None:
    """Spin until n requests are queued behind the running pass (no timing assumptions)."""
    for _ in range(1_000_000):
        if encoder.queued() >= n:
            return
        threading.Event().wait(0.001)
    raise AssertionError(f"only {encoder.queued()} of {n} requests queued")


def test_bulk_calls_go_to_the_bulk_encoder_and_single_messages_to_the_model() -> None:
    model, bulk = RecordingEncoder(), RecordingEncoder()
    encoder = MicroBatchingEncoder(model, max_batch=8, max_wait_ms=0, bulk=bulk)
    encoder.encode(["one customer message"])
    encoder.encode(["training example 1", "training example 2"])
    assert (model.batches, bulk.batches) == ([1], [2])
    encoder.close()


def test_for_serving_unwraps_the_cache_for_messages(tmp_path: Path) -> None:
    model = RecordingEncoder()
    cached = CachedEncoder(model, tmp_path / "cache.sqlite")
    settings = Settings(project_dir=tmp_path, encoder_batch_size=16, encoder_max_wait_ms=1.0)
    encoder = MicroBatchingEncoder.for_serving(cached, settings)
    assert encoder.inner is model
    encoder.encode(["a", "b"])  # bulk: through the cache (which calls the model for misses)
    encoder.encode(["a", "b"])  # cached now: the model is not called again
    encoder.encode(["a"])  # a message: straight to the model
    assert model.batches == [2, 1]
    encoder.close()
    cached.close()


def test_async_callers_wait_on_the_loop_and_share_one_pass() -> None:
    import asyncio

    gate = threading.Event()
    inner = RecordingEncoder(gate=gate)
    encoder = MicroBatchingEncoder(inner, max_batch=64, max_wait_ms=50)
    texts = [f"question number {i}" for i in range(12)]

    async def main() -> list[np.ndarray]:
        first = asyncio.ensure_future(encoder.encode_async(["warm the worker"]))
        await asyncio.to_thread(inner.started.wait, 10)  # the worker is busy: the next callers queue
        rest = [asyncio.ensure_future(encoder.encode_async([t])) for t in texts]
        await asyncio.sleep(0.05)
        gate.set()
        await first
        return list(await asyncio.gather(*rest))

    results = asyncio.run(main())
    encoder.close()
    assert inner.batches == [1, 12]
    expected = FakeEncoder(dim=16).encode(texts)
    np.testing.assert_allclose(np.vstack(results), expected, atol=1e-6)
    assert asyncio.run(encoder_empty(encoder)).shape == (0, 16)


async def encoder_empty(encoder: MicroBatchingEncoder) -> np.ndarray:
    return await encoder.encode_async([])


def test_layer_features_come_back_per_caller_from_one_pass() -> None:
    inner = FakeEncoder(dim=16)
    encoder = MicroBatchingEncoder(inner, max_batch=16, max_wait_ms=200)
    texts = [f"message {i}" for i in range(6)]
    wanted = [("mean_layer4",), (), ("mean_layer4", "max_layer6")] * 2
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda i: encoder.encode_layers([texts[i]], wanted[i]), range(6)))
    reference = inner.encode_layers(texts, ["mean_layer4", "max_layer6"])
    for i, result in enumerate(results):
        assert set(result.layers) == set(wanted[i])
        np.testing.assert_array_equal(result.vectors[0], reference.vectors[i])
        for name in wanted[i]:
            np.testing.assert_array_equal(result.layers[name][0], reference.layers[name][i])
    assert encoder.encode_layers([], ["mean_layer4"]).vectors.shape == (0, 16)
    encoder.close()

"""Issue 13, item 8: a damaged cache never blocks start-up.

What under `.supportbot/` can be rebuilt — the knowledge embeddings store (`.npz`) and the embedding cache
(SQLite) — is rebuilt with a warning naming the file when it is truncated, corrupt, empty or of the wrong
format or shape, and the bot answers. The knowledge fixtures are tests/faq's; the encoder is the fake.
"""

from __future__ import annotations

import io
import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bot.encoding import CachedEncoder, FakeEncoder
from bot.faq.service import KnowledgeService

from ..faq import conftest as knowledge
from ..faq.conftest import ServiceFactory

kb = knowledge.kb
make_service = knowledge.make_service

TEXTS = ["where is my parcel", "do you ship to Canada", "can I pay with PayPal"]


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def npy_bytes() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((3, 64), dtype=np.float32))
    return buffer.getvalue()


def rewrite_store(file: Path, change: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> None:
    """The store's own keys (so the bad vectors are the ones looked up) with vectors from `change`."""
    with np.load(file) as data:
        keys, vectors = change(data["keys"])
    file.write_bytes(npz_bytes(keys=keys, vectors=vectors))


def truncate(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


STORE_DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": truncate,
    "garbage": lambda f: f.write_bytes(os.urandom(3000)),
    "empty": lambda f: f.write_bytes(b""),
    "an .npy, not an .npz": lambda f: f.write_bytes(npy_bytes()),
    "other arrays": lambda f: f.write_bytes(npz_bytes(ids=np.arange(3), data=np.zeros((3, 64)))),
    "vectors of the wrong width": lambda f: rewrite_store(f, lambda keys: (keys, np.ones((len(keys), 7), np.float32))),
    "fewer vectors than keys": lambda f: rewrite_store(f, lambda keys: (keys, np.ones((1, 64), np.float32))),
    "NaN vectors": lambda f: rewrite_store(f, lambda keys: (keys, np.full((len(keys), 64), np.nan, np.float32))),
}


def answer(service: KnowledgeService, text: str) -> str:
    result = service.respond(service.encoder.encode([text])[0], text)
    assert result.decision == "answer", result.decision
    return result.replies[0].text


def store_file(service: KnowledgeService) -> Path:
    file = service.store.file
    assert file is not None
    return file


@pytest.mark.parametrize("damage", list(STORE_DAMAGE))
def test_a_damaged_knowledge_store_is_rebuilt_with_a_warning(
    kb: Path, make_service: ServiceFactory, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    first = make_service(kb)
    first.load()
    file = store_file(first)
    with np.load(file) as data:
        saved = data["keys"].shape[0]
    STORE_DAMAGE[damage](file)

    restarted = make_service(kb)  # a restart on the damaged file
    with caplog.at_level(logging.WARNING, logger="supportbot.knowledge"):
        restarted.load()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(file) in w and "damaged" in w and "rebuilding" in w for w in warnings), warnings
    assert restarted.store.embedded_texts == saved  # every text embedded again
    with np.load(file) as data:  # and the file is a good store again
        assert data["keys"].shape[0] == saved and data["vectors"].shape == (saved, 64)
    assert answer(restarted, "how can I pay").startswith("We take cards and PayPal.")
    again = make_service(kb)
    again.load()
    assert again.store.embedded_texts == 0  # the rebuilt file serves the next restart


# -- the embedding cache (SQLite) ------------------------------------------------------------------------
def fill_cache(file: Path) -> None:
    cached = CachedEncoder(FakeEncoder(), file)
    cached.encode_layers(TEXTS, ["mean_layer4"])
    cached.close()


def corrupt_pages(file: Path) -> None:
    data = bytearray(file.read_bytes())
    data[100:] = os.urandom(len(data) - 100)  # keep the header, scramble every page
    file.write_bytes(bytes(data))


def run_sql(file: Path, sql: str) -> None:
    conn = sqlite3.connect(file)
    conn.execute(sql)
    conn.commit()
    conn.close()


def another_table(file: Path) -> None:
    file.unlink()
    run_sql(file, "CREATE TABLE embeddings (id INTEGER PRIMARY KEY, data TEXT)")


CACHE_DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": truncate,
    "garbage": lambda f: f.write_bytes(os.urandom(8192)),
    "scrambled pages": corrupt_pages,
    "a table of another shape": another_table,
    "rows of the wrong size": lambda f: run_sql(f, "UPDATE embeddings SET vector = zeroblob(12) WHERE rowid % 2 = 0"),
    "unreadable rows": lambda f: run_sql(f, "UPDATE embeddings SET vector = x'0102030405'"),
}


@pytest.mark.parametrize("damage", list(CACHE_DAMAGE))
def test_a_damaged_embedding_cache_is_rebuilt_with_a_warning(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    file = tmp_path / "cache" / "embeddings.sqlite"
    fill_cache(file)
    for leftover in ("-wal", "-shm"):
        Path(f"{file}{leftover}").unlink(missing_ok=True)
    CACHE_DAMAGE[damage](file)

    fake = FakeEncoder()
    cached = CachedEncoder(fake, file)
    with caplog.at_level(logging.WARNING, logger="bot.encoding.cache"):
        encoded = cached.encode_layers(TEXTS, ["mean_layer4"])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(file) in w for w in warnings), warnings
    expected = FakeEncoder().encode_layers(TEXTS, ["mean_layer4"])
    np.testing.assert_allclose(encoded.vectors, expected.vectors, rtol=1e-6)
    np.testing.assert_allclose(encoded.layers["mean_layer4"], expected.layers["mean_layer4"], rtol=1e-6)
    assert fake.calls, "the damaged rows were not computed again"
    cached.close()

    reopened = FakeEncoder()  # the rebuilt cache answers the next run
    CachedEncoder(reopened, file).encode_layers(TEXTS, ["mean_layer4"])
    assert reopened.calls == []


def test_serving_starts_and_answers_with_every_cache_damaged(
    kb: Path, make_service: ServiceFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "state" / "cache" / "embeddings.sqlite"
    first = make_service(kb, CachedEncoder(FakeEncoder(), cache))
    first.load()
    truncate(store_file(first))
    cache.write_bytes(os.urandom(4096))
    for leftover in ("-wal", "-shm"):
        Path(f"{cache}{leftover}").unlink(missing_ok=True)

    with caplog.at_level(logging.WARNING):
        restarted = make_service(kb, CachedEncoder(FakeEncoder(), cache))
        restarted.load()
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert str(store_file(restarted)) in warned and str(cache) in warned
    assert answer(restarted, "do you take PayPal").startswith("We take cards and PayPal.")
    assert (cache.parent / "embeddings.sqlite.damaged").is_file()  # kept aside for a look, never deleted

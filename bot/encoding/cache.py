"""`CachedEncoder`: an SQLite cache of embeddings and layer features in front of an encoder."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.encoding.protocol import Encoded, Encoder, ProgressCallback, encode_with_layers
from bot.encoding.wrapper import EncoderWrapper


class CachedEncoder(EncoderWrapper):
    """Wraps an encoder with an SQLite cache keyed by (model fingerprint, text).

    Retraining never re-embeds an unchanged example; a changed model misses the cache.
    """

    def __init__(self, inner: Encoder, cache_file: Path) -> None:
        super().__init__(inner)
        self._file = cache_file
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._file, check_same_thread=False)
            conn.execute("CREATE TABLE IF NOT EXISTS embeddings ( key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
            conn.execute("PRAGMA journal_mode=WAL")
            self._conn = conn
        return self._conn

    def _key(self, text: str, layer: str = "") -> str:
        # the embedding's key has no layer part (caches written before layer features stay valid)
        name = f"{layer}\x00" if layer else ""
        return hashlib.sha256(f"{self.fingerprint}\x00{name}{text}".encode()).hexdigest()

    def encode_layers(
        self, texts: Sequence[str], names: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> Encoded:
        """Cached embeddings and layer features; the texts missing any of them go through one pass."""
        if not texts:
            return encode_with_layers(self._inner, texts, names)
        parts = ["", *names]
        keys = {part: [self._key(t, part) for t in texts] for part in parts}
        found: dict[str, np.ndarray] = {}
        with self._lock:
            conn = self._connection()
            unique = list(dict.fromkeys(k for part in parts for k in keys[part]))
            for start in range(0, len(unique), 900):
                chunk = unique[start : start + 900]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", chunk)
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        complete = [all(keys[part][i] in found for part in parts) for i in range(len(texts))]
        if progress and any(complete):
            progress(sum(complete))
        missing: dict[str, int] = {}  # embedding key -> position of its first text, once per distinct text
        for i in range(len(texts)):
            if not complete[i]:
                missing.setdefault(keys[""][i], i)
        if missing:
            todo = list(missing.values())
            encoded = encode_with_layers(self._inner, [texts[i] for i in todo], names, progress=progress)
            fresh: list[tuple[str, bytes]] = []
            for part in parts:
                values = encoded.vectors if not part else encoded.layers[part]
                for i, row in zip(todo, values, strict=True):
                    key = keys[part][i]
                    found[key] = row
                    fresh.append((key, row.astype(np.float32).tobytes()))
            with self._lock:
                conn = self._connection()
                conn.executemany("INSERT OR REPLACE INTO embeddings (key, vector) VALUES (?, ?)", fresh)
                conn.commit()
        return Encoded(
            np.vstack([found[k] for k in keys[""]]).astype(np.float32, copy=False),
            {n: np.vstack([found[k] for k in keys[n]]).astype(np.float32, copy=False) for n in names},
        )

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

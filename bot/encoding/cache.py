"""`CachedEncoder`: an SQLite cache of embeddings and layer features in front of an encoder.

The file is a cache: when it is damaged (truncated, corrupt, not an SQLite file, or a table of another
shape) it is moved aside to `<name>.damaged` with a warning naming the file and the cause, a new one is
started and the texts are embedded again as needed. Rows of the wrong size are ignored and computed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from bot.encoding.protocol import Encoded, Encoder, ProgressCallback, encode_with_layers
from bot.encoding.wrapper import EncoderWrapper

log = logging.getLogger(__name__)
T = TypeVar("T")
_DAMAGE_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB (primary result codes)
_COLUMNS = ["key", "vector"]


class _DamagedCache(Exception):
    """The cache file cannot be used; the message says why."""


def _is_damage(error: sqlite3.Error) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(code, int) and (code & 0xFF) in _DAMAGE_CODES


class CachedEncoder(EncoderWrapper):
    """Wraps an encoder with an SQLite cache keyed by (model fingerprint, text).

    Retraining never re-embeds an unchanged example; a changed model misses the cache.
    """

    def __init__(self, inner: Encoder, cache_file: Path) -> None:
        super().__init__(inner)
        self._file = cache_file
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._inode: int | None = None  # of the file we opened: was it already replaced by another process?

    # -- the file (call with self._lock held) -------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._conn = self._open()
            except _DamagedCache as e:
                self._set_aside(str(e))
                self._conn = self._open()  # a new file: failing again is a real (disk) problem
        return self._conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._file, check_same_thread=False)
        try:
            self._inode = os.stat(self._file).st_ino
            conn.execute("CREATE TABLE IF NOT EXISTS embeddings ( key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
            conn.execute("PRAGMA journal_mode=WAL")
            columns = [row[1] for row in conn.execute("PRAGMA table_info(embeddings)")]
        except sqlite3.Error as e:
            conn.close()
            if _is_damage(e):
                raise _DamagedCache(f"{type(e).__name__}: {e}") from e
            raise
        if columns != _COLUMNS:
            conn.close()
            raise _DamagedCache(f"its table 'embeddings' has the columns {columns}, expected {_COLUMNS}")
        return conn

    def _run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """`operation` on the cache; a damaged file found on the way is set aside and the operation
        runs once more on a new one."""
        try:
            return operation(self._connection())
        except sqlite3.DatabaseError as e:
            if not _is_damage(e):
                raise
            self._set_aside(f"{type(e).__name__}: {e}")
            return operation(self._connection())

    def _set_aside(self, cause: str) -> None:
        """Move the damaged file to `<name>.damaged` (unless another process already replaced it)."""
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        aside = self._file.with_name(self._file.name + ".damaged")
        try:
            ours = os.stat(self._file).st_ino == self._inode
        except FileNotFoundError:
            ours = False
        if not ours:
            log.warning(
                "the embedding cache %s was damaged (%s); another process has already replaced it", self._file, cause
            )
            return
        os.replace(self._file, aside)
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{self._file}{suffix}").unlink(missing_ok=True)
        log.warning(
            "the embedding cache %s is damaged (%s): moved it to %s and started a new one — texts are embedded "
            "again as needed",
            self._file,
            cause,
            aside,
        )

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
        unique = list(dict.fromkeys(k for part in parts for k in keys[part]))
        with self._lock:
            found, unreadable = self._run(lambda conn: _lookup(conn, unique))
        if unreadable:
            log.warning("the embedding cache %s holds %d unreadable rows: computing them again", self._file, unreadable)
        _drop_wrong_sizes(found, keys, self._file)
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
                self._run(lambda conn: _insert(conn, fresh))
        try:
            return Encoded(
                np.vstack([found[k] for k in keys[""]]).astype(np.float32, copy=False),
                {n: np.vstack([found[k] for k in keys[n]]).astype(np.float32, copy=False) for n in names},
            )
        except ValueError as e:  # cached rows of another width than the fresh ones: computed again, stored
            log.warning("the embedding cache %s holds rows of the wrong size (%s): computing them again", self._file, e)
            encoded = encode_with_layers(self._inner, texts, names, progress=progress)
            rows = [(keys[""][i], v.astype(np.float32).tobytes()) for i, v in enumerate(encoded.vectors)]
            rows += [
                (keys[n][i], v.astype(np.float32).tobytes()) for n in names for i, v in enumerate(encoded.layers[n])
            ]
            with self._lock:
                self._run(lambda conn: _insert(conn, rows))
            return encoded

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _lookup(conn: sqlite3.Connection, keys: Sequence[str]) -> tuple[dict[str, np.ndarray], int]:
    """The cached rows of `keys`, and how many rows could not be read as float32 vectors."""
    found: dict[str, np.ndarray] = {}
    unreadable = 0
    for start in range(0, len(keys), 900):
        chunk = list(keys[start : start + 900])
        marks = ",".join("?" * len(chunk))
        for key, blob in conn.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", chunk):
            if isinstance(blob, bytes) and blob and len(blob) % 4 == 0:
                found[key] = np.frombuffer(blob, dtype=np.float32)
            else:
                unreadable += 1
    return found, unreadable


def _insert(conn: sqlite3.Connection, rows: Sequence[tuple[str, bytes]]) -> None:
    conn.executemany("INSERT OR REPLACE INTO embeddings (key, vector) VALUES (?, ?)", rows)
    conn.commit()


def _drop_wrong_sizes(found: dict[str, np.ndarray], keys: dict[str, list[str]], file: Path) -> None:
    """Forget the cached rows of a part (the embedding, or one layer feature) whose sizes disagree: they
    are computed again. Rows of one size that differs from a fresh computation are caught later."""
    for part, part_keys in keys.items():
        sizes = {found[k].shape[0] for k in part_keys if k in found}
        if len(sizes) > 1:
            log.warning(
                "the embedding cache %s holds %s rows of different sizes %s: computing them again",
                file,
                part or "embedding",
                sorted(sizes),
            )
            for k in part_keys:
                found.pop(k, None)

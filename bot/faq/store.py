"""`EmbeddingStore`: the vectors of each entry, persisted under `<state_path>/knowledge/`.

Each text (question, alternate, answer context) is stored under its own key: a hash of the encoder
fingerprint and the text. An edit embeds only the texts it changed (an answer edit: one context text,
not the phrasings); a restart loads every vector from disk and embeds nothing.

The file is a cache: one that is truncated, corrupt, empty or of the wrong format or shape is logged (a
warning naming the file and the cause) and rebuilt — its texts are embedded again and the next save
replaces it. Every save writes a temporary file of its own in the same folder and renames it over the
store (`os.replace`), so several processes saving at once (`serve --workers N`) never see a half-written
file nor trip over each other's temporary file; the last save wins, and vectors it lacks are embedded
again when needed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.encoding import Encoder

logger = logging.getLogger("supportbot.knowledge")
STALE_TEMP_SECONDS = 600  # a temporary file this old was left by a process that died while saving


class DamagedStoreError(Exception):
    """The store file cannot be used; the message says why. Handled by rebuilding, never raised out."""


def text_key(fingerprint: str, text: str) -> str:
    return hashlib.blake2b(f"{fingerprint}\x00{text}".encode(), digest_size=16).hexdigest()


class EmbeddingStore:
    """Per-text embeddings with an optional file; thread-safe."""

    def __init__(self, encoder: Encoder, folder: Path | None = None) -> None:
        self._encoder = encoder
        self._folder = folder
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self._loaded = False
        self.embedded_texts = 0  # texts sent to the encoder since construction (for tests and logs)

    @property
    def file(self) -> Path | None:
        if self._folder is None:
            return None
        name = hashlib.sha256(self._encoder.fingerprint.encode()).hexdigest()[:12]
        return self._folder / f"text-embeddings-{name}.npz"

    def __len__(self) -> int:
        return len(self._vectors)

    def _load(self) -> None:
        self._loaded = True
        file = self.file
        if file is None or not file.is_file():
            return
        try:
            keys, vectors = read_store(file, self._encoder.dim)
        except DamagedStoreError as e:
            logger.warning(
                "the knowledge embeddings file %s is damaged (%s): rebuilding it — its texts are embedded again",
                file,
                e,
            )
            return
        for key, vector in zip(keys, vectors, strict=True):
            self._vectors[key] = vector

    def vectors_for(self, texts_per_entry: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Vectors (len(texts), dim) for each entry's texts, embedding only texts not seen before."""
        with self._lock:
            if not self._loaded:
                self._load()
            fingerprint = self._encoder.fingerprint
            keys = [[text_key(fingerprint, t) for t in texts] for texts in texts_per_entry]
            missing: dict[str, str] = {}
            for entry_keys, texts in zip(keys, texts_per_entry, strict=True):
                for key, text in zip(entry_keys, texts, strict=True):
                    if key not in self._vectors:
                        missing[key] = text
        if missing:
            encoded = self._encoder.encode(list(missing.values()))
            with self._lock:
                self.embedded_texts += len(missing)
                for n, key in enumerate(missing):
                    self._vectors[key] = encoded[n]
        with self._lock:
            vectors = self._vectors
            dim = self._encoder.dim if not vectors else next(iter(vectors.values())).shape[0]
            return [
                np.stack([vectors[k] for k in entry_keys]) if entry_keys else np.zeros((0, dim), dtype=np.float32)
                for entry_keys in keys
            ]

    def save(self, keep: Sequence[Sequence[str]] | None = None) -> None:
        """Write the store atomically; with `keep`, drop the vectors of texts no longer present."""
        file = self.file
        if file is None:
            return
        with self._lock:
            if keep is not None:
                fingerprint = self._encoder.fingerprint
                wanted = {text_key(fingerprint, t) for texts in keep for t in texts}
                self._vectors = {k: v for k, v in self._vectors.items() if k in wanted}
            keys = list(self._vectors)
            rows = [self._vectors[k] for k in keys]
        dim = rows[0].shape[0] if rows else 0
        vectors = np.stack(rows).astype(np.float32) if rows else np.zeros((0, dim), dtype=np.float32)
        file.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temp_files(file)
        fd, tmp_name = tempfile.mkstemp(dir=file.parent, prefix=f"{file.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, _mode_of(file))  # mkstemp makes 0600 files; keep the store readable as before
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, keys=np.asarray(keys, dtype=str), vectors=vectors)
            os.replace(tmp_name, file)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        legacy = file.with_name(file.name.removeprefix("text-"))  # per-entry format before text keys
        legacy.unlink(missing_ok=True)


def read_store(file: Path, dim: int) -> tuple[list[str], np.ndarray]:
    """(keys, vectors (n, dim) float32) of a store file; `DamagedStoreError` saying why it cannot be used."""
    try:
        with np.load(file, allow_pickle=False) as data:
            keys_array, vectors = data["keys"], data["vectors"]
    except Exception as e:  # zipfile.BadZipFile, EOFError, ValueError, KeyError, OSError, zlib.error …
        raise DamagedStoreError(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__) from e
    if keys_array.ndim != 1 or keys_array.dtype.kind != "U":
        raise DamagedStoreError(f"'keys' must be a list of texts, found {keys_array.dtype} of shape {keys_array.shape}")
    if vectors.ndim != 2 or vectors.dtype.kind != "f" or (len(vectors) and vectors.shape[1] != dim):
        raise DamagedStoreError(f"'vectors' must be float rows of {dim} values, found {vectors.dtype} {vectors.shape}")
    if len(keys_array) != len(vectors):
        raise DamagedStoreError(f"{len(keys_array)} keys for {len(vectors)} vectors")
    if not np.isfinite(vectors).all():
        raise DamagedStoreError("the vectors hold NaN or infinite values")
    return [str(k) for k in keys_array], vectors.astype(np.float32, copy=False)


def _mode_of(file: Path) -> int:
    try:
        return file.stat().st_mode & 0o777
    except OSError:
        return 0o644


def _remove_stale_temp_files(file: Path) -> None:
    """Delete temporary files of `file` left by a process that died while saving (never a fresh one:
    another process may be writing it right now)."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    for tmp in file.parent.glob(f"{file.name}*.tmp"):
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
        except OSError:
            continue  # gone already (another process cleaned it) or not ours to remove

"""`EmbeddingStore`: the vectors of each entry, persisted under `<state_path>/knowledge/`.

Each text (question, alternate, answer context) is stored under its own key: a hash of the encoder
fingerprint and the text. An edit embeds only the texts it changed (an answer edit: one context text,
not the phrasings); a restart loads every vector from disk and embeds nothing.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.encoding import Encoder


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
            with np.load(file, allow_pickle=False) as data:
                keys = [str(k) for k in data["keys"]]
                vectors = data["vectors"]
        except (OSError, ValueError, KeyError):
            return  # a damaged cache is rebuilt, never fatal
        if len(keys) != len(vectors):
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
        tmp = file.with_name(file.name + ".tmp")
        with tmp.open("wb") as fh:
            np.savez(fh, keys=np.asarray(keys, dtype=str), vectors=vectors)
        tmp.replace(file)
        legacy = file.with_name(file.name.removeprefix("text-"))  # per-entry format before text keys
        legacy.unlink(missing_ok=True)

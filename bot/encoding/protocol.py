"""The `Encoder` protocol and the values it deals in.

An encoder turns texts into L2-normalised float32 vectors of shape (len(texts), dim). A `LayerEncoder`
also returns, from the same forward pass, pooled hidden states (`bot.encoding.layer_features`); both come
back together as an `Encoded`. `EncodingRequest` says what to encode for one customer message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from bot.errors import ModelError

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class Encoded:
    """The sentence embeddings of some texts and, from the same forward pass, their layer features.

    vectors: (n, dim) float32, L2-normalised; layers: name -> (n, width) float32, row i = texts[i].
    """

    vectors: np.ndarray
    layers: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def rows(self, index: Sequence[int] | np.ndarray | slice) -> Encoded:
        """The rows `index` (a slice or integer positions), embeddings and layer features alike."""
        sel: Any = index if isinstance(index, slice) else np.asarray(index, dtype=np.int64)
        return Encoded(self.vectors[sel], {k: v[sel] for k, v in self.layers.items()})

    def only(self, names: Sequence[str]) -> Encoded:
        """The same rows with just the layer features `names`."""
        return Encoded(self.vectors, {k: self.layers[k] for k in names})

    @classmethod
    def empty(cls, names: Sequence[str], dim: int) -> Encoded:
        """No rows: (0, dim) embeddings and an empty block for each layer feature `names`."""
        return cls(np.zeros((0, dim), dtype=np.float32), {n: np.zeros((0, 0), dtype=np.float32) for n in names})

    @classmethod
    def stack(cls, parts: Sequence[Encoded], names: Sequence[str], dim: int) -> Encoded:
        """Rows of `parts` one after another (empty parts allowed)."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty(names, dim)
        return cls(
            np.vstack([p.vectors for p in parts]).astype(np.float32, copy=False),
            {n: np.vstack([p.layers[n] for p in parts]).astype(np.float32, copy=False) for n in names},
        )


@dataclass(frozen=True)
class EncodingRequest:
    """What to encode for one message, in one pass: `texts` (the message, then its parts) with the layer
    features `layer_names` the NLU model reads (`Assistant.encoding_request`)."""

    texts: tuple[str, ...]
    layer_names: tuple[str, ...]


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
    """An encoder that also returns pooled hidden states of the same forward pass (`bot.encoding.layer_features`)."""

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

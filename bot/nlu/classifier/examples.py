"""The classifier's inputs, checked once: labelled embeddings with their texts and layer features,
and the known out-of-scope messages (negatives) training sets aside."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.encoding import Encoded
from bot.nlu.classifier.config import ClassifierConfig
from bot.nlu.classifier.corpus import Embed, generic_negatives
from bot.nlu.classifier.head import Layers, layer_array


def check_embeddings(embeddings: np.ndarray, texts: Sequence[str], what: str) -> np.ndarray:
    """`embeddings` as a float32 (n_messages, dim) array with one text per row; a clear error otherwise."""
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(
            f"{what} embeddings must be a 2-d array (n_messages, dim), got shape {x.shape}: "
            "pass encoder.encode(texts) for a list of texts"
        )
    if len(texts) != x.shape[0]:
        raise ValueError(
            f"{what} has {x.shape[0]} embeddings but {len(texts)} texts: "
            "pass one text per embedding row, in the same order"
        )
    return x


@dataclass(frozen=True, eq=False)
class Examples:
    """Labelled messages: unit embeddings, texts, labels, which ones are out of scope, and the layer
    features the classifier may use (row i = message i)."""

    x: np.ndarray  # (n, dim) float32
    texts: np.ndarray  # (n,) object array of str
    y: np.ndarray  # (n,) str
    is_oos: np.ndarray  # (n,) bool: the label is one of the out-of-scope labels
    layers: dict[str, np.ndarray]  # name -> (n, width) float32

    @classmethod
    def check(
        cls,
        what: str,
        embeddings: np.ndarray,
        texts: Sequence[str],
        labels: Sequence[str],
        layers: Layers | None,
        names: Sequence[str],
        out_of_scope_labels: frozenset[str],
    ) -> Examples:
        """`what` ("training data", "val") checked: one text and one label per embedding, and every
        layer feature `names` in `layers`."""
        x = check_embeddings(embeddings, texts, what)
        if len(labels) != x.shape[0]:
            raise ValueError(
                f"{what} has {x.shape[0]} embeddings but {len(labels)} labels: pass one label per embedding row"
            )
        y = np.asarray([str(label) for label in labels])
        is_oos = np.isin(y, list(out_of_scope_labels))
        return cls(
            x, np.asarray(list(texts), dtype=object), y, is_oos, {name: layer_array(layers, name) for name in names}
        )

    @property
    def in_scope(self) -> np.ndarray:
        """Row indices of the in-scope examples."""
        return np.flatnonzero(~self.is_oos)

    def intents(self) -> list[str]:
        """The in-scope intents that have examples, sorted."""
        return sorted(set(self.y[~self.is_oos].tolist()))


@dataclass(frozen=True, eq=False)
class Negatives:
    """Known out-of-scope messages: `own` (the training data's out-of-scope examples) and `all` (those,
    then the generic corpus's sentences), with the texts of `all`."""

    own: Encoded
    all: Encoded
    texts: list[str]

    def __len__(self) -> int:
        return len(self.all)

    @property
    def own_texts(self) -> list[str]:
        return self.texts[: len(self.own)]

    @classmethod
    def collect(cls, data: Examples, config: ClassifierConfig, embed: Embed | None) -> Negatives:
        """The data's own out-of-scope examples, and the generic corpus embedded by `embed` (when
        given and config.use_generic_oos) with the same layer features."""
        names = tuple(data.layers)
        own = Encoded(data.x[data.is_oos], {n: v[data.is_oos] for n, v in data.layers.items()})
        texts = list(data.texts[data.is_oos])
        generic = Encoded.stack([], names, data.x.shape[1])
        if embed is not None and config.use_generic_oos:
            in_scope = data.x[~data.is_oos]
            generic, generic_texts = generic_negatives(embed, in_scope, names, config.generic_oos_max_similarity)
            texts += generic_texts
        return cls(own, Encoded.stack([own, generic], names, data.x.shape[1]), texts)

"""Layer features: pooled hidden states of the encoder's own forward pass, beside the sentence embedding.

The sentence embedding (mean of the last layer, normalised) is what retrieval needs. The intent
classifier separates intents better with a little more of the same pass: the mean of an inner layer
(`mean_layer4`: more lexical than the last) and the max over the last layer's tokens (`max_layer6` for a
6-layer model). They cost two poolings, no second pass (docs/experiments/intent-classifier.md, 9 and 13).

A name is `<pooling>_layer<k>`: pooling `mean` (attention-masked mean, as the model's own pooling) or
`max` (masked max over tokens), k the hidden state (0 = the embedding layer's output, 1..n = after
transformer layer k). Values are raw (not normalised): the classifier centres and scales them. An
encoder returns them beside the embeddings in an `Encoded` (`bot.encoding.protocol`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"^(mean|max)_layer(\d+)$")
DEFAULT_LAYER_FEATURES = ("mean_layer4", "max_layer6")


@dataclass(frozen=True)
class LayerFeature:
    pooling: str  # "mean" | "max"
    layer: int


def parse_layer_feature(name: str) -> LayerFeature:
    """`mean_layer4` -> LayerFeature("mean", 4); a clear error for anything else."""
    match = _NAME.match(name)
    if match is None:
        raise ValueError(
            f"unknown layer feature {name!r}: use mean_layer<k> or max_layer<k>, k a hidden-state index "
            "(0 = embedding layer, 1..n = after transformer layer k), e.g. mean_layer4"
        )
    return LayerFeature(match.group(1), int(match.group(2)))


def check_layers(names: Sequence[str], n_layers: int) -> list[LayerFeature]:
    """Parse `names` and check each layer exists in a model of `n_layers` transformer layers."""
    parsed = [parse_layer_feature(n) for n in names]
    for name, feature in zip(names, parsed, strict=True):
        if feature.layer > n_layers:
            raise ValueError(
                f"layer feature {name!r} asks for hidden state {feature.layer}, but the model has "
                f"{n_layers} layers: use a layer between 0 and {n_layers}"
            )
    return parsed


def pool(hidden: Any, mask: Any, pooling: str) -> Any:
    """Pool one hidden state (batch, tokens, dim) over its real tokens (`mask` (batch, tokens), 1 = token)."""
    weights = mask[..., None].to(hidden.dtype)
    if pooling == "mean":
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
    return hidden.masked_fill(weights == 0, float("-inf")).max(1).values

"""`ClassifierConfig` (`bot.nlu.classifier.config`): one config, checked when built."""

from __future__ import annotations

import pytest

from bot.nlu.classifier import ClassifierConfig


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"knn_k": -1}, "knn_k must be >= 0"),
        ({"negative_k": -1}, "negative_k must be >= 0"),
        ({"knn_vote": 1.5}, r"knn_vote must be in \[0, 1\]"),
        ({"threshold_bootstrap": -1}, "threshold_bootstrap must be >= 0"),
        ({"max_in_scope_rejection": 1.0}, r"max_in_scope_rejection must be in \[0, 1\)"),
        ({"oos_weight": -0.1}, "oos_weight must be >= 0"),
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"layer_features": ("cls_layer6",)}, "unknown layer feature 'cls_layer6'"),
    ],
)
def test_bad_values_are_refused_with_the_field_name(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClassifierConfig(**overrides)  # type: ignore[arg-type]


def test_layer_features_from_json_become_a_tuple() -> None:
    config = ClassifierConfig(layer_features=["mean_layer4"])  # type: ignore[arg-type]
    assert config.layer_features == ("mean_layer4",)

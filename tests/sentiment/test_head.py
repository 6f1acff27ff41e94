from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.errors import ModelError
from bot.sentiment.head import HeadConfig, LinearSentimentHead, fit_head, head_input, macro_recall


def _blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three separable classes in a 16-d 'embedding', with two text features."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 16))
    y = np.repeat([0, 1, 2], 30)
    emb = centres[y] + 0.3 * rng.normal(size=(len(y), 16))
    text = np.stack([(y == 0).astype(float), (y == 2).astype(float)], axis=1)
    return text.astype(np.float32), emb.astype(np.float32), y


def test_the_head_learns_separable_classes_and_reports_cross_validation() -> None:
    text, emb, y = _blobs()
    config = HeadConfig(c=1.0, layer_names=(), folds=3)
    head, report = fit_head(head_input(text, emb, None, config), y, config)
    predicted = np.argmax(head.probabilities(head_input(text, emb, None, config)), axis=1)
    assert macro_recall(y, predicted) == 1.0
    assert report["cv_macro_recall"] > 0.9
    assert np.allclose(head.probabilities(head_input(text, emb, None, config)).sum(axis=1), 1.0)


def test_save_and_load_give_the_same_probabilities(tmp_path: Path) -> None:
    text, emb, y = _blobs(1)
    config = HeadConfig(c=0.5, layer_names=(), folds=0)
    x = head_input(text, emb, None, config)
    head, _ = fit_head(x, y, config)
    head.save(tmp_path / "head")
    loaded = LinearSentimentHead.load(tmp_path / "head")
    assert loaded.config == config
    assert np.allclose(loaded.probabilities(x), head.probabilities(x), atol=1e-6)


def test_a_missing_layer_feature_is_a_clear_error() -> None:
    text, emb, _ = _blobs()
    with pytest.raises(ModelError, match="mean_layer4"):
        head_input(text, emb, {}, HeadConfig(layer_names=("mean_layer4",)))


def test_a_damaged_head_file_says_to_retrain(tmp_path: Path) -> None:
    (tmp_path / "head.json").write_text("{not json")
    with pytest.raises(ModelError, match="supportbot train --force"):
        LinearSentimentHead.load(tmp_path)


def test_two_labels_are_enough_and_the_third_is_never_predicted() -> None:
    text, emb, y = _blobs(2)
    keep = y != 1
    config = HeadConfig(layer_names=(), folds=0)
    x = head_input(text[keep], emb[keep], None, config)
    head, _ = fit_head(x, y[keep], config)
    assert set(np.argmax(head.probabilities(x), axis=1).tolist()) == {0, 2}

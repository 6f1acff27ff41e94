"""The trained head, its raw scores and its files (`bot.nlu.classifier.head`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.nlu.classifier import ClassifierConfig, EmbeddingIntentClassifier
from bot.nlu.classifier.head import RawScores, fit_head


def data(seed: int = 0) -> tuple[np.ndarray, list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.asarray(["a", "b", "c"]), 15)
    x = np.repeat(np.eye(3, 16), 15, axis=0) + 0.3 * rng.normal(size=(45, 16))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), [f"{label} example {i}" for i, label in enumerate(y)], y


def test_raw_scores_keep_the_signals_in_summing_order() -> None:
    x, texts, y = data()
    head = fit_head(x, texts, y, x[:3], ClassifierConfig(epochs=2))
    raw = head.raw_scores(x, texts)
    assert list(raw.signals) == ["maha", "energy", "knn", "negatives"]
    assert raw.logits.shape == (45, 3) and raw.vote is not None
    plain = fit_head(x, texts, y, x[:0], ClassifierConfig(epochs=2, knn_k=0, oos_energy=False, use_tfidf=False))
    bare = plain.raw_scores(x, texts)
    assert list(bare.signals) == ["maha"] and bare.vote is None and plain.features is None


def test_raw_scores_concatenate_and_select_rows() -> None:
    x, texts, y = data()
    head = fit_head(x, texts, y, x[:3], ClassifierConfig(epochs=2))
    a, b = head.raw_scores(x[:5], texts[:5]), head.raw_scores(x[5:9], texts[5:9])
    both = RawScores.concat([a, b])
    assert len(both) == 9 and np.array_equal(both.signals["knn"][5:], b.signals["knn"])
    mask = np.zeros(9, dtype=bool)
    mask[[1, 6]] = True
    assert np.array_equal(both.rows(mask).logits, both.logits[mask])


def trained(tmp_path: Path) -> tuple[EmbeddingIntentClassifier, np.ndarray, list[str], Path]:
    x, texts, y = data(1)
    clf = EmbeddingIntentClassifier(ClassifierConfig(epochs=2, layer_features=()))
    clf.fit(x, texts, list(y))
    clf.save(tmp_path / "model")
    return clf, x, texts, tmp_path / "model"


def test_models_saved_before_the_typed_head_still_load(tmp_path: Path) -> None:
    """Earlier versions also wrote the options into head.json and removed options into config.json."""
    clf, x, texts, directory = trained(tmp_path)
    head_json = directory / "head.json"
    meta = json.loads(head_json.read_text())
    meta.update(alpha=2.0, energy=True, layer_weight=1.0, knn_k=10, knn_classes=5, knn_vote=0.2, negative_k=1)
    head_json.write_text(json.dumps(meta))
    config_json = directory / "config.json"
    config = json.loads(config_json.read_text())
    config.update(joint_tfidf=True, outlier_exposure=0.0, ensemble=1)
    config_json.write_text(json.dumps(config))
    assert EmbeddingIntentClassifier.load(directory).predict(x, texts) == clf.predict(x, texts)


def test_a_model_with_the_removed_naive_bayes_head_is_refused(tmp_path: Path) -> None:
    _, _, _, directory = trained(tmp_path)
    np.save(directory / "head_nb_logp.npy", np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="naive Bayes text head.*supportbot train --force"):
        EmbeddingIntentClassifier.load(directory)

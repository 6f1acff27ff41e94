"""Unit tests of EmbeddingIntentClassifier on synthetic embedding clusters (no model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.layer_features import Encoded
from bot.nlu.classifier import ClassifierConfig, EmbeddingIntentClassifier, IntentPrediction

DIM = 32


def clusters(
    n_intents: int, per_intent: int, seed: int = 0, spread: float = 0.35
) -> tuple[np.ndarray, list[str], list[str], np.ndarray]:
    """Unit vectors scattered around one random centre per intent."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_intents, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = np.repeat(centres, per_intent, axis=0) + spread * rng.normal(size=(n_intents * per_intent, DIM)) / np.sqrt(DIM)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labels = [f"intent_{i}" for i in range(n_intents) for _ in range(per_intent)]
    texts = [f"{label} example {j}" for j, label in enumerate(labels)]
    return x.astype(np.float32), texts, labels, centres


def far_points(centres: np.ndarray, n: int, seed: int = 1) -> np.ndarray:
    """Unit vectors orthogonal-ish to every centre: far from all intents."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(centres.T)  # columns span the centres
    v = rng.normal(size=(n, DIM))
    v -= (v @ basis) @ basis.T
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v.astype(np.float32)


@pytest.fixture(scope="module")
def trained() -> tuple[EmbeddingIntentClassifier, np.ndarray, list[str], np.ndarray]:
    x, texts, labels, centres = clusters(8, 30)
    clf = EmbeddingIntentClassifier(ClassifierConfig(seed=0))
    clf.fit(x, texts, labels)
    return clf, x, texts, centres


def test_ranking_sorted_and_sums_to_one(trained: tuple) -> None:  # type: ignore[type-arg]
    clf, x, texts, _ = trained
    preds = clf.predict(x[:20], texts[:20])
    assert len(preds) == 20
    for p in preds:
        assert isinstance(p, IntentPrediction)
        probs = [s for _, s in p.ranking]
        assert probs == sorted(probs, reverse=True)
        assert sum(probs) == pytest.approx(1.0, abs=1e-4)
        assert {name for name, _ in p.ranking} == set(clf.labels)


def test_training_examples_are_classified(trained: tuple) -> None:  # type: ignore[type-arg]
    clf, x, texts, _ = trained
    labels = [f"intent_{i}" for i in range(8) for _ in range(30)]
    preds = clf.predict(x, texts)
    acc = np.mean([p.ranking[0][0] == y for p, y in zip(preds, labels, strict=True)])
    assert acc > 0.95
    assert np.mean([p.abstain for p in preds]) < 0.1


def test_abstains_on_far_away_points(trained: tuple) -> None:  # type: ignore[type-arg]
    clf, x, texts, centres = trained
    far = far_points(centres, 20)
    preds = clf.predict(far, ["far"] * 20)
    assert all(p.abstain for p in preds)
    near = clf.predict(x[:20], texts[:20])
    assert min(p.oos_score for p in near) > max(p.oos_score for p in preds)


def test_save_load_round_trip(trained: tuple, tmp_path: Path) -> None:  # type: ignore[type-arg]
    clf, x, texts, centres = trained
    clf.save(tmp_path / "model")
    loaded = EmbeddingIntentClassifier.load(tmp_path / "model")
    probe = np.vstack([x[:10], far_points(centres, 5)])
    names = texts[:10] + ["far"] * 5
    assert loaded.labels == clf.labels
    assert loaded.predict(probe, names) == clf.predict(probe, names)


def test_deterministic_given_seed() -> None:
    x, texts, labels, _ = clusters(5, 20, seed=3)
    a = EmbeddingIntentClassifier(ClassifierConfig(seed=7))
    b = EmbeddingIntentClassifier(ClassifierConfig(seed=7))
    ra = a.fit(x, texts, labels)
    rb = b.fit(x, texts, labels)
    ra.pop("train_seconds")
    rb.pop("train_seconds")
    assert ra == rb
    assert a.predict(x, texts) == b.predict(x, texts)


def test_tiny_data_degrades_gracefully() -> None:
    x, texts, labels, _ = clusters(2, 3, seed=5)
    clf = EmbeddingIntentClassifier()
    report = clf.fit(x, texts, labels)
    assert report["n_intents"] == 2
    preds = clf.predict(x, texts)
    assert [p.ranking[0][0] for p in preds] == labels


def test_one_example_per_intent_uses_defaults() -> None:
    x, texts, labels, _ = clusters(3, 1, seed=6)
    clf = EmbeddingIntentClassifier()
    report = clf.fit(x, texts, labels)
    assert report["fitted_on_defaults"] == 1.0
    assert len(clf.predict(x, texts)) == 3


def test_val_and_explicit_oos_examples() -> None:
    x, texts, labels, centres = clusters(6, 25, seed=8)
    oos = far_points(centres, 15, seed=9)
    tx = np.vstack([x[::2], oos[:8]])
    ty = labels[::2] + ["oos"] * 8
    vx = np.vstack([x[1::2], oos[8:]])
    vy = labels[1::2] + ["out_of_scope"] * 7
    clf = EmbeddingIntentClassifier()
    report = clf.fit(tx, [""] * len(ty), ty, val=(vx, [""] * len(vy), vy))
    assert report["fitted_on_val"] == 1.0
    assert "oos" not in clf.labels and "out_of_scope" not in clf.labels
    preds = clf.predict(vx, [""] * len(vy))
    assert all(p.abstain for p in preds[-7:])


def test_generic_negatives_through_embed() -> None:
    x, texts, labels, centres = clusters(4, 20, seed=10)
    far = far_points(centres, 400, seed=11)
    calls: list[int] = []

    def embed(batch: object) -> Encoded:
        n = len(batch)  # type: ignore[arg-type]
        calls.append(n)
        return Encoded(far[:n])

    clf = EmbeddingIntentClassifier()
    report = clf.fit(x, texts, labels, embed=embed)
    assert calls and report["n_negatives"] > 0


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (["a"] * 4, "at least 2 intents"),
        (["oos", "oos", "a", "a"], "at least 2 intents"),
    ],
)
def test_error_names_problem_and_fix(labels: list[str], message: str) -> None:
    x = np.eye(4, DIM, dtype=np.float32)
    with pytest.raises(ValueError, match=message) as err:
        EmbeddingIntentClassifier().fit(x, ["t"] * 4, labels)
    assert "add examples" in str(err.value)


def test_shape_mismatch_and_unfitted() -> None:
    x, texts, labels, _ = clusters(2, 4)
    with pytest.raises(ValueError, match="one text per embedding"):
        EmbeddingIntentClassifier().fit(x, texts[:-1], labels)
    with pytest.raises(ValueError, match="before fit"):
        EmbeddingIntentClassifier().predict(x, texts)


def test_hand_written_tfidf_matches_sklearn() -> None:
    import scipy.sparse as sp

    from bot.nlu._classifier_features import TfidfFeatures

    train = ["How do I reset my PIN?", "reset pin please", "Where is my card", "card not arrived yet!!"] * 3
    features, fitted = TfidfFeatures.fit_transform(train, char_min_df=2)
    probe = [*train, "", "   ", "ÉCOLE  Straße, pin?", "a", "unseen words only zzz"]
    ours = features.transform(probe)
    ref = sp.hstack([v.transform(probe) for v in features.vectorizers], format="csr") / np.sqrt(2)
    assert ours.shape == ref.shape
    assert abs(ours - ref).max() < 1e-6
    assert abs(fitted - features.transform(train)).max() < 1e-6


def test_single_message_prediction_matches_batch(trained: tuple) -> None:  # type: ignore[type-arg]
    clf, x, texts, _ = trained
    batch = clf.predict(x[:5], texts[:5])
    for i in range(5):
        (one,) = clf.predict(x[i : i + 1], texts[i : i + 1])
        assert one.ranking[0][0] == batch[i].ranking[0][0]
        assert one.oos_score == pytest.approx(batch[i].oos_score, abs=1e-5)


def test_joint_tfidf_mode_trains_and_round_trips(tmp_path: Path) -> None:
    x, texts, labels, _ = clusters(4, 15, seed=12)
    clf = EmbeddingIntentClassifier(ClassifierConfig(joint_tfidf=True, epochs=2))
    clf.fit(x, texts, labels)
    clf.save(tmp_path / "joint")
    loaded = EmbeddingIntentClassifier.load(tmp_path / "joint")
    assert loaded.predict(x[:6], texts[:6]) == clf.predict(x[:6], texts[:6])


@pytest.mark.parametrize("overrides", [{"knn_k": 0}, {"knn_classes": 0}, {"knn_classes": 2, "knn_k": 50}])
def test_knn_settings_still_separate_far_points(overrides: dict[str, int]) -> None:
    x, texts, labels, centres = clusters(6, 20, seed=13)
    clf = EmbeddingIntentClassifier(ClassifierConfig(**overrides))  # type: ignore[arg-type]
    clf.fit(x, texts, labels)
    near = clf.predict(x[:20], texts[:20])
    far = clf.predict(far_points(centres, 10, seed=14), ["far"] * 10)
    assert min(p.oos_score for p in near) > max(p.oos_score for p in far)


def test_negative_knn_k_is_refused() -> None:
    with pytest.raises(ValueError, match="knn_k must be >= 0"):
        ClassifierConfig(knn_k=-1)

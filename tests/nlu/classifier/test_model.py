"""Unit tests of EmbeddingIntentClassifier (`bot.nlu.classifier.model`) on synthetic embedding clusters (no model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.encoding import Encoded
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


def test_single_message_prediction_matches_batch(trained: tuple) -> None:  # type: ignore[type-arg]
    clf, x, texts, _ = trained
    batch = clf.predict(x[:5], texts[:5])
    for i in range(5):
        (one,) = clf.predict(x[i : i + 1], texts[i : i + 1])
        assert one.ranking[0][0] == batch[i].ranking[0][0]
        assert one.oos_score == pytest.approx(batch[i].oos_score, abs=1e-5)


def test_tfidf_head_trains_and_round_trips(tmp_path: Path) -> None:
    x, texts, labels, _ = clusters(4, 15, seed=12)
    clf = EmbeddingIntentClassifier(ClassifierConfig(epochs=2))
    clf.fit(x, texts, labels)
    clf.save(tmp_path / "tfidf")
    loaded = EmbeddingIntentClassifier.load(tmp_path / "tfidf")
    assert loaded.predict(x[:6], texts[:6]) == clf.predict(x[:6], texts[:6])


@pytest.mark.parametrize("overrides", [{"knn_k": 0}, {"knn_classes": 0}, {"knn_classes": 2, "knn_k": 50}])
def test_knn_settings_still_separate_far_points(overrides: dict[str, int]) -> None:
    x, texts, labels, centres = clusters(6, 20, seed=13)
    clf = EmbeddingIntentClassifier(ClassifierConfig(**overrides))  # type: ignore[arg-type]
    clf.fit(x, texts, labels)
    near = clf.predict(x[:20], texts[:20])
    far = clf.predict(far_points(centres, 10, seed=14), ["far"] * 10)
    assert min(p.oos_score for p in near) > max(p.oos_score for p in far)


def layered(seed: int = 20) -> tuple[np.ndarray, list[str], list[str], dict[str, np.ndarray]]:
    """Four intents in two embedding clusters (intent_0 and intent_1 share one, intent_2 and intent_3
    the other): only the layer feature `mean_layer4` tells the two intents of a cluster apart."""
    rng = np.random.default_rng(seed)
    x, _, _, _ = clusters(2, 120, seed=seed)
    labels = [f"intent_{i}" for i in range(4) for _ in range(60)]
    side = np.repeat(rng.normal(size=(4, DIM)), 60, axis=0) + 0.3 * rng.normal(size=(240, DIM))
    return x, [""] * 240, labels, {"mean_layer4": side.astype(np.float32)}


def test_layer_features_separate_intents_the_embedding_cannot(tmp_path: Path) -> None:
    all_x, all_texts, all_labels, all_layers = layered()
    x, texts, labels = all_x[::2], all_texts[::2], all_labels[::2]
    layers = {"mean_layer4": all_layers["mean_layer4"][::2]}
    cfg = ClassifierConfig(layer_features=("mean_layer4",), use_tfidf=False)
    plain = EmbeddingIntentClassifier(cfg)
    plain.fit(x, texts, labels)  # no layers given: the embedding only
    assert plain.layer_names == ()
    with_layers = EmbeddingIntentClassifier(cfg)
    report = with_layers.fit(x, texts, labels, layers=layers)
    assert with_layers.layer_names == ("mean_layer4",) and report["n_layer_features"] == 1.0
    test_layers = {"mean_layer4": all_layers["mean_layer4"][1::2]}

    def accuracy(clf: EmbeddingIntentClassifier, given: dict[str, np.ndarray] | None) -> float:
        preds = clf.predict(all_x[1::2], all_texts[1::2], given)
        return float(np.mean([p.intent == y for p, y in zip(preds, all_labels[1::2], strict=True)]))

    assert accuracy(plain, None) < 0.7  # a coin flip inside each pair of intents
    assert accuracy(with_layers, test_layers) > 0.95
    with_layers.save(tmp_path / "layered")
    loaded = EmbeddingIntentClassifier.load(tmp_path / "layered")
    assert loaded.layer_names == ("mean_layer4",)
    assert loaded.predict(x[:10], texts[:10], layers={"mean_layer4": layers["mean_layer4"][:10]}) == (
        with_layers.predict(x[:10], texts[:10], layers={"mean_layer4": layers["mean_layer4"][:10]})
    )
    with pytest.raises(ValueError, match="'mean_layer4' .*encode_with_layers"):
        loaded.predict(x[:2], texts[:2])


def test_val_needs_layer_features_when_training_has_them() -> None:
    x, texts, labels, layers = layered()
    clf = EmbeddingIntentClassifier(ClassifierConfig(layer_features=("mean_layer4",)))
    with pytest.raises(ValueError, match="pass val_layers"):
        clf.fit(x, texts, labels, layers=layers, val=(x, texts, labels))


def test_messages_like_known_negatives_score_as_out_of_scope() -> None:
    """The negative bank: a message close to a known out-of-scope example (and far from none of the
    intents' examples in a way the other signals see) gets a lower OOS score with the bank than without."""
    x, texts, labels, centres = clusters(5, 30, seed=21)
    # known out-of-scope examples sit *between* two intents, where the other signals are unsure
    rng = np.random.default_rng(23)
    between = (centres[0] + centres[1]) / 2 + 0.05 * rng.normal(size=(40, DIM))
    between /= np.linalg.norm(between, axis=1, keepdims=True)
    tx = np.vstack([x, between[:20]]).astype(np.float32)
    ty = labels + ["oos"] * 20
    scores = {}
    for k in (0, 1):
        clf = EmbeddingIntentClassifier(ClassifierConfig(negative_k=k, use_tfidf=False))
        report = clf.fit(tx, [""] * len(ty), ty)
        assert report["n_negatives"] == 20
        near_neg = np.asarray([p.oos_score for p in clf.predict(between[20:].astype(np.float32), [""] * 20)])
        in_scope = np.asarray([p.oos_score for p in clf.predict(x, [""] * len(x))])
        scores[k] = float((near_neg.mean() - in_scope.mean()) / in_scope.std())  # in in-scope sds
    assert scores[1] < scores[0] - 1.0


def test_knn_vote_changes_the_ranking_not_the_oos_score() -> None:
    x, texts, labels, centres = clusters(6, 20, seed=24)
    probe = np.vstack([x[::7], far_points(centres, 5, seed=25)])
    plain = EmbeddingIntentClassifier(ClassifierConfig(knn_vote=0.0))
    voted = EmbeddingIntentClassifier(ClassifierConfig(knn_vote=0.5))
    plain.fit(x, texts, labels)
    voted.fit(x, texts, labels)
    a = plain.predict(probe, ["p"] * len(probe))
    b = voted.predict(probe, ["p"] * len(probe))
    assert [p.oos_score for p in a] == pytest.approx([p.oos_score for p in b], abs=1e-5)
    assert any(pa.confidence != pytest.approx(pb.confidence, abs=1e-4) for pa, pb in zip(a, b, strict=True))


def test_layer_features_are_chosen_on_held_out_accuracy() -> None:
    """With two candidate features, one informative and one noise, the held-out choice keeps the
    informative one; with only noise, the embedding alone (fewest features on a tie)."""
    x, texts, labels, layers = layered()
    rng = np.random.default_rng(30)
    both = {"mean_layer4": layers["mean_layer4"], "max_layer6": rng.normal(size=(len(x), DIM)).astype(np.float32)}
    clf = EmbeddingIntentClassifier(ClassifierConfig(use_tfidf=False))
    report = clf.fit(x, texts, labels, layers=both)
    assert "mean_layer4" in clf.layer_names
    assert report["heldout_top1_mean_layer4"] > report["heldout_top1_embedding"] + 0.2
    assert {k for k in report if k.startswith("heldout_top1_")} == {
        "heldout_top1_embedding",
        "heldout_top1_mean_layer4",
        "heldout_top1_max_layer6",
        "heldout_top1_mean_layer4+max_layer6",
    }
    # a separable data set where the layer feature is pure noise: no feature is worth keeping
    cx, ctexts, clabels, _ = clusters(4, 30, seed=31)
    noise = {"mean_layer4": rng.normal(size=(len(cx), DIM)).astype(np.float32)}
    plain = EmbeddingIntentClassifier(ClassifierConfig(layer_features=("mean_layer4",), use_tfidf=False))
    plain.fit(cx, ctexts, clabels, layers=noise)
    assert plain.layer_names == ()
    fixed = EmbeddingIntentClassifier(
        ClassifierConfig(layer_features=("mean_layer4",), select_layer_features=False, use_tfidf=False)
    )
    fixed.fit(cx, ctexts, clabels, layers=noise)
    assert fixed.layer_names == ("mean_layer4",)

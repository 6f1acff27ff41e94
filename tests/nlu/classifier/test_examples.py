"""The classifier's inputs, checked once, and the negatives (`bot.nlu.classifier.examples`)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.encoding import Encoded
from bot.nlu.classifier import ClassifierConfig
from bot.nlu.classifier.examples import Examples, Negatives, check_embeddings

OOS = frozenset({"oos", "out_of_scope"})


def test_out_of_scope_labels_are_marked_and_layers_kept() -> None:
    x = np.eye(4, 8, dtype=np.float64)
    layers = {"mean_layer4": np.ones((4, 3)), "max_layer6": np.zeros((4, 2))}
    data = Examples.check(
        "training data", x, ["a", "b", "c", "d"], ["x", "oos", "y", "x"], layers, ["mean_layer4"], OOS
    )
    assert data.x.dtype == np.float32 and list(data.is_oos) == [False, True, False, False]
    assert list(data.layers) == ["mean_layer4"] and data.layers["mean_layer4"].dtype == np.float32
    assert data.in_scope.tolist() == [0, 2, 3] and data.intents() == ["x", "y"]


@pytest.mark.parametrize(
    ("embeddings", "texts", "labels", "message"),
    [
        (np.zeros(8), ["a"], ["x"], "must be a 2-d array"),
        (np.zeros((2, 8)), ["a"], ["x", "y"], "2 embeddings but 1 texts: pass one text per embedding row"),
        (np.zeros((2, 8)), ["a", "b"], ["x"], "2 embeddings but 1 labels: pass one label per embedding row"),
    ],
)
def test_errors_name_the_mismatch_and_the_fix(
    embeddings: np.ndarray, texts: list[str], labels: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Examples.check("val", embeddings, texts, labels, None, (), OOS)


def test_a_missing_layer_feature_names_the_fix() -> None:
    with pytest.raises(ValueError, match="'max_layer6' .*encode_with_layers"):
        Examples.check("val", np.zeros((1, 4)), ["a"], ["x"], {}, ["max_layer6"], OOS)
    assert check_embeddings(np.zeros((1, 4)), ["a"], "predict input").shape == (1, 4)


def test_negatives_are_the_own_oos_examples_then_the_generic_corpus() -> None:
    x = np.eye(3, 6, dtype=np.float32)
    data = Examples.check("training data", x, ["hi", "weather?", "bye"], ["greet", "oos", "bye"], None, (), OOS)

    def embed(texts: object) -> Encoded:
        n = len(texts)  # type: ignore[arg-type]
        return Encoded(np.tile(np.eye(1, 6, 5, dtype=np.float32), (n, 1)))  # far from every example

    without = Negatives.collect(data, ClassifierConfig(), None)
    assert len(without) == 1 and without.texts == ["weather?"] and without.own_texts == ["weather?"]
    both = Negatives.collect(data, ClassifierConfig(), embed)
    assert len(both) > 100 and both.texts[0] == "weather?" and len(both.texts) == len(both)
    assert np.array_equal(both.all.vectors[0], x[1])
    assert len(Negatives.collect(data, ClassifierConfig(use_generic_oos=False), embed)) == 1

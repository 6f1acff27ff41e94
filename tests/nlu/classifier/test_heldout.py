"""Held-out data and the choice of layer features (`bot.nlu.classifier.heldout`)."""

from __future__ import annotations

import numpy as np

from bot.nlu.classifier.heldout import best, candidates, held_out_splits


def test_candidates_try_every_subset_fewest_features_first() -> None:
    assert candidates(("a", "b"), True) == [(), ("a",), ("b",), ("a", "b")]
    assert candidates(("a", "b"), False) == [("a", "b")]


def test_best_prefers_fewer_features_on_a_tie() -> None:
    assert best({(): 0.9, ("a",): 0.9, ("a", "b"): 0.95}) == ("a", "b")
    assert best({(): 0.9, ("a",): 0.9}) == ()


def test_splits_are_stratified_and_need_two_examples_per_intent() -> None:
    labels = np.asarray(["a"] * 6 + ["b"] * 3)
    splits = held_out_splits(labels, 0)
    assert len(splits) == 3  # as many folds as the smallest intent has examples
    for train, test in splits:
        assert set(labels[train]) == {"a", "b"} and len(set(train) & set(test)) == 0
    assert held_out_splits(np.asarray(["a", "a", "b"]), 0) == []

"""The threshold and margin fitted on held-out predictions (`bot.nlu.classifier.abstention`)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.nlu.classifier import ClassifierConfig
from bot.nlu.classifier.abstention import bagged_threshold, fit_abstention, fit_thresholds, top_gap


def held_out(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """900 in-scope examples (scores around 1, 95% right) and 100 out-of-scope ones (around -1)."""
    rng = np.random.default_rng(seed)
    is_oos = np.arange(1000) >= 900
    score = np.where(is_oos, -1.0, 1.0) + 0.5 * rng.normal(size=1000)
    correct = ~is_oos & (rng.random(1000) < 0.95)
    probs = np.tile([0.9, 0.1], (1000, 1))
    return probs, score, correct, is_oos


def test_without_oos_examples_the_threshold_rejects_the_allowed_share() -> None:
    probs, score, correct, is_oos = held_out()
    ins = ~is_oos
    threshold, margin, report = fit_abstention(
        probs[ins],
        score[ins],
        correct[ins],
        is_oos[ins],
        oos_weight=0.05,
        max_in_scope_rejection=0.02,
        fixed_threshold=None,
        fixed_margin=None,
    )
    assert (score[ins] < threshold).mean() == pytest.approx(0.02, abs=0.002)
    assert margin == 0.0 and set(report) == {"heldout_in_scope_acc"}


def test_with_oos_examples_the_threshold_sits_between_the_two_groups() -> None:
    probs, score, correct, is_oos = held_out()
    threshold, margin, report = fit_thresholds(probs, score, correct, is_oos, 0.1, ClassifierConfig())
    assert -1.0 < threshold < 1.0 and margin == 0.0
    assert report["heldout_oos_recall"] > 0.8 and report["heldout_in_scope_acc"] > 0.85
    fixed = fit_thresholds(probs, score, correct, is_oos, 0.1, ClassifierConfig(threshold=0.25, ambiguity_margin=0.5))
    assert fixed[:2] == (0.25, 0.5)


def test_bagged_threshold_is_reproducible() -> None:
    _, score, correct, is_oos = held_out(1)
    none = np.zeros(len(score), dtype=bool)
    assert bagged_threshold(score, correct, is_oos, none, 0.1, 51, 3) == bagged_threshold(
        score, correct, is_oos, none, 0.1, 51, 3
    )


def test_top_gap() -> None:
    assert top_gap(np.asarray([[0.7, 0.2, 0.1]])).tolist() == pytest.approx([0.5])
    assert top_gap(np.asarray([[1.0]])).tolist() == [1.0]

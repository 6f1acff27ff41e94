from __future__ import annotations

import numpy as np
import pytest

from bot.faq.thresholds import DEFAULT_THRESHOLDS, Thresholds, abstention_report, fit_thresholds, resolve_thresholds


def test_decide() -> None:
    t = Thresholds(answer=0.7, suggest=0.5)
    assert [t.decide(x) for x in (0.71, 0.7, 0.6, 0.49)] == ["answer", "answer", "suggest", "unknown"]


def test_resolve_prefers_settings_and_clips_suggest() -> None:
    assert resolve_thresholds(None, None) == DEFAULT_THRESHOLDS
    assert resolve_thresholds(0.5, 0.8) == Thresholds(answer=0.5, suggest=0.5)


def test_invalid_thresholds_quote_the_values() -> None:
    with pytest.raises(ValueError, match="suggest=0.9, answer=0.5"):
        Thresholds(answer=0.5, suggest=0.9)


def test_fit_separates_answerable_from_unanswerable() -> None:
    confidence = np.array([0.9, 0.85, 0.8, 0.75, 0.5, 0.45, 0.4, 0.7])
    answerable = np.array([True, True, True, True, False, False, False, True])
    correct = answerable & (confidence > 0.72)
    fitted = fit_thresholds(confidence, correct, answerable)
    assert fitted.answer == 0.75
    report = abstention_report(confidence, correct, answerable, fitted.answer)
    assert (report.right, report.abstained) == (1.0, 1.0)
    assert fitted.suggest == 0.45


def test_fit_answers_most_within_the_right_and_abstained_targets() -> None:
    # 20 answerable (18 right at high confidence, 2 wrong at 0.55), 10 unanswerable spread low.
    confidence = np.array([0.95 - 0.02 * k for k in range(18)] + [0.55, 0.55] + [0.1 * k for k in range(10)])
    answerable = np.array([True] * 20 + [False] * 10)
    correct = np.array([True] * 18 + [False] * 12)
    fitted = fit_thresholds(confidence, correct, answerable, min_right=0.9, min_abstained=0.75)
    report = abstention_report(confidence, correct, answerable, fitted.answer)
    assert report.right >= 0.9 and report.abstained >= 0.75
    # a lower threshold would break one of the targets
    lower = abstention_report(confidence, correct, answerable, fitted.answer - 0.011)
    assert lower.right < 0.9 or lower.abstained < 0.75

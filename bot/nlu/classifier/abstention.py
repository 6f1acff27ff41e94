"""Abstention: the OOS-score threshold and the ambiguity margin, fitted on held-out predictions.

A message is rejected (Rasa's ``nlu_fallback``) when its OOS score is below the threshold or its top
two intents are closer than the margin. Both are chosen to maximise in-scope accuracy + oos_weight x
oos recall on held-out data; the threshold is then steadied by bootstrap resamples (`bagged_threshold`).
"""

from __future__ import annotations

import numpy as np

from bot.nlu.classifier.config import ClassifierConfig

MARGINS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)


def top_gap(probs: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 probability of each row (1 with a single intent)."""
    if probs.shape[1] < 2:
        return np.ones(len(probs))
    top2 = np.sort(probs, axis=1)[:, -2:]
    return np.asarray(top2[:, 1] - top2[:, 0])


def threshold_candidates(score: np.ndarray) -> np.ndarray:
    """The thresholds tried: -inf (reject nothing) and the 0-60 % quantiles of the held-out scores."""
    return np.concatenate([[-np.inf], np.unique(np.quantile(score, np.linspace(0.0, 0.6, 301)))])


def fit_abstention(
    probs: np.ndarray,
    oos: np.ndarray,
    correct: np.ndarray,
    is_oos: np.ndarray,
    *,
    oos_weight: float,
    max_in_scope_rejection: float,
    fixed_threshold: float | None,
    fixed_margin: float | None,
) -> tuple[float, float, dict[str, float]]:
    """Choose (threshold, margin) on held-out predictions.

    With out-of-scope examples: maximise in-scope accuracy + oos_weight * oos recall.
    Without: the threshold rejects at most `max_in_scope_rejection` of in-scope examples
    and the margin stays 0 (nothing to trade it against).
    """
    gap = top_gap(probs)
    in_scope = ~is_oos
    if not is_oos.any():
        threshold = (
            fixed_threshold
            if fixed_threshold is not None
            else float(np.quantile(oos[in_scope], max_in_scope_rejection))
            if max_in_scope_rejection > 0
            else -np.inf
        )
        margin = fixed_margin if fixed_margin is not None else 0.0
        rejected = (oos < threshold) | (gap < margin)
        return threshold, margin, {"heldout_in_scope_acc": _mean(correct & ~rejected, in_scope)}

    thresholds = np.asarray([fixed_threshold]) if fixed_threshold is not None else threshold_candidates(oos)
    margins = np.asarray([fixed_margin] if fixed_margin is not None else MARGINS)
    best = (-np.inf, -np.inf, 0.0, 0.0, 0.0)
    n_in = max(int(in_scope.sum()), 1)
    n_oos = max(int(is_oos.sum()), 1)
    for m in margins:
        ambiguous = gap < m
        for t in thresholds:
            rejected = (oos < t) | ambiguous
            acc = float((correct & ~rejected & in_scope).sum()) / n_in
            rec = float((rejected & is_oos).sum()) / n_oos
            value = acc + oos_weight * rec
            if value > best[0] + 1e-12:
                best = (value, float(t), float(m), acc, rec)
    _, threshold, margin, acc, rec = best
    return threshold, margin, {"heldout_in_scope_acc": acc, "heldout_oos_recall": rec}


def bagged_threshold(
    score: np.ndarray,
    correct: np.ndarray,
    is_oos: np.ndarray,
    ambiguous: np.ndarray,
    oos_weight: float,
    n_boot: int,
    seed: int,
) -> float:
    """Median over bootstrap resamples (in-scope and oos resampled separately) of the threshold
    maximising in-scope accuracy + oos_weight * oos recall, over `threshold_candidates`.

    Examples are rejected when score < threshold or they are ambiguous (fixed margin).
    """
    rng = np.random.default_rng(seed)
    cand = threshold_candidates(score)
    # per example: the first candidate index that rejects it (score < cand[j] for j >= pos)
    pos = np.searchsorted(cand, score, side="right")
    n_c = len(cand)
    kept_ok = correct & ~ambiguous & ~is_oos  # counted while not rejected by the threshold
    oos_amb = is_oos & ambiguous  # rejected whatever the threshold
    oos_free = is_oos & ~ambiguous  # rejected once the threshold passes its score
    ins, oos = np.flatnonzero(~is_oos), np.flatnonzero(is_oos)
    picks = []
    for _ in range(n_boot):
        r = np.concatenate([rng.choice(ins, len(ins)), rng.choice(oos, len(oos))])
        w = np.bincount(r, minlength=len(score)).astype(np.float64)
        # accuracy at candidate j: kept_ok examples with pos > j (not yet rejected)
        acc_hist = np.bincount(pos, weights=w * kept_ok, minlength=n_c + 1)
        acc = acc_hist[::-1].cumsum()[::-1][1:] / len(ins)
        rec_hist = np.bincount(pos, weights=w * oos_free, minlength=n_c + 1)
        rec = (rec_hist.cumsum()[:n_c] + float((w * oos_amb).sum())) / len(oos)
        value = acc + oos_weight * rec
        picks.append(cand[int(np.argmax(value > value.max() - 1e-12))])
    return float(np.sort(picks)[len(picks) // 2])


def _mean(values: np.ndarray, mask: np.ndarray) -> float:
    return float(values[mask].mean()) if mask.any() else 0.0


def fit_thresholds(
    probs: np.ndarray,
    oos: np.ndarray,
    correct: np.ndarray,
    is_oos: np.ndarray,
    oos_weight: float,
    config: ClassifierConfig,
) -> tuple[float, float, dict[str, float]]:
    """(threshold, margin, held-out accuracy and recall) for held-out ranking probabilities `probs`,
    OOS scores `oos`, whether each top intent is `correct` and whether each example `is_oos`: the
    config's fixed values where given, else `fit_abstention`, the threshold then bagged
    (config.threshold_bootstrap resamples) when there are out-of-scope examples."""
    threshold, margin, report = fit_abstention(
        probs,
        oos,
        correct,
        is_oos,
        oos_weight=oos_weight,
        max_in_scope_rejection=config.max_in_scope_rejection,
        fixed_threshold=config.threshold,
        fixed_margin=config.ambiguity_margin,
    )
    if config.threshold_bootstrap > 0 and is_oos.any() and config.threshold is None:
        ambiguous = top_gap(probs) < margin
        threshold = bagged_threshold(
            oos, correct, is_oos, ambiguous, oos_weight, config.threshold_bootstrap, config.seed
        )
        rejected = (oos < threshold) | ambiguous
        report = {
            "heldout_in_scope_acc": float((correct & ~rejected)[~is_oos].mean()),
            "heldout_oos_recall": float(rejected[is_oos].mean()),
        }
    return threshold, margin, report

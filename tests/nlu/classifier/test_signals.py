"""Out-of-scope signals and the z-summed OOS score (`bot.nlu.classifier.signals`)."""

from __future__ import annotations

import numpy as np
import pytest

from bot.nlu.classifier.signals import NeighbourBank, fit_z, knn_similarity, negative_dissimilarity, oos_score


def test_negative_bank_skips_a_message_s_own_copy() -> None:
    bank = np.eye(3, 4, dtype=np.float32)
    rows = bank[:2].copy()
    assert negative_dissimilarity(rows, bank, 1, False).tolist() == [-1.0, -1.0]
    assert negative_dissimilarity(rows, bank, 1, True).tolist() == [0.0, 0.0]


def test_knn_among_the_top_intents_finds_the_same_neighbours_as_a_full_scan() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    idx = np.repeat(np.arange(4), 10)
    bank = NeighbourBank.build(x, idx, 4)
    logits = np.eye(4, dtype=np.float32)[idx] * 10  # each row's own intent ranks first
    near_top, vote_top = bank.similarity(x, logits, 3, 1, vote_temp=0.05)
    assert vote_top is not None and np.allclose(vote_top.sum(1), 1.0)
    assert (vote_top.argmax(1) == idx).all()  # the row itself is its own nearest neighbour
    near_all, vote_all = knn_similarity(x, bank.vectors, bank.start, logits, 3, 0)
    assert vote_all is None
    assert (near_all >= near_top - 1e-6).all()  # searching everything finds neighbours at least as near


def test_oos_score_sums_z_normalised_signals() -> None:
    signals = {"maxprob": np.asarray([0.5, 1.0]), "maha": np.asarray([-2.0, 0.0])}
    z = fit_z(signals)
    assert z["maxprob"] == pytest.approx((0.75, 0.25))
    assert oos_score(signals, z).tolist() == pytest.approx([-2.0, 2.0])
    assert oos_score(signals, {}).tolist() == pytest.approx([-1.5, 1.0])  # without statistics: as is

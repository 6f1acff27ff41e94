"""The head's numpy training (`bot.nlu.classifier.training`)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from bot.nlu.classifier import ClassifierConfig
from bot.nlu.classifier.training import one_cycle, train_softmax


def test_one_cycle_warms_up_then_anneals() -> None:
    lrs = [one_cycle(step, 100, 0.03)[0] for step in range(100)]
    peak = int(np.argmax(lrs))
    assert 25 <= peak <= 32 and lrs[0] < 0.03 / 20 and lrs[-1] < 1e-5
    assert one_cycle(0, 100, 0.03)[1] == 0.95  # momentum starts high


def test_separable_data_is_learned_with_and_without_tfidf() -> None:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    x = (np.eye(3, 6)[y] + 0.1 * rng.normal(size=(60, 6))).astype(np.float32)
    config = ClassifierConfig(epochs=3, batch_size=16)
    dense, bias, sparse = train_softmax(x, y, 3, config)
    assert sparse is None and ((x @ dense.T + bias).argmax(1) == y).mean() == 1.0
    tfidf = sp.csr_matrix(np.eye(3, dtype=np.float32)[y])
    again, _, sparse = train_softmax(x, y, 3, config, tfidf)
    assert sparse is not None and sparse.shape == (3, 3) and (sparse.argmax(1) == np.arange(3)).all()
    assert not np.array_equal(again, dense)  # the n-gram weights share the work

"""TF-IDF features (`bot.nlu.classifier.features`)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from bot.nlu.classifier.features import TfidfFeatures


def test_hand_written_tfidf_matches_sklearn() -> None:
    train = ["How do I reset my PIN?", "reset pin please", "Where is my card", "card not arrived yet!!"] * 3
    features, fitted = TfidfFeatures.fit_transform(train, char_min_df=2)
    probe = [*train, "", "   ", "ÉCOLE  Straße, pin?", "a", "unseen words only zzz"]
    ours = features.transform(probe)
    ref = sp.hstack([v.transform(probe) for v in features.vectorizers], format="csr") / np.sqrt(2)
    assert ours.shape == ref.shape
    assert abs(ours - ref).max() < 1e-6
    assert abs(fitted - features.transform(train)).max() < 1e-6


def test_blank_texts_give_no_vocabulary() -> None:
    features, matrix = TfidfFeatures.fit_transform(["", "  "], char_min_df=2)
    assert features.vectorizers == [] and features.row("anything") == ([], [])
    assert matrix.shape[0] == 2 and matrix.nnz == 0

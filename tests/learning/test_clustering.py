"""Similar messages are grouped by scikit-learn's agglomerative clustering on their embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from bot.encoding import FakeEncoder
from bot.learning.clustering import cluster


def test_paraphrases_group_and_others_stay_apart() -> None:
    texts = [
        "do you sell gift vouchers for weddings",
        "wheres my stuff",
        "do you sell gift vouchers for a wedding",
        "wheres my stuff at",
        "opening hours on sunday",
    ]
    groups = cluster(FakeEncoder(dim=256).encode(texts), 0.3)
    assert sorted(sorted(g) for g in groups) == [[0, 2], [1, 3], [4]]
    assert len(groups[-1]) == 1  # biggest first


def test_the_distance_decides_how_much_is_grouped() -> None:
    vectors = FakeEncoder(dim=256).encode(["gift vouchers", "gift cards", "vouchers for gifts", "parcel tracking"])
    assert len(cluster(vectors, 0.05)) == 4
    assert len(cluster(vectors, 1.99)) == 1


def test_edge_cases() -> None:
    assert cluster(np.zeros((0, 4), dtype=np.float32)) == []
    assert cluster(np.ones((1, 4), dtype=np.float32)) == [[0]]
    zero_and_two = np.array([[0, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]], dtype=np.float32)
    assert cluster(zero_and_two) == [[1, 2], [0]]  # a message without an embedding stays alone
    with pytest.raises(ValueError, match="cluster distance must be > 0"):
        cluster(zero_and_two, 0)

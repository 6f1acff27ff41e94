"""Grouping similar messages: scikit-learn's agglomerative clustering on their embeddings.

Average linkage over cosine distance with a distance threshold (`learning_cluster_distance`): two groups merge
while their messages are, on average, closer than the threshold, so the number of groups follows the data. A
message without a usable embedding (all zeros) stays alone.
"""

from __future__ import annotations

import numpy as np

DEFAULT_DISTANCE = 0.3


def cluster(vectors: np.ndarray, distance: float = DEFAULT_DISTANCE) -> list[list[int]]:
    """Row indices of `vectors` grouped; biggest group first, then in order of first member."""
    if distance <= 0:
        raise ValueError(f"the cluster distance must be > 0 (cosine distance, e.g. 0.3); got {distance}")
    n = len(vectors)
    if n == 0:
        return []
    norms = np.linalg.norm(vectors, axis=1) if n else np.zeros(0)
    usable = [i for i in range(n) if norms[i] > 0]
    groups: list[list[int]] = [[i] for i in range(n) if norms[i] == 0]
    if len(usable) == 1:
        groups.append(usable)
    elif usable:
        from sklearn.cluster import AgglomerativeClustering

        labels = AgglomerativeClustering(
            n_clusters=None, metric="cosine", linkage="average", distance_threshold=distance
        ).fit_predict(vectors[usable])
        by_label: dict[int, list[int]] = {}
        for index, label in zip(usable, labels, strict=True):
            by_label.setdefault(int(label), []).append(index)
        groups.extend(by_label.values())
    groups.sort(key=lambda g: (-len(g), g[0]))
    return groups

"""Vector indexes: the `VectorIndex` protocol, `FaissIndex` (real) and `NumpyIndex` (in-memory fake).

Vectors are L2-normalised, so inner product = cosine. Ids are int64 chosen by the caller.
`FaissIndex` is exact (IndexIDMap2 over IndexFlatIP): ample below ~50k vectors; above that an
IVF or HNSW index would be the next step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class VectorIndex(Protocol):
    @property
    def dim(self) -> int: ...

    def __len__(self) -> int: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n_queries, k), best first; missing results have id -1."""
        ...

    def save(self, path: Path) -> None: ...


def _check(ids: np.ndarray, vectors: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise ValueError(f"vectors must have shape (n, {dim}); got {vectors.shape}")
    if len(ids) != len(vectors):
        raise ValueError(f"got {len(ids)} ids for {len(vectors)} vectors")
    return ids, vectors


class FaissIndex:
    """Exact inner-product search with FAISS and caller-chosen int64 ids."""

    def __init__(self, dim: int, *, threads: int | None = 1) -> None:
        """`threads` sets FAISS's OpenMP threads (process-wide): 1 is fastest for one query at a time,
        where thread start-up costs ~10x the search on a busy 2-core machine. None leaves it alone."""
        import faiss

        if threads is not None:
            faiss.omp_set_num_threads(threads)
        if dim <= 0:
            raise ValueError(f"dim must be greater than 0. Currently, dim is {dim}")
        self._dim = dim
        self._index: Any = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @property
    def dim(self) -> int:
        return self._dim

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids, vectors = _check(ids, vectors, self._dim)
        if len(ids):
            self._index.add_with_ids(vectors, ids)

    def remove(self, ids: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        if len(ids):
            self._index.remove_ids(ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if k <= 0:
            raise ValueError(f"k must be greater than 0. Currently, k is {k}")
        scores, ids = self._index.search(queries, k)
        return scores, ids

    def save(self, path: Path) -> None:
        import faiss

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        faiss.write_index(self._index, str(tmp))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> FaissIndex:
        import faiss

        inner = faiss.read_index(str(path))
        index = cls.__new__(cls)
        index._dim = int(inner.d)
        index._index = inner
        return index


class NumpyIndex:
    """Brute-force in-memory index with the same behaviour; the fake for unit tests."""

    def __init__(self, dim: int) -> None:
        self._dim = dim
        self._ids = np.zeros(0, dtype=np.int64)
        self._vectors = np.zeros((0, dim), dtype=np.float32)

    @property
    def dim(self) -> int:
        return self._dim

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids, vectors = _check(ids, vectors, self._dim)
        self.remove(ids)
        self._ids = np.concatenate([self._ids, ids])
        self._vectors = np.vstack([self._vectors, vectors])

    def remove(self, ids: np.ndarray) -> None:
        keep = ~np.isin(self._ids, np.asarray(ids, dtype=np.int64))
        self._ids, self._vectors = self._ids[keep], self._vectors[keep]

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        n = len(queries)
        scores = np.full((n, k), -np.inf, dtype=np.float32)
        ids = np.full((n, k), -1, dtype=np.int64)
        if len(self._ids):
            sims = queries @ self._vectors.T
            top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
            m = top.shape[1]
            scores[:, :m] = np.take_along_axis(sims, top, axis=1)
            ids[:, :m] = self._ids[top]
        return scores, ids

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            np.savez(fh, ids=self._ids, vectors=self._vectors)

    @classmethod
    def load(cls, path: Path) -> NumpyIndex:
        with np.load(path) as data:
            index = cls(int(data["vectors"].shape[1]))
            index._ids, index._vectors = data["ids"], data["vectors"]
        return index

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.faq.index import FaissIndex, NumpyIndex


@pytest.fixture(params=[FaissIndex, NumpyIndex])
def index_cls(request: pytest.FixtureRequest) -> type[FaissIndex] | type[NumpyIndex]:
    return request.param  # type: ignore[no-any-return]


def unit(rows: list[list[float]]) -> np.ndarray:
    v = np.asarray(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_add_search_remove_save_load(index_cls: type[FaissIndex] | type[NumpyIndex], tmp_path: Path) -> None:
    index = index_cls(3)
    index.add(np.array([10, 20, 30]), unit([[1, 0, 0], [0, 1, 0], [1, 1, 0]]))
    assert len(index) == 3
    scores, ids = index.search(unit([[1, 0.1, 0]]), 2)
    assert ids[0].tolist() == [10, 30] and scores[0][0] == pytest.approx(0.995, abs=1e-3)
    index.remove(np.array([10]))
    assert len(index) == 2
    _, ids = index.search(unit([[1, 0.1, 0]]), 5)
    assert ids[0].tolist()[:2] == [30, 20] and ids[0].tolist()[2:] == [-1, -1, -1]
    index.save(tmp_path / "index.bin")
    again = index_cls.load(tmp_path / "index.bin")
    assert len(again) == 2 and again.search(unit([[0, 1, 0]]), 1)[1][0].tolist() == [20]


def test_rejects_wrong_shapes(index_cls: type[FaissIndex] | type[NumpyIndex]) -> None:
    index = index_cls(3)
    with pytest.raises(ValueError, match=r"vectors must have shape \(n, 3\); got \(1, 2\)"):
        index.add(np.array([1]), np.zeros((1, 2), dtype=np.float32))

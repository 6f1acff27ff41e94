"""The fused BERT forward: the same vectors as the library's forward, and the library's forward for any
model it does not cover."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from bot.encoding.bert_forward import BertMeanPoolForward

TEXTS = [
    "hi",
    "where is my order AN-10001?",
    "I would like to return the wool coat I bought in Paris last week because it is far too small for me",
    "Wann öffnet ihr am Samstag in Berlin?",
    "🙂",
    "",
    "ok " * 300,  # longer than the model's 256 tokens: truncated the same way
]


def _module(name: str, **attrs: Any) -> object:
    """A stand-in for a sentence-transformers module: `for_model` looks at class names and attributes."""
    return type(name, (), attrs)()


def _bert(**config: Any) -> object:
    return _module("Transformer", auto_model=SimpleNamespace(config=SimpleNamespace(model_type="bert", **config)))


@pytest.mark.parametrize(
    "modules",
    [
        [
            _module("Transformer", auto_model=SimpleNamespace(config=SimpleNamespace(model_type="roberta"))),
            _module("Pooling", pooling_mode="mean"),
        ],
        [_bert(hidden_act="gelu"), _module("Pooling", pooling_mode="cls")],
        [_bert(hidden_act="relu"), _module("Pooling", pooling_mode="mean")],
        [_module("Transformer", auto_model=None), _module("Pooling", pooling_mode="mean")],
        [_bert(hidden_act="gelu"), _module("Pooling", pooling_mode="mean"), _module("Dense")],
    ],
    ids=["roberta", "cls-pooling", "relu", "no-hf-model", "extra-dense-layer"],
)
def test_other_architectures_keep_the_library_forward(modules: list[object]) -> None:
    assert BertMeanPoolForward.for_model(modules) is None


@pytest.mark.integration
def test_fused_forward_gives_the_library_vectors() -> None:
    from bot.encoding import SentenceTransformerEncoder

    fused = SentenceTransformerEncoder(fused=True, batch_size=4)
    library = SentenceTransformerEncoder(fused=False, batch_size=4)
    fused.warm_up()
    assert fused._fused is not None, "the default model should take the fused path"
    assert library.warm_up() is not None and library._fused is None
    batched = fused.encode(TEXTS)
    one_by_one = np.vstack([fused.encode([t]) for t in TEXTS])
    reference = library.encode(TEXTS)
    assert batched.shape == reference.shape == (len(TEXTS), 384)
    assert np.abs(batched - reference).max() < 1e-5
    assert np.abs(one_by_one - reference).max() < 1e-5
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)


@pytest.mark.integration
def test_encoder_restores_its_threads_after_faiss_changes_the_shared_openmp_count() -> None:
    """FAISS's omp_set_num_threads changes the OpenMP count torch shares; torch then ran attention ~3x
    slower until its own setter ran again. The encoder puts its thread count back before each pass."""
    import faiss
    import torch

    from bot.encoding import SentenceTransformerEncoder

    encoder = SentenceTransformerEncoder(threads=2)
    before = encoder.encode(TEXTS[:2])
    faiss.omp_set_num_threads(1)  # what FaissIndex does; whether torch sees it depends on the thread's state,
    torch.set_num_threads(1)  # so drift torch's count for sure as well
    after = encoder.encode(TEXTS[:2])
    assert torch.get_num_threads() == 2
    np.testing.assert_allclose(after, before, atol=1e-6)

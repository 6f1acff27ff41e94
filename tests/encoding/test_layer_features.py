"""Layer features: names, pooling, the `Encoded` value, and the encoders that give them (fake, cached, real)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.encoding import (
    CachedEncoder,
    Encoded,
    Encoder,
    FakeEncoder,
    LayerEncoder,
    LayerFeature,
    check_layers,
    encode_with_layers,
    parse_layer_feature,
    pool,
)
from bot.errors import ModelError

TEXTS = ["where is my order", "hello there", "can I return a coat bought in Berlin?"]
NAMES = ("mean_layer4", "max_layer6")


@pytest.mark.parametrize(
    ("name", "parsed"), [("mean_layer4", LayerFeature("mean", 4)), ("max_layer0", LayerFeature("max", 0))]
)
def test_names_parse(name: str, parsed: LayerFeature) -> None:
    assert parse_layer_feature(name) == parsed


@pytest.mark.parametrize("name", ["min_layer4", "mean_layer", "mean4", "MEAN_LAYER4", ""])
def test_bad_names_say_the_accepted_forms(name: str) -> None:
    with pytest.raises(ValueError, match="use mean_layer<k> or max_layer<k>"):
        parse_layer_feature(name)


def test_a_layer_beyond_the_model_is_refused_with_the_range() -> None:
    with pytest.raises(ValueError, match="has 6 layers: use a layer between 0 and 6"):
        check_layers(["mean_layer7"], 6)


def test_pooling_skips_padding() -> None:
    import torch

    hidden = torch.tensor([[[1.0, -1.0], [3.0, 5.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert pool(hidden, mask, "mean").tolist() == [[2.0, 2.0]]
    assert pool(hidden, mask, "max").tolist() == [[3.0, 5.0]]


def test_encoded_rows_only_and_stack() -> None:
    e = Encoded(np.arange(6, dtype=np.float32).reshape(3, 2), {"a": np.eye(3, dtype=np.float32), "b": np.ones((3, 1))})
    part = e.rows([2, 0])
    assert part.vectors.tolist() == [[4, 5], [0, 1]]
    assert part.layers["a"].tolist() == [[0, 0, 1], [1, 0, 0]]
    assert set(e.only(["b"]).layers) == {"b"}
    both = Encoded.stack([e.rows(slice(0, 1)), e.rows(slice(1, 3))], ["a"], 2)
    np.testing.assert_array_equal(both.vectors, e.vectors)
    np.testing.assert_array_equal(both.layers["a"], e.layers["a"])
    empty = Encoded.stack([], ["a"], 2)
    assert empty.vectors.shape == (0, 2) and len(empty) == 0


def test_fake_encoder_gives_deterministic_layer_features() -> None:
    fake = FakeEncoder(dim=16)
    assert isinstance(fake, LayerEncoder)
    one = fake.encode_layers(TEXTS, NAMES)
    two = FakeEncoder(dim=16).encode_layers(TEXTS, NAMES)
    np.testing.assert_array_equal(one.vectors, fake.encode(TEXTS))
    for name in NAMES:
        assert one.layers[name].shape == (3, 16)
        np.testing.assert_array_equal(one.layers[name], two.layers[name])
    assert not np.allclose(one.layers["mean_layer4"], one.layers["max_layer6"])


class PlainEncoder:
    """An encoder with no layer features."""

    fingerprint = "plain"
    dim = 4

    def encode(self, texts: object, *, progress: object = None) -> np.ndarray:
        return np.ones((len(texts), 4), dtype=np.float32)  # type: ignore[arg-type]


def test_an_encoder_without_layer_features_says_how_to_turn_them_off() -> None:
    plain = PlainEncoder()
    assert isinstance(plain, Encoder) and not isinstance(plain, LayerEncoder)
    assert encode_with_layers(plain, ["a"], ()).vectors.shape == (1, 4)
    with pytest.raises(ModelError, match="SUPPORTBOT_NLU_LAYER_FEATURES"):
        encode_with_layers(plain, ["a"], ["mean_layer4"])


class CountingFake(FakeEncoder):
    def __init__(self) -> None:
        super().__init__(dim=8)
        self.layer_calls: list[tuple[int, tuple[str, ...]]] = []

    def encode_layers(self, texts: object, names: object, *, progress: object = None) -> Encoded:
        self.layer_calls.append((len(texts), tuple(names)))  # type: ignore[arg-type]
        return super().encode_layers(texts, names)  # type: ignore[arg-type]


def test_cache_keeps_layer_features_and_encodes_only_what_is_missing(tmp_path: Path) -> None:
    inner = CountingFake()
    cached = CachedEncoder(inner, tmp_path / "cache.sqlite")
    first = cached.encode_layers(TEXTS[:2], ["mean_layer4"])
    assert inner.layer_calls == [(2, ("mean_layer4",))]
    # a new text, and a layer feature the cached texts lack: those texts go through one pass
    second = cached.encode_layers(TEXTS, NAMES)
    assert inner.layer_calls[1] == (3, NAMES)
    np.testing.assert_array_equal(second.layers["mean_layer4"][:2], first.layers["mean_layer4"])
    # everything cached now: no pass, same values, also after reopening the file
    cached.close()
    again = CachedEncoder(inner, tmp_path / "cache.sqlite").encode_layers(list(reversed(TEXTS)), NAMES)
    assert len(inner.layer_calls) == 2
    np.testing.assert_array_equal(again.layers["max_layer6"], second.layers["max_layer6"][::-1])
    np.testing.assert_array_equal(again.vectors, inner.encode(list(reversed(TEXTS))))


@pytest.mark.integration
def test_real_encoder_layer_features_come_from_the_same_pass_fused_or_not() -> None:
    from bot.encoding import SentenceTransformerEncoder

    fused = SentenceTransformerEncoder(fused=True, batch_size=2)
    library = SentenceTransformerEncoder(fused=False, batch_size=2)
    a = fused.encode_layers(TEXTS, NAMES)
    b = library.encode_layers(TEXTS, NAMES)
    assert fused._fused is not None and library._fused is None
    np.testing.assert_allclose(a.vectors, fused.encode(TEXTS), atol=1e-6)
    for name in NAMES:
        assert a.layers[name].shape == (3, 384)
        np.testing.assert_allclose(a.layers[name], b.layers[name], atol=1e-4)
    # the embedding is the normalised mean of the last layer: mean_layer6 gives it back
    last = fused.encode_layers(TEXTS, ["mean_layer6"]).layers["mean_layer6"]
    np.testing.assert_allclose(last / np.linalg.norm(last, axis=1, keepdims=True), a.vectors, atol=1e-5)
    one = fused.encode_layers(TEXTS[2:], NAMES)  # alone: no padding in the batch
    np.testing.assert_allclose(one.layers["max_layer6"], a.layers["max_layer6"][2:], atol=1e-4)
    with pytest.raises(ModelError, match="between 0 and 6"):
        fused.encode_layers(TEXTS, ["mean_layer9"])

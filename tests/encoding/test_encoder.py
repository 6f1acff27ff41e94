"""The `Encoder` protocol, the fake, the wrapper base and the on-disk cache: the basics every user relies on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.encoding import (
    CachedEncoder,
    Encoded,
    Encoder,
    EncoderWrapper,
    EncodingRequest,
    FakeEncoder,
    LayerEncoder,
    MicroBatchingEncoder,
    SentenceTransformerEncoder,
    build_encoder,
    layer_names_for,
)

TEXTS = ["where is my order", "where is my parcel", "do you sell wool coats?"]


class RenamedFake(FakeEncoder):
    """The same vectors under another model fingerprint."""

    @property
    def fingerprint(self) -> str:
        return "fake:renamed"


class PlainEncoder:
    """An encoder with no layer features."""

    fingerprint = "plain"
    dim = 4

    def encode(self, texts: object, *, progress: object = None) -> np.ndarray:
        return np.ones((len(texts), 4), dtype=np.float32)  # type: ignore[arg-type]


# -- the fake ------------------------------------------------------------------------------------------
def test_fake_vectors_are_normalised_float32_rows() -> None:
    vectors = FakeEncoder(dim=32).encode(TEXTS)
    assert vectors.shape == (3, 32) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)


def test_fake_is_deterministic_and_keyed_by_its_dimension() -> None:
    np.testing.assert_array_equal(FakeEncoder().encode(TEXTS), FakeEncoder().encode(TEXTS))
    assert FakeEncoder(dim=8).fingerprint != FakeEncoder(dim=16).fingerprint
    assert FakeEncoder(dim=8).dim == 8


def test_fake_puts_texts_sharing_words_closer() -> None:
    order, parcel, coats = FakeEncoder().encode(TEXTS)
    assert float(order @ parcel) > float(order @ coats)


def test_fake_encodes_nothing_and_reports_progress() -> None:
    fake = FakeEncoder(dim=8)
    assert fake.encode([]).shape == (0, 8)
    seen: list[int] = []
    fake.encode(TEXTS, progress=seen.append)
    assert seen == [3] and fake.calls == [0, 3]


# -- the protocol --------------------------------------------------------------------------------------
def test_every_encoder_here_meets_the_protocol(tmp_path: Path) -> None:
    fake = FakeEncoder()
    cached = CachedEncoder(fake, tmp_path / "cache.sqlite")
    batched = MicroBatchingEncoder(fake)
    try:
        for encoder in (fake, cached, batched):
            assert isinstance(encoder, Encoder) and isinstance(encoder, LayerEncoder)
    finally:
        batched.close()
    assert isinstance(PlainEncoder(), Encoder) and not isinstance(PlainEncoder(), LayerEncoder)


def test_layer_features_are_used_only_when_the_encoder_gives_them() -> None:
    assert layer_names_for(FakeEncoder(), ["mean_layer4"]) == ("mean_layer4",)
    assert layer_names_for(PlainEncoder(), ["mean_layer4"]) == ()


def test_an_encoding_request_is_a_frozen_value() -> None:
    request = EncodingRequest(("hi",), ("mean_layer4",))
    assert request == EncodingRequest(("hi",), ("mean_layer4",))
    with pytest.raises(AttributeError):
        request.texts = ("bye",)  # type: ignore[misc]


# -- the wrapper base ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["cached", "batched"])
def test_wrappers_keep_the_inner_model_and_its_vectors(tmp_path: Path, kind: str) -> None:
    fake = FakeEncoder(dim=16)
    wrapper: EncoderWrapper = (
        CachedEncoder(fake, tmp_path / "cache.sqlite") if kind == "cached" else MicroBatchingEncoder(fake)
    )
    try:
        assert wrapper.inner is fake
        assert (wrapper.fingerprint, wrapper.dim) == (fake.fingerprint, fake.dim)
        np.testing.assert_array_equal(wrapper.encode(TEXTS), fake.encode(TEXTS))
        encoded = wrapper.encode_layers(TEXTS, ["mean_layer4"])
        assert isinstance(encoded, Encoded) and set(encoded.layers) == {"mean_layer4"}
    finally:
        if isinstance(wrapper, MicroBatchingEncoder):
            wrapper.close()


def test_a_wrapper_must_say_how_it_encodes() -> None:
    class Incomplete(EncoderWrapper):
        pass

    with pytest.raises(TypeError, match="encode_layers"):
        Incomplete(FakeEncoder())  # type: ignore[abstract]


# -- the cache -----------------------------------------------------------------------------------------
def test_the_cache_encodes_each_distinct_text_once(tmp_path: Path) -> None:
    fake = FakeEncoder()
    cached = CachedEncoder(fake, tmp_path / "cache.sqlite")
    first = cached.encode([*TEXTS, TEXTS[0]])
    assert fake.calls == [3]
    seen: list[int] = []
    again = cached.encode(TEXTS, progress=seen.append)
    assert fake.calls == [3] and seen == [3]
    np.testing.assert_array_equal(again, first[:3])
    np.testing.assert_array_equal(first[3], first[0])


def test_the_cache_survives_a_reopen_and_misses_for_another_model(tmp_path: Path) -> None:
    file = tmp_path / "cache.sqlite"
    cached = CachedEncoder(FakeEncoder(), file)
    cached.encode(TEXTS)
    cached.close()
    fake = FakeEncoder()
    CachedEncoder(fake, file).encode(TEXTS)
    assert fake.calls == []
    renamed = RenamedFake()
    CachedEncoder(renamed, file).encode(TEXTS)
    assert renamed.calls == [3]


def test_the_cache_passes_an_empty_call_through(tmp_path: Path) -> None:
    cached = CachedEncoder(FakeEncoder(dim=8), tmp_path / "cache.sqlite")
    assert cached.encode([]).shape == (0, 8)
    assert not (tmp_path / "cache.sqlite").exists()


# -- building the configured encoder -------------------------------------------------------------------
def test_build_encoder_adds_the_cache_when_a_file_is_given_and_loads_nothing(tmp_path: Path) -> None:
    plain = build_encoder(str(tmp_path), threads=1, batch_size=8, cache_file=None)
    assert isinstance(plain, SentenceTransformerEncoder) and plain.path == tmp_path
    cached = build_encoder(str(tmp_path), threads=1, batch_size=8, cache_file=tmp_path / "cache.sqlite")
    assert isinstance(cached, CachedEncoder) and isinstance(cached.inner, SentenceTransformerEncoder)
    assert plain._model is None and not (tmp_path / "cache.sqlite").exists()

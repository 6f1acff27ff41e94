from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.encoding import FakeEncoder, ProgressCallback, encode_with_layers
from bot.errors import ModelError, NotTrainedError
from bot.sentiment.data import SentimentExample
from bot.sentiment.head import HeadConfig
from bot.sentiment.training import (
    POINTER,
    SentimentTrainingConfig,
    find_sentiment_model,
    load_sentiment_model,
    train_sentiment,
)

SUPPORT = [
    *(SentimentExample(t, "negative") for t in ["this is useless", "still waiting, terrible", "I'm furious", "awful"]),
    *(
        SentimentExample(t, "neutral")
        for t in ["where is my order", "opening hours", "AN-10001", "do you ship to Spain"]
    ),
    *(
        SentimentExample(t, "positive")
        for t in ["thank you so much", "great, perfect", "I love it", "wonderful service"]
    ),
]
CONFIG = SentimentTrainingConfig(head=HeadConfig(c=2.0, folds=2))


def test_training_saves_a_model_reused_until_the_data_changes(tmp_path: Path) -> None:
    encoder = FakeEncoder()
    first = train_sentiment(SUPPORT, encoder, tmp_path, config=CONFIG)
    assert first.trained and (first.path / "head.npz").exists()
    assert (tmp_path / POINTER).read_text() == first.path.name
    again = train_sentiment(SUPPORT, encoder, tmp_path, config=CONFIG)
    assert not again.trained and again.path == first.path
    changed = train_sentiment([*SUPPORT, SentimentExample("so slow", "negative")], encoder, tmp_path, config=CONFIG)
    assert changed.trained and changed.path != first.path
    assert find_sentiment_model(tmp_path) == changed.path
    assert find_sentiment_model(tmp_path, first.fingerprint) == first.path


def test_the_model_reads_the_layer_features_of_the_same_encoder_pass(tmp_path: Path) -> None:
    encoder = FakeEncoder()
    result = train_sentiment(SUPPORT, encoder, tmp_path, config=CONFIG)
    model = load_sentiment_model(result.path, encoder)
    assert model.layer_names == ("mean_layer4",)
    text = "I'm furious"
    encoded = encode_with_layers(encoder, [text], model.layer_names)
    sentiment = model.predict(text, encoded.vectors[0], encoded.layers)
    assert sentiment.label == "negative" and sentiment.score < 0
    assert sum(sentiment.probabilities) == pytest.approx(1.0)
    with pytest.raises(ModelError, match="mean_layer4"):
        model.predict(text, encoded.vectors[0])


def test_an_encoder_without_layer_features_trains_on_the_embedding_alone(tmp_path: Path) -> None:
    encoder = _PlainEncoder(FakeEncoder())
    model = load_sentiment_model(train_sentiment(SUPPORT, encoder, tmp_path, config=CONFIG).path, encoder)
    assert model.layer_names == ()
    assert model.predict("thank you so much", encoder.encode(["thank you so much"])[0]).label == "positive"


class _PlainEncoder:
    """An encoder that gives embeddings only (no `encode_layers`)."""

    def __init__(self, inner: FakeEncoder) -> None:
        self.inner = inner

    @property
    def fingerprint(self) -> str:
        return "plain:" + self.inner.fingerprint

    @property
    def dim(self) -> int:
        return self.inner.dim

    def encode(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> np.ndarray:
        return self.inner.encode(texts)


def test_a_model_of_another_encoder_is_refused(tmp_path: Path) -> None:
    result = train_sentiment(SUPPORT, FakeEncoder(32), tmp_path, config=CONFIG)
    with pytest.raises(ModelError, match="another encoder"):
        load_sentiment_model(result.path, FakeEncoder(64))


def test_nothing_trained_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NotTrainedError, match="supportbot train"):
        find_sentiment_model(tmp_path)


def test_one_label_only_is_refused_and_the_last_good_model_stays(tmp_path: Path) -> None:
    encoder = FakeEncoder()
    good = train_sentiment(SUPPORT, encoder, tmp_path, config=CONFIG)
    with pytest.raises(ModelError, match="at least two labels"):
        train_sentiment(SUPPORT[:4], encoder, tmp_path, config=CONFIG)
    assert find_sentiment_model(tmp_path) == good.path

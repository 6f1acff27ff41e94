"""The real model (MiniLM embedding + VADER), trained by the project's own pipeline on the repository's data."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.encoding import encode_with_layers

pytestmark = pytest.mark.integration

CLEAR = {
    "This is the third time I ask, where is my parcel?! Useless.": "negative",
    "I'm really disappointed, the coat arrived torn": "negative",
    "What are your opening hours in Berlin?": "neutral",
    "I'd like to return a pair of jeans": "neutral",
    "Thank you so much, that solved it!": "positive",
    "The dress is beautiful, I love it 😍": "positive",
}


def test_the_trained_model_gets_clear_sentences_right(real_settings: Settings) -> None:
    from bot.bootstrap import make_encoder
    from bot.sentiment.pipeline import load_for_settings, train_for_settings

    encoder = make_encoder(real_settings)
    result = train_for_settings(real_settings, encoder)
    assert result is not None and result.report["n_support"] >= 400
    model = load_for_settings(real_settings, encoder)
    assert model is not None and model.layer_names == ("mean_layer4",)
    texts = list(CLEAR)
    encoded = encode_with_layers(encoder, texts, model.layer_names)
    got = {t: model.predict(t, encoded.vectors[i], encoded.rows([i]).layers) for i, t in enumerate(texts)}
    assert {t: s.label for t, s in got.items()} == CLEAR
    assert all(s.score < -0.3 for t, s in got.items() if CLEAR[t] == "negative")
    assert all(s.score > 0.3 for t, s in got.items() if CLEAR[t] == "positive")
    assert train_for_settings(real_settings, encoder).trained is False  # unchanged data: reused

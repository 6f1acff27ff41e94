"""`Assistant` with a sentiment model: every customer turn gets one (in `HandleResult`, `ask --json`'s shape, the
user event and the metric); without a model, nothing changes. The reference bot (the session's real model)
with the fake `KeywordSentimentModel` in place of its sentiment model, for predictable labels."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.assistant import Assistant
from bot.sentiment import KeywordSentimentModel
from bot.types import Message
from server.observability import Metrics, record_turn


@pytest.fixture()
def assistant(real_serving: Any) -> Iterator[Assistant]:
    bot: Assistant = real_serving.assistant
    model, bot.sentiment = bot.sentiment, KeywordSentimentModel()
    try:
        yield bot
    finally:
        bot.sentiment = model


def test_the_turn_has_the_messages_sentiment(assistant: Assistant) -> None:
    result = assistant.handle_full(Message("angry-1", "this is terrible"))
    assert result.sentiment is not None and result.sentiment.label == "negative"
    data = result.as_json("this is terrible")
    assert data["sentiment"] == {"label": "negative", "score": -0.9}
    assert data["intent"]["name"] and data["replies"]
    users = [e for e in assistant.history("angry-1") if e.get("event") == "user"]
    assert users[-1]["parse_data"]["sentiment"]["label"] == "negative"


def test_a_button_payload_is_neutral(assistant: Assistant) -> None:
    result = assistant.handle_full(Message("button-1", "/greet"))
    assert result.sentiment is not None and result.sentiment.label == "neutral"


def test_a_frustrated_customer_is_acknowledged_and_offered_a_person(assistant: Assistant) -> None:
    assistant.handle_full(Message("angry-2", "my order is late"))
    result = assistant.handle_full(Message("angry-2", "this is ridiculous, where is my order"))
    texts = [r.text for r in result.replies]
    acknowledgements = {v["text"] for v in assistant.engine.domain.responses["utter_frustration_ack"]}
    assert texts[0] in acknowledgements
    assert any(b.payload == "/human_handoff" for r in result.replies for b in r.buttons)


def test_without_a_sentiment_model_there_is_none(assistant: Assistant) -> None:
    model, assistant.sentiment = assistant.sentiment, None
    try:
        result = assistant.handle_full(Message("calm-1", "this is terrible"))
    finally:
        assistant.sentiment = model
    assert result.sentiment is None
    assert "sentiment" not in result.as_json("this is terrible")


def test_the_encoding_request_asks_for_the_sentiment_models_layers(assistant: Assistant) -> None:
    class LayeredModel(KeywordSentimentModel):
        layer_names = ("mean_layer4", "max_layer6")

    model, assistant.sentiment = assistant.sentiment, LayeredModel()
    try:
        request = assistant.encoding_request(Message("s", "hello"))
    finally:
        assistant.sentiment = model
    assert request is not None
    assert set(request.layer_names) == {*assistant.nlu.layer_names, "mean_layer4", "max_layer6"}
    assert len(request.layer_names) == len(set(request.layer_names))


def test_the_metric_counts_sentiment_by_label(assistant: Assistant) -> None:
    metrics = Metrics()
    for text in ["this is terrible", "thanks, lovely", "hello"]:
        record_turn(metrics, assistant.handle_full(Message("metric-1", text)), channel="rest")
    page = metrics.render().decode()
    for label in ("negative", "positive", "neutral"):
        assert f'supportbot_sentiment_total{{label="{label}"}} 1.0' in page


def test_thumbs_down_on_an_answer_offers_other_answers_and_a_person(assistant: Assistant) -> None:
    result = assistant.handle_full(Message("voter-1", "how long does delivery to germany take?"))
    answer = next(r for r in result.replies if r.sources)
    replies = assistant.on_feedback("voter-1", answer.id, "down")
    assert len(replies) == 1
    titles = [b.title for b in replies[0].buttons]
    assert replies[0].buttons[-1].payload == "/human_handoff"
    assert 1 < len(titles) <= 4
    voted = {s.title for s in answer.sources}
    assert not voted & set(titles[:-1])  # the answer voted down is not offered again
    saved = [e for e in assistant.history("voter-1") if e.get("event") == "bot"]
    assert saved[-1]["text"] == replies[0].text


@pytest.mark.parametrize(("reply_id", "value"), [("real", "up"), ("no-such-reply", "down")])
def test_other_votes_get_no_reply(assistant: Assistant, reply_id: str, value: str) -> None:
    result = assistant.handle_full(Message("voter-2", "how long does delivery to germany take?"))
    answer_id = result.replies[0].id if reply_id == "real" else reply_id
    assert assistant.on_feedback("voter-2", answer_id, value) == []
    assert assistant.on_feedback("nobody-ever", answer_id, "down") == []

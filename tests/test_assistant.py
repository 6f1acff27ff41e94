"""`Assistant`: what it encodes for a message (`texts_to_encode`, `encoding_request`) and one turn
(`handle_full`), on the reference bot with the deterministic `FakeEncoder`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.assistant import Assistant
from bot.encoding import EncodingRequest
from bot.testing.fixtures import IsolatedDatabase, make_fake_assistant
from bot.types import Message

ROOT = Path(__file__).resolve().parents[1]
TWO_REQUESTS = "where is my order AN-10001? also what are your opening hours in Paris"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    folder = tmp_path_factory.mktemp("assistant")
    database = IsolatedDatabase(folder)
    database.open()
    try:
        yield make_fake_assistant(ROOT, folder / "state", knowledge=False)
    finally:
        database.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", ["hello"]),
        ("  hello  ", ["hello"]),
        (TWO_REQUESTS, [TWO_REQUESTS, "where is my order AN-10001?", "what are your opening hours in Paris"]),
        ("", []),
        ("   ", []),
        ("/restart", []),
        ('/inform{"time": "2026-12-22"}', []),
        ("x" * 2001, []),
    ],
)
def test_texts_to_encode(assistant: Assistant, text: str, expected: list[str]) -> None:
    assert assistant.texts_to_encode(text) == expected


def test_encoding_request_names_the_texts_and_the_layer_features(assistant: Assistant) -> None:
    request = assistant.encoding_request(Message("someone", TWO_REQUESTS))
    assert request is not None and request.texts == tuple(assistant.texts_to_encode(TWO_REQUESTS))
    sentiment = assistant.sentiment.layer_names if assistant.sentiment is not None else ()
    # what NLU reads and what the sentiment model reads, each once: one encoder pass serves both
    assert sorted(request.layer_names) == sorted({*assistant.nlu.layer_names, *sentiment})
    assert request == EncodingRequest(request.texts, assistant.layer_names)


@pytest.mark.parametrize("text", ["", "/restart", "x" * 2001])
def test_nothing_is_encoded_for_empty_commands_or_too_long_messages(assistant: Assistant, text: str) -> None:
    assert assistant.encoding_request(Message("someone", text)) is None


def test_handle_full_returns_the_parse_and_the_replies(assistant: Assistant) -> None:
    result = assistant.handle_full(Message("greeter", "hello"))
    assert result.parse is not None and result.parse.intent.name == "greet"
    assert result.replies and all(reply.text for reply in result.replies)
    state = assistant.tracker_store.load("greeter")
    assert state is not None and [e["text"] for e in state.events if e["event"] == "user"] == ["hello"]


def test_an_encoding_computed_before_the_turn_gives_the_same_parse(assistant: Assistant) -> None:
    """The server encodes `encoding_request(message)` first (micro-batched) and passes it in."""
    message = Message("encoded-first", TWO_REQUESTS)
    request = assistant.encoding_request(message)
    assert request is not None
    given = assistant.handle_full(message, assistant.encode(list(request.texts)))
    computed = assistant.handle_full(Message("encoded-here", TWO_REQUESTS))
    assert given.parse is not None and computed.parse is not None
    assert given.parse.intent == computed.parse.intent
    assert [r.text for r in given.replies] == [r.text for r in computed.replies]


@pytest.mark.parametrize(
    ("text", "response"),
    [
        ("", "utter_empty_message"),
        ("x" * 2001, "utter_message_too_long"),
    ],
)
def test_messages_handled_before_nlu_have_no_parse(assistant: Assistant, text: str, response: str) -> None:
    result = assistant.handle_full(Message("before-nlu", text))
    assert result.parse is None and len(result.replies) == 1
    said = [e["metadata"]["response"] for e in assistant.history("before-nlu") if e["event"] == "bot"]
    assert said[-1] == response


def test_restart_starts_a_new_session(assistant: Assistant) -> None:
    assistant.handle_full(Message("restarter", "hello"))
    result = assistant.handle_full(Message("restarter", "/restart"))
    assert result.parse is None and len(result.replies) == 1
    state = assistant.tracker_store.load("restarter")
    assert state is not None and not [e for e in state.events if e["event"] == "user"]
    assert "restart" in [e["event"] for e in assistant.history("restarter")]

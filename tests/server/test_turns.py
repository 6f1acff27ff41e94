"""`run_turn`: the message is encoded once, on the event loop, and the turn uses that vector."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi import FastAPI

from bot.assistant import Assistant, HandleResult
from bot.encoding import FakeEncoder, MicroBatchingEncoder
from bot.testing.fixtures import build_assistant
from bot.types import Message
from server.turns import install_turn_limiter, run_turn

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("turns-state")  # trained once for the module


def _assistant(tmp_path: Path) -> tuple[FakeEncoder, Assistant]:
    fake = FakeEncoder()
    encoder = MicroBatchingEncoder(fake, max_batch=16, max_wait_ms=1)
    assistant = build_assistant(ROOT, encoder=encoder, state_dir=tmp_path, knowledge=False)
    fake.calls.clear()  # training and indexing encoded in bulk
    return fake, assistant


def test_a_message_is_encoded_once_and_the_turn_uses_that_vector(state_dir: Path) -> None:
    fake, assistant = _assistant(state_dir)
    direct = assistant.handle_full(Message("direct", "when do you open on sunday?"))
    fake.calls.clear()
    app = FastAPI()

    async def main() -> HandleResult:
        install_turn_limiter(app, 2)
        return await run_turn(app, assistant, Message("u1", "when do you open on sunday?"))

    result = asyncio.run(main())
    assert fake.calls == [1]
    assert result.parse is not None and direct.parse is not None
    assert result.parse.intent.name == direct.parse.intent.name
    assert [r.text for r in result.replies] == [r.text for r in direct.replies]


def test_commands_and_button_payloads_are_not_encoded(state_dir: Path) -> None:
    fake, assistant = _assistant(state_dir)
    app = FastAPI()

    async def main() -> None:
        install_turn_limiter(app, 2)
        for text in ("/greet", "/restart", "   ", "x" * 5000):
            await run_turn(app, assistant, Message("u2", text))

    asyncio.run(main())
    assert fake.calls == []


def test_the_encoding_request_names_the_texts_and_the_layer_features_nlu_reads(state_dir: Path) -> None:
    _, assistant = _assistant(state_dir)
    for text in ("when do you open on sunday?", "where is my order and can I return a coat?"):
        request = assistant.encoding_request(Message("u3", text))
        assert request is not None
        assert request.texts == tuple(assistant.texts_to_encode(text))
        sentiment = assistant.sentiment.layer_names if assistant.sentiment is not None else ()
        # what NLU reads and what the sentiment model reads, each once: one encoder pass serves both
        assert sorted(request.layer_names) == sorted({*assistant.nlu.layer_names, *sentiment})
    for text in ("/greet", "   ", "x" * 5000):
        assert assistant.encoding_request(Message("u3", text)) is None

"""`run_turn`: how every channel hands one customer message to the assistant.

The message is encoded first, on the event loop: the coroutine waits for the micro-batching encoder
without holding a thread, so a burst of customers forms one batch. The turn itself (dialogue, actions,
database) then runs on a small pool of threads (`turn_threads`): that work holds the GIL, and a few
threads do it as fast as forty while contending less.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from fastapi import FastAPI

from bot.assistant import Assistant, HandleResult
from bot.encoding import Encoded, MicroBatchingEncoder
from bot.types import Message

log = logging.getLogger("supportbot.server")


def install_turn_limiter(app: FastAPI, threads: int) -> None:
    """Call from the lifespan (the limiter belongs to the running event loop)."""
    app.state.turn_limiter = anyio.CapacityLimiter(threads)


async def run_turn(app: FastAPI, assistant: Assistant, message: Message) -> HandleResult:
    """Encode (batched, on the loop), then handle the turn in the turn pool. Raises what the turn raises."""
    encoded = await _encode(assistant, message)
    limiter: Any = getattr(app.state, "turn_limiter", None)
    result: HandleResult = await anyio.to_thread.run_sync(assistant.handle_full, message, encoded, limiter=limiter)
    return result


async def _encode(assistant: Assistant, message: Message) -> Encoded | None:
    """The message's `encoding_request`, encoded by the micro-batcher; None when the assistant asks for
    nothing or its encoder does not batch (the turn then encodes in its thread)."""
    request = assistant.encoding_request(message)
    if request is None:
        return None
    encoder = assistant.encoder
    if not isinstance(encoder, MicroBatchingEncoder):
        return None
    try:
        # the embeddings and the layer features NLU needs (the message and its parts), one batched pass
        return await encoder.encode_layers_async(request.texts, request.layer_names)
    except Exception:  # the turn encodes again and answers politely if the model really fails
        log.exception("encoding a message failed; the turn will retry")
        return None

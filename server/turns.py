"""The one path of a customer message, whatever the channel: readiness, limits, the turn, metrics.

    TurnPath.of(app)                  NotReady (503) until the lifespan has loaded the assistant
      .take(message, channel=...)     RateLimited (429) over a limit (server/limits.py); then `run_turn`;
                                      then `record_turn` counts it (server/observability.py)

`POST /chat` and Rasa's REST webhook get their `TurnPath` from a dependency and let both refusals become
the JSON error shape; the widget's WebSocket and socket.io send them as an error frame or event.

`run_turn` encodes the message first, on the event loop: the coroutine waits for the micro-batching
encoder without holding a thread, so a burst of customers forms one batch. The turn itself (dialogue,
actions, database) then runs on a small pool of threads (`turn_threads`): that work holds the GIL, and a
few threads do it as fast as forty while contending less.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from fastapi import FastAPI, HTTPException

from bot.assistant import Assistant, HandleResult
from bot.encoding import Encoded, MicroBatchingEncoder
from bot.types import Message
from server.limits import limits_of
from server.observability import metrics_of, record_turn

log = logging.getLogger("supportbot.server")
channel_log = logging.getLogger("supportbot.channels")


class NotReady(HTTPException):
    """503 while the bot is starting (no assistant on `app.state` yet)."""

    def __init__(self) -> None:
        super().__init__(503, "the bot is still starting; retry in a moment")


def ready_assistant(app: Any) -> Assistant:
    """The app's assistant; raises NotReady until the lifespan has loaded it."""
    assistant: Assistant | None = getattr(app.state, "assistant", None)
    if assistant is None:
        raise NotReady()
    return assistant


class TurnPath:
    """How a channel hands one customer message to the assistant (see the module docstring)."""

    def __init__(self, app: FastAPI, assistant: Assistant) -> None:
        self.app = app
        self.assistant = assistant

    @classmethod
    def of(cls, app: FastAPI) -> TurnPath:
        """The path of a ready app; raises NotReady while the bot is starting."""
        return cls(app, ready_assistant(app))

    async def take(
        self,
        message: Message,
        *,
        channel: str,
        ip: str | None = None,
        on_accepted: Callable[[], Awaitable[None]] | None = None,
        silent_failures: bool = False,
    ) -> HandleResult:
        """Take one message from the sender's budget (and `ip`'s, when given), call `on_accepted` (the
        widget says it is typing), run the turn and count it under `channel`. Raises RateLimited before
        the turn. A failing turn raises, or with `silent_failures` (Rasa's channels, as Rasa does) is
        logged and answered with no replies; either way it is not counted."""
        limits = limits_of(self.app)
        if limits is not None:
            limits.take_message(message.sender_id, ip)
        if on_accepted is not None:
            await on_accepted()
        try:
            result = await run_turn(self.app, self.assistant, message)
        except Exception:
            if not silent_failures:
                raise
            channel_log.exception("handling a %s message failed", channel, extra={"sender": message.sender_id})
            return HandleResult(None, [])
        record_turn(metrics_of(self.app), result, channel=channel)
        return result


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

"""The one path of a customer message, whatever the channel: readiness, limits, the turn, metrics.

    TurnPath.of(app)                  NotReady (503) until the lifespan has loaded the assistant
      .take(message, channel=...)     RateLimited (429) over a limit (server/limits.py); then `run_turn`;
                                      then `record_turn` counts it (server/observability.py)

`POST /chat` and Rasa's REST webhook get their `TurnPath` from a dependency and let both refusals become
the JSON error shape; the widget's WebSocket and socket.io send them as an error frame or event.

A turn whose conversation could not be loaded or saved (`TrackerStoreError`) is never acknowledged: `take`
raises `StoreUnavailable`, a `NotReady` (503 with `Retry-After`, code `store_unavailable`), on every
channel — Rasa's channels included, which otherwise answer a failing turn with no replies.

`run_turn` encodes the message first, on the event loop: the coroutine waits for the micro-batching
encoder without holding a thread, so a burst of customers forms one batch. The turn itself (dialogue,
actions, database) then runs on a small pool of threads (`turn_threads`): that work holds the GIL, and a
few threads do it as fast as forty while contending less. With a remote action server the pool has
`2 × action_concurrency` more threads: that is as many turns as can be blocked on the action server at
once (its runner fails any further call fast), so knowledge and small-talk turns never wait behind actions.
`TurnMetrics` counts the action server's calls, its breaker state and the turns not saved.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from fastapi import FastAPI, HTTPException
from prometheus_client import CollectorRegistry, Counter, Gauge

from bot.assistant import Assistant, HandleResult
from bot.dialogue.action_runner import ActionCall, RemoteActionRunner
from bot.dialogue.tracker_store import TrackerStoreError
from bot.encoding import Encoded, MicroBatchingEncoder
from bot.types import Message
from server.limits import limits_of
from server.observability import metrics_of, record_turn

log = logging.getLogger("supportbot.server")
channel_log = logging.getLogger("supportbot.channels")


STARTING_RETRY_AFTER_SECONDS = 5
STORE_RETRY_AFTER_SECONDS = 2
BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}


class NotReady(HTTPException):
    """503 with `Retry-After`: the message was not taken. By default: the bot is starting (no assistant on
    `app.state` yet). `code` names the error in the JSON error shape."""

    code = "not_ready"

    def __init__(
        self,
        detail: str = "the bot is still starting; retry in a moment",
        retry_after: int = STARTING_RETRY_AFTER_SECONDS,
    ) -> None:
        super().__init__(503, detail, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class StoreUnavailable(NotReady):
    """503: the conversation store could not load or save the turn, so the message was not taken."""

    code = "store_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "your message was not saved: the conversation store cannot write right now; send it again in a moment",
            STORE_RETRY_AFTER_SECONDS,
        )


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
        logged and answered with no replies; either way it is not counted. A turn the store could not load
        or save raises `StoreUnavailable` whatever `silent_failures` says: it must never look answered."""
        limits = limits_of(self.app)
        if limits is not None:
            limits.take_message(message.sender_id, ip)
        if on_accepted is not None:
            await on_accepted()
        try:
            result = await run_turn(self.app, self.assistant, message)
        except TrackerStoreError as e:
            channel_log.error("a %s turn was refused: %s", channel, e, extra={"sender": message.sender_id})
            turn_metrics = turn_metrics_of(self.app)
            if turn_metrics is not None:
                turn_metrics.turns_not_saved.labels(reason=e.reason).inc()
            raise StoreUnavailable() from e
        except Exception:
            if not silent_failures:
                raise
            channel_log.exception("handling a %s message failed", channel, extra={"sender": message.sender_id})
            return HandleResult(None, [])
        record_turn(metrics_of(self.app), result, channel=channel)
        return result


def install_turn_limiter(app: FastAPI, threads: int) -> None:
    """Call from the lifespan (the limiter belongs to the running event loop): `threads` turns at once, plus
    the turns a remote action server may hold (`action_slots`); and the `TurnMetrics` when metrics are on."""
    app.state.turn_limiter = anyio.CapacityLimiter(threads + action_slots(getattr(app.state, "settings", None)))
    metrics = metrics_of(app)
    if metrics is not None and turn_metrics_of(app) is None:
        app.state.turn_metrics = TurnMetrics(metrics.registry)


def action_slots(settings: Any) -> int:
    """Turns that can be blocked on the remote action server at once (its runner's running and waiting
    calls; `RemoteActionRunner.max_callers`); 0 with in-process actions."""
    if settings is None or not getattr(settings, "action_endpoint", None):
        return 0
    return 2 * int(settings.action_concurrency)


async def run_turn(app: FastAPI, assistant: Assistant, message: Message) -> HandleResult:
    """Encode (batched, on the loop), then handle the turn in the turn pool. Raises what the turn raises."""
    turn_metrics = turn_metrics_of(app)
    if turn_metrics is not None:
        turn_metrics.observe(getattr(getattr(assistant, "engine", None), "runner", None))
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


class TurnMetrics:
    """The turn path's series, in the app's registry: calls to the remote action server by outcome, its
    circuit breaker's state (updated on each call) and the turns refused because they could not be saved."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.action_calls = Counter(
            "supportbot_action_calls",
            "Calls to the remote action server by outcome: ok, rejected (the action refused: Rasa's 400), timeout, "
            "error (refused connection, 5xx, bad answer), open (not called: breaker open), busy (not called: too "
            "many calls running and waiting).",
            ["outcome"],
            registry=registry,
        )
        self.action_breaker = Gauge(
            "supportbot_action_breaker_state",
            "The remote action server's circuit breaker after the last call: 0 closed, 1 half-open (probing), "
            "2 open (actions fail fast). The worst live worker's.",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.turns_not_saved = Counter(
            "supportbot_turns_not_saved",
            "Turns refused with 503 because the conversation store could not load or save them, by reason.",
            ["reason"],
            registry=registry,
        )
        for outcome in ("ok", "rejected", "timeout", "error", "open", "busy"):
            self.action_calls.labels(outcome=outcome)
        self._observed: set[int] = set()

    def record_action_call(self, call: ActionCall) -> None:
        """A `RemoteActionRunner` listener."""
        self.action_calls.labels(outcome=call.outcome).inc()
        self.action_breaker.set(BREAKER_VALUES[call.breaker])

    def observe(self, runner: object) -> None:
        """Count `runner`'s calls (once per runner; in-process runners have nothing to count)."""
        if isinstance(runner, RemoteActionRunner) and id(runner) not in self._observed:
            self._observed.add(id(runner))
            runner.add_listener(self.record_action_call)


def turn_metrics_of(app: Any) -> TurnMetrics | None:
    metrics: TurnMetrics | None = getattr(app.state, "turn_metrics", None)
    return metrics

"""The web chat widget's endpoints: `WS /ws/chat`, `GET /conversations/{sender}/history`, `POST /feedback`.

WebSocket frames are JSON objects with a `type` (documented in docs/widget.md):

    client → server  {"type": "message", "sender", "text", "metadata"?, "id"?, "token"?}
                     {"type": "history", "sender", "limit"?, "token"}
                     {"type": "typing", "sender", "token"}    the customer is typing (to a live agent;
                                                               no answer; send at most one every 2 s)
    server → client  {"type": "typing"}                       as soon as a message is accepted
                     {"type": "replies", "sender", "token", "replies": [...], "in_reply_to"?}
                     {"type": "history", "sender", "token", "messages": [...]}
                     {"type": "replies", "sender", "token", "proactive": true, "replies": [...]}
                                                               pushed: an event or reminder (docs/proactive.md),
                                                               or a live agent's message: each such reply has
                                                               `agent` {"name"} (and `handoff`: joined |
                                                               message | left | returned)
                     {"type": "agent_typing", "sender", "agent": {"name"}}   a live agent is typing
                     {"type": "error", "error": {"code", "message"}, "in_reply_to"?}

Every request names its conversation by `sender` and proves it may use it with the conversation's token
(`server/conversation_tokens.py`): a frame's `token`, the `X-Conversation-Token` header over HTTP. Only
the first message of a conversation goes without one; every answer carries a fresh token, and a refused
one is a 403 / an error frame (`conversation_token_required`, `…_invalid`, `…_expired`).

A bad frame — not JSON, nested too deeply, a number too large, a lone surrogate, a binary frame — gets
an error frame and the connection stays open. Browsers' cross-origin sockets are refused (close code
1008) unless the page's origin is listed in `cors_origins` (or it is `*`). Every frame takes one request
from the client address's budget, the same one its HTTP requests take (`server/limits.py`), and a
message frame one from its conversation's too.

A socket whose frame's token was accepted for a conversation is registered with the worker's push hub
(`server/push.py`) for it, and receives that conversation's proactive messages until it closes.

`POST /feedback` accepts a vote only for a reply the bot sent in that conversation (404 otherwise).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, WebSocket, WebSocketDisconnect, status
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State

from bot.assistant import Assistant
from bot.config import Settings
from bot.feedback import Feedback, FeedbackStore, SqlFeedbackStore
from bot.types import Message, Reply
from server.console.live import live_of
from server.conversation_tokens import (
    TOKEN_REFUSED,
    ConversationTokenRefused,
    TokenHeader,
    authorize,
    tokens_of,
)
from server.dependencies import AssistantDep
from server.draining import drain_of
from server.errors import error_body
from server.limits import RateLimited, limits_of, origin_allowed
from server.push import Deliver, PushHub, is_signal, push_of
from server.schemas import BAD_REQUEST, NOT_FOUND, ButtonOut, CardOut, ReplyOut, SourceOut
from server.turns import NotReady, TurnPath
from server.widget_schemas import (
    FeedbackOut,
    FeedbackRequest,
    HistoryFrame,
    HistoryMessage,
    HistoryOut,
    MessageFrame,
    client_frame,
)

log = logging.getLogger("supportbot.server.widget")
router = APIRouter(tags=["widget"])

INPUT_CHANNEL = "webchat"
FEEDBACK_HISTORY_LIMIT = 5000
"""How far back in a conversation `POST /feedback` looks for the reply voted on."""

__all__ = ["display_history", "origin_allowed", "reply_out", "router"]


# -- conversion --------------------------------------------------------------------------------------
def reply_out(reply: Reply) -> dict[str, Any]:
    """A reply in the same shape `POST /chat` returns."""
    return ReplyOut.model_validate(reply.as_dict()).model_dump(exclude_none=True)


def display_history(
    events: Iterable[Mapping[str, Any]], votes: Mapping[str, Literal["up", "down"]] | None = None
) -> list[HistoryMessage]:
    """Rasa-style events → what the widget shows. Silent user messages (the widget's start payload)
    are dropped, a button click shows its title (`metadata.display`), `session_started`/`restart`
    become one separator between conversations (none before the first message), and bot replies
    carry the customer's earlier vote from `votes` (reply id → up/down)."""
    votes = votes or {}
    messages: list[HistoryMessage] = []
    for e in events:
        kind = e.get("event")
        when = _float(e.get("timestamp"))
        if kind == "user":
            metadata = e.get("metadata") or {}
            if not isinstance(metadata, Mapping) or metadata.get("silent"):
                continue
            display = metadata.get("display")
            text = display if isinstance(display, str) and display else str(e.get("text") or "")
            messages.append(HistoryMessage(role="user", text=text, time=when))
        elif kind == "bot":
            data = e.get("data") or {}
            reply_id = data.get("id") or None
            messages.append(
                HistoryMessage(
                    role="bot",
                    text=str(e.get("text") or ""),
                    id=reply_id,
                    feedback=votes.get(reply_id) if reply_id else None,
                    buttons=[ButtonOut.model_validate(b) for b in data.get("buttons") or []],
                    sources=[SourceOut.model_validate(s) for s in data.get("sources") or []],
                    cards=[CardOut.model_validate(c) for c in data.get("cards") or []],
                    time=when,
                )
            )
        elif kind in ("session_started", "restart"):
            if not messages:
                continue
            if messages[-1].role == "separator":
                # `restart` is followed by `session_started`: keep one separator, named after the cause
                continue
            messages.append(HistoryMessage(role="separator", kind=str(kind), time=when))
    while messages and messages[-1].role == "separator":
        messages.pop()
    return messages


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# -- feedback store ----------------------------------------------------------------------------------
_store_lock = threading.Lock()


def feedback_store(state: State) -> FeedbackStore:
    """`app.state.feedback`, created on first use from the settings' database when the lifespan did not."""
    with _store_lock:
        store: FeedbackStore | None = getattr(state, "feedback", None)
        if store is None:
            settings: Settings = state.settings
            store = SqlFeedbackStore.from_url(settings.resolved_database_url)
            state.feedback = store
        return store


def _history_sync(state: State, assistant: Assistant, sender: str, limit: int) -> list[HistoryMessage]:
    events = assistant.history(sender, limit)
    votes = {f.reply_id: f.value for f in feedback_store(state).list(sender)}
    return display_history(events, votes)


async def _history(state: State, assistant: Assistant, sender: str, limit: int) -> list[HistoryMessage]:
    return await run_in_threadpool(_history_sync, state, assistant, sender, limit)


# -- HTTP --------------------------------------------------------------------------------------------
@router.get(
    "/conversations/{sender}/history",
    response_model=HistoryOut,
    response_model_exclude_none=True,
    responses=TOKEN_REFUSED,
)
async def conversation_history(
    sender: Annotated[str, Path(min_length=1, max_length=128)],
    assistant: AssistantDep,
    request: Request,
    conversation_token: TokenHeader = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> HistoryOut:
    """The conversation so far, oldest first, as the widget displays it, and a fresh token. Needs the
    conversation's token (`X-Conversation-Token`), whether or not the conversation has messages."""
    await authorize(request.app, assistant, sender, conversation_token, starts=False)
    messages = await _history(request.app.state, assistant, sender, limit)
    return HistoryOut(sender=sender, token=tokens_of(request.app).issue(sender), messages=messages)


def _sent_reply(assistant: Assistant, sender: str, reply_id: str) -> bool:
    """Did the bot send the reply `reply_id` in `sender`'s conversation (its last FEEDBACK_HISTORY_LIMIT events)?"""
    for event in assistant.history(sender, FEEDBACK_HISTORY_LIMIT):
        data = event.get("data") if event.get("event") == "bot" else None
        if isinstance(data, Mapping) and data.get("id") == reply_id:
            return True
    return False


@router.post(
    "/feedback",
    status_code=status.HTTP_201_CREATED,
    response_model=FeedbackOut,
    responses={**BAD_REQUEST, **NOT_FOUND, **TOKEN_REFUSED},
)
async def post_feedback(
    body: FeedbackRequest, request: Request, assistant: AssistantDep, conversation_token: TokenHeader = None
) -> FeedbackOut:
    """Thumbs up or down on a bot reply. Idempotent: voting again replaces the earlier vote. Needs the
    conversation's token (`X-Conversation-Token`); a reply id the bot never sent in it gets 404."""
    await authorize(request.app, assistant, body.sender, conversation_token, starts=False)
    if not await run_in_threadpool(_sent_reply, assistant, body.sender, body.reply_id):
        raise HTTPException(
            404, f"the bot sent no reply {body.reply_id!r} in conversation {body.sender!r}; vote on a reply's `id`"
        )
    store = await run_in_threadpool(feedback_store, request.app.state)
    item = Feedback(sender_id=body.sender, reply_id=body.reply_id, value=body.value, comment=body.comment)
    earlier = await run_in_threadpool(_vote_of, store, body.sender, body.reply_id)
    saved = await run_in_threadpool(store.record, item)
    replies: list[Reply] = []
    if saved.value != earlier:  # a repeated vote is not answered twice
        replies = await run_in_threadpool(assistant.on_feedback, saved.sender_id, saved.reply_id, saved.value)
    return FeedbackOut(
        replies=[ReplyOut.model_validate(reply_out(r)) for r in replies],
        sender=saved.sender_id,
        token=tokens_of(request.app).issue(saved.sender_id),
        reply_id=saved.reply_id,
        value=saved.value,
        comment=saved.comment,
    )


def _vote_of(store: FeedbackStore, sender: str, reply_id: str) -> str | None:
    """The vote already stored for this reply, if any."""
    vote = store.get(sender, reply_id)
    return vote.value if vote else None


# -- WebSocket ---------------------------------------------------------------------------------------
def _error(code: str, message: str, in_reply_to: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", **error_body(code, message)}
    if in_reply_to:
        frame["in_reply_to"] = in_reply_to
    return frame


@router.websocket("/ws/chat")
async def chat_socket(websocket: WebSocket) -> None:
    settings: Settings = websocket.app.state.settings
    if not origin_allowed(websocket.headers.get("origin"), websocket.headers.get("host"), settings.cors_origins):
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="origin not allowed")
        return
    await websocket.accept()
    client = websocket.client
    ip = client.host if client else "unknown"
    line = _Line(websocket)
    try:
        while True:
            raw = await _receive(websocket)
            try:
                frame = await _answer(websocket, settings, raw, ip, line)
            except WebSocketDisconnect:
                raise
            except Exception:  # one failing turn must not drop the customer's connection
                log.exception("widget socket: handling a frame failed")
                frame = _error("internal_error", "something went wrong on our side")
            if frame is not None:
                await line.send(frame)
    except WebSocketDisconnect:
        return
    finally:
        line.close()


class _Line:
    """One widget socket: its sends (serialised: the push hub sends from the poller's task) and the
    conversations it proved and is registered for with the push hub."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.hub: PushHub | None = push_of(websocket.app)
        self.pushed: dict[str, Deliver] = {}
        self._lock = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._lock:
            await self.websocket.send_json(frame)

    def proved(self, sender: str) -> None:
        """`sender`'s token was accepted on this socket: receive its proactive messages from now on."""
        if self.hub is None or sender in self.pushed:
            return
        app = self.websocket.app

        async def deliver(replies: list[dict[str, Any]]) -> None:
            for signal in (r for r in replies if is_signal(r)):
                await self.send({"type": signal["signal"], "sender": sender, "agent": _agent_out(signal)})
            shown = [r for r in replies if not is_signal(r)]
            if not shown:
                return
            frame = {
                "type": "replies",
                "sender": sender,
                "proactive": True,
                "token": tokens_of(app).issue(sender),
                "replies": [pushed_reply(r) for r in shown],
            }
            await self.send(frame)

        self.pushed[sender] = deliver
        self.hub.register(sender, deliver)

    def close(self) -> None:
        if self.hub is not None:
            for sender, deliver in self.pushed.items():
                self.hub.unregister(sender, deliver)
        self.pushed.clear()


def _agent_out(item: Mapping[str, Any]) -> dict[str, str] | None:
    """The agent of a pushed reply or signal as the customer sees it: the display name only."""
    agent = item.get("agent")
    return {"name": str(agent.get("name") or "")} if isinstance(agent, Mapping) else None


def pushed_reply(item: dict[str, Any]) -> dict[str, Any]:
    """A pushed reply as the widget receives it: the `POST /chat` shape, plus `agent` and `handoff` for a
    live agent's messages (server/console/live.py)."""
    out = ReplyOut.model_validate(item).model_dump(exclude_none=True)
    agent = _agent_out(item)
    if agent is not None:
        out["agent"] = agent
    if isinstance(item.get("handoff"), str):
        out["handoff"] = item["handoff"]
    return out


def _typing_frame(raw: str | bytes) -> tuple[str, str | None] | None:
    """(sender, token) of a `{"type": "typing"}` frame; None for any other frame."""
    if not isinstance(raw, str) or len(raw) > 2048 or '"typing"' not in raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("type") != "typing" or not isinstance(data.get("sender"), str):
        return None
    token = data.get("token")
    return data["sender"][:128], token if isinstance(token, str) else None


async def _customer_typing(websocket: WebSocket, sender: str, token: str | None) -> dict[str, Any] | None:
    """Tell the live agent (if any) that the customer types; an error frame only for a refused token."""
    try:
        assistant = TurnPath.of(websocket.app).assistant
        await authorize(websocket.app, assistant, sender, token, starts=False)
        await run_in_threadpool(live_of(websocket.app).customer_typing, sender)
    except ConversationTokenRefused as e:
        return _error(e.code, str(e.detail))
    except NotReady:
        return None
    return None


async def _receive(websocket: WebSocket) -> str | bytes:
    """The next frame's text (or bytes, for a binary frame); WebSocketDisconnect when the client left."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    if text is not None:
        return str(text)
    return bytes(message.get("bytes") or b"")


def _parse(raw: str | bytes, settings: Settings) -> MessageFrame | HistoryFrame | dict[str, Any]:
    """The client frame, or the error frame that answers it."""
    if isinstance(raw, bytes):
        return _error("bad_request", "binary frames are not supported: send each frame as JSON text (docs/widget.md)")
    if len(raw.encode()) > settings.max_request_bytes:
        return _error("payload_too_large", f"frames are limited to {settings.max_request_bytes} bytes")
    try:
        return client_frame.validate_python(json.loads(raw))
    except json.JSONDecodeError as e:
        return _error("bad_request", f"the frame is not JSON ({e.msg} at character {e.pos})")
    except RecursionError:
        return _error("bad_request", "the frame nests JSON too deeply; metadata may nest 16 levels")
    except ValidationError as e:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) or "frame" for err in e.errors())
        first = e.errors()[0].get("msg", "")
        return _error("invalid_request", f"the frame is invalid ({fields}: {first}); see docs/widget.md")
    except ValueError as e:  # e.g. an integer of more than 4,300 digits
        return _error("bad_request", f"the frame holds a value that cannot be read ({str(e)[:120]})")


async def _answer(
    websocket: WebSocket, settings: Settings, raw: str | bytes, ip: str, line: _Line
) -> dict[str, Any] | None:
    """Handle one client frame; return the frame to send back (sending `typing` first for messages), or
    None when the frame is not answered (the customer's typing)."""
    in_reply_to: str | None = None
    try:
        limits = limits_of(websocket.app)
        if limits is not None:
            limits.take_address(ip)  # every frame, whatever its sender: the address's budget
        typing = _typing_frame(raw)
        if typing is not None:
            return await _customer_typing(websocket, *typing)
        frame = _parse(raw, settings)
        if isinstance(frame, dict):
            return frame
        in_reply_to = frame.id if isinstance(frame, MessageFrame) else None
        turns = TurnPath.of(websocket.app)
        is_history = isinstance(frame, HistoryFrame)
        await authorize(websocket.app, turns.assistant, frame.sender, frame.token, starts=not is_history)
        if frame.token or is_history:
            line.proved(frame.sender)
        if isinstance(frame, HistoryFrame):
            history = await _history(websocket.app.state, turns.assistant, frame.sender, frame.limit)
            messages = [m.model_dump(exclude_none=True) for m in history]
            token = tokens_of(websocket.app).issue(frame.sender)
            return {"type": "history", "sender": frame.sender, "token": token, "messages": messages}
        message = Message(frame.sender, frame.text, frame.metadata or {}, input_channel=INPUT_CHANNEL)
        with drain_of(websocket.app).turn():
            result = await turns.take(message, channel="webchat", on_accepted=lambda: line.send({"type": "typing"}))
    except RateLimited as e:
        return _error("rate_limited", f"too many messages; retry in {e.seconds} s", in_reply_to)
    except NotReady as e:
        return _error(e.code, e.detail, in_reply_to)
    except ConversationTokenRefused as e:
        return _error(e.code, str(e.detail), in_reply_to)
    out: dict[str, Any] = {
        "type": "replies",
        "sender": frame.sender,
        "token": tokens_of(websocket.app).issue(frame.sender),
        "replies": [reply_out(r) for r in result.replies],
    }
    if in_reply_to:
        out["in_reply_to"] = in_reply_to
    line.proved(frame.sender)  # a conversation's first message (no token yet) starts it on this socket
    return out

"""Rasa's socket.io channel, so the off-the-shelf `rasa-webchat` widget works unchanged.

Mounted at `/socket.io/` inside the FastAPI app (`mount_socketio(app, settings)`): `create_app` keeps
returning the FastAPI app, `/docs` and every route are untouched, and the socket.io long-polling
requests pass through the same middleware (request id, body limit, CORS) as the rest of the API.

Events, as Rasa's `SocketIOInput` with `session_persistence: true` and `metadata_key: customData`:

- client `session_request {"session_id": id|null}` → server `session_confirm "<id>"` (a new uuid4 hex
  when none is given); the socket joins the room named after the session.
- client `user_uttered {"message", "session_id", "customData"}` (metadata may be a JSON string;
  `metadata` is read when `customData` is absent). Without `session_id` the message is ignored with a
  warning. The sender is the session id, so a conversation survives reconnects and page loads.
- server `bot_uttered`, one emit per part, to the session's room: text split on blank lines `{"text"}`;
  with buttons every part is `{"text", "quick_replies": []}` and the last carries
  `[{"content_type": "text", "title", "payload"}]`; then custom (the dict itself), then image
  `{"attachment": {"type": "image", "payload": {"src": url}}}`; then product cards, one
  `{"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": [...]}}}`
  (rasa-webchat's carousel, `server/product_cards.py`) with absolute addresses: the base URL is the one
  the socket connected to, so a widget embedded on another site opens the bot's product pages.

Messages take the one turn path of every channel (server/turns.py). While the bot starts, or over the
per-sender or per-IP message limit, the server emits `error` with the JSON error shape (plus
`retry_after` seconds when limited; not a Rasa event, widgets ignore it) and drops the message.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from typing import Any

import socketio
from fastapi import FastAPI
from starlette.requests import HTTPConnection

from bot.config import Settings
from bot.types import Message, Reply
from server.errors import http_error_body
from server.limits import RateLimited
from server.observability import new_request_id, request_id_var
from server.product_cards import generic_template
from server.turns import NotReady, TurnPath

log = logging.getLogger("supportbot.channels")

CHANNEL = "socketio"
USER_MESSAGE_EVENT = "user_uttered"
BOT_MESSAGE_EVENT = "bot_uttered"
METADATA_KEY = "customData"


def bot_uttered_payloads(replies: Sequence[Reply], base_url: str = "") -> list[dict[str, Any]]:
    """Replies as the `bot_uttered` payloads Rasa's `SocketIOOutput` emits, in order; `base_url` makes
    the product cards' site-relative addresses absolute."""
    payloads: list[dict[str, Any]] = []
    for reply in replies:
        if reply.buttons:
            parts: list[dict[str, Any]] = [
                {"text": part, "quick_replies": []} for part in reply.text.strip().split("\n\n")
            ]
            parts[-1]["quick_replies"] = [
                {"content_type": "text", "title": b.title, "payload": b.payload} for b in reply.buttons
            ]
            payloads.extend(parts)
        elif reply.text:
            payloads.extend({"text": part} for part in reply.text.strip().split("\n\n"))
        if reply.custom:
            payloads.append(dict(reply.custom))
        if reply.image:
            payloads.append({"attachment": {"type": "image", "payload": {"src": reply.image}}})
        if reply.cards:
            payloads.append({"attachment": generic_template(reply.cards, base_url)})
    return payloads


def _base_url(environ: dict[str, Any]) -> str:
    """The app's base URL (`http://host:port/root/`) as the connecting client addressed it."""
    scope = environ.get("asgi.scope")
    return str(HTTPConnection(scope).base_url) if isinstance(scope, dict) and scope.get("type") else ""


def _metadata(data: dict[str, Any]) -> dict[str, Any]:
    raw = data.get(METADATA_KEY, data.get("metadata")) or {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            log.warning("ignoring %s that is not JSON", METADATA_KEY)
            return {}
    return raw if isinstance(raw, dict) else {}


def create_socketio_server(app: FastAPI, settings: Settings) -> socketio.AsyncServer:
    """The socket.io server with Rasa's event handlers; the assistant is read from `app.state`."""
    sio = socketio.AsyncServer(
        async_mode="asgi",
        cors_allowed_origins=[],  # CORS is Starlette's CORSMiddleware, one allow-list for the whole API
        max_http_buffer_size=settings.max_request_bytes,
        logger=False,
        engineio_logger=False,
    )

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        client = environ.get("asgi.scope", {}).get("client")
        await sio.save_session(sid, {"ip": str(client[0]) if client else "unknown", "base_url": _base_url(environ)})

    async def session_request(sid: str, data: Any = None) -> None:
        session_id = data.get("session_id") if isinstance(data, dict) else None
        if not session_id:
            session_id = uuid.uuid4().hex
        await sio.enter_room(sid, str(session_id))
        await sio.emit("session_confirm", str(session_id), room=sid)

    async def user_uttered(sid: str, data: Any = None) -> None:
        token = request_id_var.set(new_request_id())
        try:
            await _user_uttered(app, sio, sid, data)
        finally:
            request_id_var.reset(token)

    sio.on("connect", connect)
    sio.on("session_request", session_request)
    sio.on(USER_MESSAGE_EVENT, user_uttered)
    return sio


async def _user_uttered(app: FastAPI, sio: socketio.AsyncServer, sid: str, data: Any) -> None:
    """One customer message: through the turn path, answered with `bot_uttered` events to the session's room."""
    if not isinstance(data, dict) or not data.get("session_id"):
        log.warning("a %s event without session_id was ignored (session persistence is on)", USER_MESSAGE_EVENT)
        return
    sender = str(data["session_id"])
    if sender not in sio.rooms(sid):
        await sio.enter_room(sid, sender)
    session = await sio.get_session(sid)
    message = Message(sender, str(data.get("message") or ""), _metadata(data), input_channel=CHANNEL)
    try:
        turns = TurnPath.of(app)
        ip = str(session.get("ip", "unknown"))
        result = await turns.take(message, channel=CHANNEL, ip=ip, silent_failures=True)
    except (NotReady, RateLimited) as e:
        body = http_error_body(e)
        if isinstance(e, RateLimited):
            body["retry_after"] = int(e.seconds)
        await sio.emit("error", body, to=sid)
        return
    for payload in bot_uttered_payloads(result.replies, str(session.get("base_url", ""))):
        await sio.emit(BOT_MESSAGE_EVENT, payload, room=sender)


def mount_socketio(app: FastAPI, settings: Settings) -> socketio.AsyncServer:
    """Serve Rasa's socket.io channel at `/socket.io/`; the server is also kept on `app.state.sio`."""
    sio = create_socketio_server(app, settings)
    app.state.sio = sio
    app.mount("/socket.io", socketio.ASGIApp(sio, socketio_path="socket.io"), name="socketio")
    return sio

"""Rasa's socket.io channel, so the off-the-shelf `rasa-webchat` widget works unchanged.

Mounted at `/socket.io/` inside the FastAPI app (`mount_socketio(app, settings)`): `create_app` keeps
returning the FastAPI app, `/docs` and every route are untouched, and the socket.io long-polling
requests pass through the same middleware (request id, body limit, CORS) as the rest of the API.

Events, as Rasa's `SocketIOInput` with `session_persistence: true` and `metadata_key: customData`:

- client `session_request {"session_id": id|null, "token"?}` → server `session_confirm {"session_id",
  "token"}` (rasa-webchat takes the object's `session_id`, as it takes Rasa's plain string); the socket
  joins the room named after the session, and leaves the one it held before.
- client `user_uttered {"message", "session_id", "customData"}` (metadata may be a JSON string;
  `metadata` is read when `customData` is absent). Without `session_id` the message is ignored with a
  warning. The sender is the session id.

Who may join a session (docs/security.md): the replies of a session go to every socket in its room, so
a socket joins the room of an existing conversation only with its token (`server/conversation_tokens.py`),
sent as `token` in `session_request` (or `user_uttered`) or in the connection's `auth` (`{"token"}`).
A session id that has stored events or a socket in its room, asked for without a valid token, is not
confirmed: `session_confirm` answers a new random id (rasa-webchat then starts a new conversation), and a
`user_uttered` for it gets an `error` event (`conversation_token_required`, `…_invalid`, `…_expired`).
A session id nobody uses is confirmed as Rasa does, so a client may name its new conversation. Clients
that keep the token (the session's `token` of `session_confirm`) keep their conversation across
reconnects and page loads; rasa-webchat, which keeps only the id, starts anew after a reconnect.
- server `bot_uttered`, one emit per part, to the session's room (and a proactive message — an event or a
  reminder, docs/proactive.md — to each socket of the session, registered with the push hub when it
  joins): text split on blank lines `{"text"}`;
  with buttons every part is `{"text", "quick_replies": []}` and the last carries
  `[{"content_type": "text", "title", "payload"}]`; then custom (the dict itself), then image
  `{"attachment": {"type": "image", "payload": {"src": url}}}`; then product cards, one
  `{"attachment": {"type": "template", "payload": {"template_type": "generic", "elements": [...]}}}`
  (rasa-webchat's carousel, `server/product_cards.py`) with absolute addresses: the base URL is the one
  the socket connected to, so a widget embedded on another site opens the bot's product pages.

Live agents (server/console/live.py): an agent's message arrives as `bot_uttered` with `metadata.agent`
`{"name"}` (rasa-webchat shows the text; a custom client may show the name); "the agent is typing" as the
event `agent_typing {"agent": {"name"}}`; a client may send `user_typing {"session_id"}` (at most one every
2 s) while the customer types, which the agent's console shows. Both are extensions, not Rasa events.

Several nodes (docs/deploy.md): with `redis_url` the server's client manager is python-socketio's
`AsyncRedisManager` (channel `<prefix>:socketio`), so the replies emitted to a session's room reach its
sockets on every node; proactive and agent messages come through the outbox (server/push.py) to the node
holding the socket. engine.io sessions stay in the node that opened them: long-polling needs each request of
a connection on that node (the balancer keeps `/socket.io/` sticky); the WebSocket transport needs nothing.

Messages take the one turn path of every channel (server/turns.py). While the bot starts, or over the
per-sender or per-IP message limit, the server emits `error` with the JSON error shape (plus
`retry_after` seconds when limited; not a Rasa event, widgets ignore it) and drops the message.

Abuse and bad input, on every transport (long-polling and WebSocket):

- a browser page on another origin is refused at connect (`connect_error` "origin not allowed") unless
  listed in `cors_origins`, exactly as on `/ws/chat` (`server/limits.py: origin_allowed`);
- every connection, session request and message takes one request from the client address's budget,
  the one its HTTP requests take, whatever `session_id` it names;
- a packet that cannot be read (not JSON, nested deeper than the recursion limit, a number of more than
  4,300 digits) and a message whose text, `session_id` or `customData` is invalid (a lone surrogate,
  nested deeper than 16 levels, an integer beyond 64 bits) get an `error` event (`bad_request` or
  `invalid_request`) instead of being dropped;
- engine.io's own HTTP errors (unknown session, bad transport…) answer in the JSON error shape.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from typing import Any

import socketio
from fastapi import FastAPI
from socketio.exceptions import ConnectionRefusedError as SocketRefused
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from bot.config import Settings
from bot.coordination.connection import CONNECT_TIMEOUT_SECONDS
from bot.coordination.wiring import redis_url, socketio_channel
from bot.types import Message, Reply
from server.console.live import live_of
from server.conversation_tokens import MAX_TOKEN_CHARS, ConversationTokenRefused, has_events, tokens_of
from server.draining import drain_of
from server.errors import error_body, http_error_body
from server.limits import RateLimited, limits_of, origin_allowed
from server.observability import new_request_id, request_id_var
from server.product_cards import generic_template
from server.push import PushHub, is_signal, push_of, replies_of
from server.schemas import check_json_value, check_text
from server.turns import NotReady, TurnPath, ready_assistant

log = logging.getLogger("supportbot.channels")

CHANNEL = "socketio"
USER_MESSAGE_EVENT = "user_uttered"
USER_TYPING_EVENT = "user_typing"
AGENT_TYPING_EVENT = "agent_typing"
BOT_MESSAGE_EVENT = "bot_uttered"
METADATA_KEY = "customData"
INVALID_PACKET_EVENT = "supportbot_invalid_packet"
"""The event a socket.io packet that cannot be read becomes (`SafePacket`): answered with `error`."""
MAX_SESSION_ID_CHARS = 128


class InvalidInput(ValueError):
    """A message the server cannot take as it is: answered with an `error` event naming the problem."""


class _SafeJson:
    """The JSON codec of socket.io packets: a payload that cannot be read becomes `[INVALID_PACKET_EVENT,
    reason]` (an event the server answers) instead of an exception that drops the message silently."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        return json.dumps(obj, **kwargs)

    @staticmethod
    def loads(text: str | bytes, **kwargs: Any) -> Any:
        try:
            return json.loads(text, **kwargs)
        except RecursionError:
            return [INVALID_PACKET_EVENT, "the packet nests JSON too deeply"]
        except json.JSONDecodeError as e:
            return [INVALID_PACKET_EVENT, f"the packet is not JSON ({e.msg} at character {e.pos})"]
        except ValueError as e:  # an integer of more than 4,300 digits
            return [INVALID_PACKET_EVENT, f"the packet holds a value that cannot be read ({str(e)[:120]})"]


class SafePacket(socketio.packet.Packet):  # type: ignore[misc]
    """socket.io's packet, decoded with `_SafeJson` (the engine.io layer keeps the standard codec)."""

    json = _SafeJson


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
    """The message's metadata (`customData`, or `metadata`; an object or a JSON string of one). Raises
    InvalidInput when it nests too deeply, holds too large a number or a lone surrogate."""
    raw = data.get(METADATA_KEY, data.get("metadata")) or {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            log.warning("ignoring %s that is not JSON", METADATA_KEY)
            return {}
        except RecursionError:
            raise InvalidInput(f"{METADATA_KEY} nests JSON too deeply") from None
        except ValueError as e:
            raise InvalidInput(f"{METADATA_KEY} holds a value that cannot be read ({str(e)[:120]})") from None
    if not isinstance(raw, dict):
        return {}
    try:
        check_json_value(raw, where=METADATA_KEY)
    except (ValueError, RecursionError) as e:
        raise InvalidInput(str(e) if isinstance(e, ValueError) else f"{METADATA_KEY} nests too deeply") from None
    return raw


def _text(value: Any, field: str) -> str:
    text = str(value or "")
    try:
        return check_text(text)
    except ValueError as e:
        raise InvalidInput(f"{field} {e}") from None


def _session_id(value: Any) -> str:
    session_id = _text(value, "session_id")
    if len(session_id) > MAX_SESSION_ID_CHARS:
        raise InvalidInput(f"session_id is {len(session_id)} characters; at most {MAX_SESSION_ID_CHARS}")
    return session_id


def _token(value: Any) -> str | None:
    """A conversation token sent by the client (None when absent or not a string of a sane length)."""
    return value if isinstance(value, str) and 0 < len(value) <= MAX_TOKEN_CHARS else None


def _in_use(sio: socketio.AsyncServer, session_id: str, sid: str) -> bool:
    """Is another socket of this process in the session's room? (Rooms are per node, also with Redis: a
    socket on another node is not seen; a conversation with stored events needs its token anyway.)"""
    return any(other != sid for other, _ in sio.manager.get_participants("/", session_id))


async def _may_join(app: FastAPI, sio: socketio.AsyncServer, sid: str, session_id: str, token: str | None) -> None:
    """Raise ConversationTokenRefused unless socket `sid` may join `session_id`: a valid token for it, or a
    session with no socket in its room and no stored events. NotReady while the bot starts or the store fails."""
    if token:
        tokens_of(app).check(session_id, token)
        return
    refused = ConversationTokenRefused(
        "conversation_token_required",
        "this session is in use: send its token (`token` in session_request or the connection's auth), or ask "
        "for a new session",
    )
    if _in_use(sio, session_id, sid) or await has_events(ready_assistant(app), session_id):
        raise refused
    if _in_use(sio, session_id, sid):  # another socket took it while the store was asked
        raise refused


async def _join(app: FastAPI, sio: socketio.AsyncServer, sid: str, session_id: str) -> None:
    """Move socket `sid` into the session's room (out of the one it held), and remember it. The socket
    receives the session's proactive messages (server/push.py) from now on, and no longer the previous one's."""
    hub = push_of(app)
    async with sio.session(sid) as session:
        previous = session.get("conversation")
        if previous and previous != session_id:
            await sio.leave_room(sid, previous)
            _unregister(hub, session)
        await sio.enter_room(sid, session_id)
        session["conversation"] = session_id
        if hub is not None and session.get("pushed") is None:
            base_url = str(session.get("base_url", ""))

            async def deliver(replies: list[dict[str, Any]]) -> None:
                for item in replies:
                    agent = item.get("agent")
                    who = {"name": str(agent.get("name") or "")} if isinstance(agent, dict) else None
                    if is_signal(item):
                        await sio.emit(AGENT_TYPING_EVENT, {"agent": who}, to=sid)
                        continue
                    for payload in bot_uttered_payloads(replies_of([item]), base_url):
                        if who is not None:
                            payload["metadata"] = {"agent": who}
                        await sio.emit(BOT_MESSAGE_EVENT, payload, to=sid)

            session["pushed"] = (session_id, deliver)
            hub.register(session_id, deliver)


def _unregister(hub: PushHub | None, session: dict[str, Any]) -> None:
    """Stop pushing to the socket whose sio session this is (it left its conversation or disconnected)."""
    pushed = session.pop("pushed", None)
    if hub is not None and pushed is not None:
        hub.unregister(*pushed)


def client_manager(settings: Settings) -> socketio.AsyncManager:
    """Where the server keeps its sockets and rooms: in this process (one machine), or with `redis_url` an
    `AsyncRedisManager` that relays every emit through Redis to the node holding the socket (docs/deploy.md)."""
    url = redis_url(settings)
    if url is None:
        return socketio.AsyncManager()
    return socketio.AsyncRedisManager(
        url,
        channel=socketio_channel(settings),
        logger=log,
        redis_options={"socket_connect_timeout": CONNECT_TIMEOUT_SECONDS, "health_check_interval": 30},
    )


def create_socketio_server(app: FastAPI, settings: Settings) -> socketio.AsyncServer:
    """The socket.io server with Rasa's event handlers; the assistant is read from `app.state`."""
    sio = socketio.AsyncServer(
        client_manager=client_manager(settings),
        async_mode="asgi",
        cors_allowed_origins=[],  # CORS is Starlette's CORSMiddleware, one allow-list for the whole API
        max_http_buffer_size=settings.max_request_bytes,
        logger=False,
        engineio_logger=False,
        serializer=SafePacket,
    )

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        origin, host = environ.get("HTTP_ORIGIN"), environ.get("HTTP_HOST")
        if not origin_allowed(origin, host, settings.cors_origins):
            log.warning("a socket.io connection from origin %r was refused (not in cors_origins)", origin)
            raise SocketRefused("origin not allowed")
        client = environ.get("asgi.scope", {}).get("client")
        ip = str(client[0]) if client else "unknown"
        try:
            _take_address(app, ip)
        except RateLimited as e:
            raise SocketRefused(f"too many requests from this address; retry in {e.seconds} s") from e
        auth_token = _token(auth.get("token")) if isinstance(auth, dict) else None
        await sio.save_session(sid, {"ip": ip, "base_url": _base_url(environ), "auth_token": auth_token})

    async def session_request(sid: str, data: Any = None) -> None:
        data = data if isinstance(data, dict) else {}
        try:
            _take_address(app, await _ip(sio, sid))
            session_id = _session_id(data.get("session_id"))
        except (RateLimited, InvalidInput) as e:
            await _emit_error(sio, sid, e)
            return
        token = _token(data.get("token")) or (await sio.get_session(sid)).get("auth_token")
        try:
            if session_id:
                await _may_join(app, sio, sid, session_id, token)
        except ConversationTokenRefused:
            log.info("a socket.io session_request for a session in use without its token got a new session")
            session_id = ""
        except NotReady as e:
            await _emit_error(sio, sid, e)
            return
        session_id = session_id or uuid.uuid4().hex
        await _join(app, sio, sid, session_id)
        confirm = {"session_id": session_id, "token": tokens_of(app).issue(session_id)}
        await sio.emit("session_confirm", confirm, room=sid)

    async def user_uttered(sid: str, data: Any = None) -> None:
        token = request_id_var.set(new_request_id())
        try:
            await _user_uttered(app, sio, sid, data)
        finally:
            request_id_var.reset(token)

    async def invalid_packet(sid: str, reason: Any = None) -> None:
        await _emit_error(sio, sid, InvalidInput(str(reason or "the packet cannot be read")), code="bad_request")

    async def user_typing(sid: str, data: Any = None) -> None:
        """The customer types: the live agent's console shows it (only for the socket's own session)."""
        session = await sio.get_session(sid)
        wanted = data.get("session_id") if isinstance(data, dict) else None
        if not wanted or wanted != session.get("conversation"):
            return
        try:
            _take_address(app, str(session.get("ip", "unknown")))
            await run_in_threadpool(live_of(app).customer_typing, str(wanted))
        except (RateLimited, NotReady) as e:
            await _emit_error(sio, sid, e)

    async def disconnect(sid: str, *args: Any) -> None:
        try:
            async with sio.session(sid) as session:
                _unregister(push_of(app), session)
        except KeyError:  # the connection was refused before it had a session
            pass

    sio.on("connect", connect)
    sio.on("disconnect", disconnect)
    sio.on("session_request", session_request)
    sio.on(USER_MESSAGE_EVENT, user_uttered)
    sio.on(USER_TYPING_EVENT, user_typing)
    sio.on(INVALID_PACKET_EVENT, invalid_packet)
    return sio


def _take_address(app: FastAPI, ip: str) -> None:
    limits = limits_of(app)
    if limits is not None:
        limits.take_address(ip)


async def _ip(sio: socketio.AsyncServer, sid: str) -> str:
    session = await sio.get_session(sid)
    return str(session.get("ip", "unknown"))


async def _emit_error(sio: socketio.AsyncServer, sid: str, error: Exception, code: str = "invalid_request") -> None:
    """`error` with the JSON error shape: RateLimited and NotReady as HTTP would say them (plus
    `retry_after`), InvalidInput as `code` with its message."""
    if isinstance(error, RateLimited | NotReady | ConversationTokenRefused):
        body = http_error_body(error)
        if isinstance(error, RateLimited):
            body["retry_after"] = int(error.seconds)
    else:
        body = error_body(code, str(error))
    await sio.emit("error", body, to=sid)


async def _user_uttered(app: FastAPI, sio: socketio.AsyncServer, sid: str, data: Any) -> None:
    """One customer message: through the turn path, answered with `bot_uttered` events to the session's room."""
    if not isinstance(data, dict) or not data.get("session_id"):
        log.warning("a %s event without session_id was ignored (session persistence is on)", USER_MESSAGE_EVENT)
        return
    session = await sio.get_session(sid)
    ip = str(session.get("ip", "unknown"))
    try:
        sender = _session_id(data["session_id"])
        message = Message(sender, _text(data.get("message"), "message"), _metadata(data), input_channel=CHANNEL)
    except InvalidInput as e:
        try:
            _take_address(app, ip)  # a refused message still costs its address a request
        except RateLimited as limited:
            await _emit_error(sio, sid, limited)
            return
        await _emit_error(sio, sid, e)
        return
    try:
        if session.get("conversation") != sender:
            token = _token(data.get("token")) or session.get("auth_token")
            await _may_join(app, sio, sid, sender, token)
            await _join(app, sio, sid, sender)
    except (NotReady, ConversationTokenRefused) as e:
        await _emit_error(sio, sid, e)
        return
    try:
        turns = TurnPath.of(app)
        with drain_of(app).turn():
            result = await turns.take(message, channel=CHANNEL, ip=ip, silent_failures=True)
    except (NotReady, RateLimited) as e:
        await _emit_error(sio, sid, e)
        return
    for payload in bot_uttered_payloads(result.replies, str(session.get("base_url", ""))):
        await sio.emit(BOT_MESSAGE_EVENT, payload, room=sender)


class EngineIoErrors:
    """ASGI wrapper of the engine.io app: its HTTP errors (a bare JSON string or plain text, e.g. `"Invalid
    session"` with 400) answer in the one JSON error shape, with the same status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: AsgiMessage | None = None
        body = b""

        async def rewriting_send(message: AsgiMessage) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start" and message["status"] >= 400:
                start = message
                return
            if start is None:
                await send(message)
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                await _send_error(send, start, body)

        await self.app(scope, receive, rewriting_send)


async def _send_error(send: Send, start: AsgiMessage, body: bytes) -> None:
    status = int(start["status"])
    text = body.decode("utf-8", "replace").strip()
    try:
        decoded = json.loads(text)
        text = decoded if isinstance(decoded, str) else text
    except ValueError:
        pass
    message = f"socket.io: {text or 'refused'} — connect with a socket.io client (README: HTTP API and channels)"
    payload = json.dumps(http_error_body(HTTPException(status, message))).encode()
    kept = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-type", b"content-length")]
    headers = [*kept, (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def mount_socketio(app: FastAPI, settings: Settings) -> socketio.AsyncServer:
    """Serve Rasa's socket.io channel at `/socket.io/`; the server is also kept on `app.state.sio`."""
    sio = create_socketio_server(app, settings)
    app.state.sio = sio
    app.mount("/socket.io", EngineIoErrors(socketio.ASGIApp(sio, socketio_path="socket.io")), name="socketio")
    return sio

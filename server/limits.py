"""Abuse limits: request body size, per-IP and per-sender rate limits, CORS allow-list and origin check.

- `BodySizeLimitMiddleware`: bodies over `max_request_bytes` get 413 — from `Content-Length` at once, or
  while streaming when the header is missing or lies.
- `IpRateLimitMiddleware`: HTTP requests per client IP (`rate_limit_per_ip_per_minute`); operational
  routes (`/healthz`, `/readyz`, `/metrics`) and the socket.io transport are exempt — the socket
  channels take from the SAME per-IP budget for every frame or event instead (`Limits.take_address`),
  so a client cannot get round it by switching channel, socket or `sender`.
- `Limits.take_message(sender, ip)`: messages per conversation (`rate_limit_per_minute`), then per IP
  when given (the socket channels), taken by the one turn path of every channel (`server/turns.py`).
- Over a limit: `RateLimited`, a 429 with `Retry-After` (whole seconds) in the JSON error shape; the
  WebSocket and socket.io channels send it as an error frame or event.
- With `redis_url` (several nodes) the per-sender and per-IP buckets live in Redis, shared by every node
  (`bot.coordination.rate_limits.RedisRateLimiter`, same buckets and `Retry-After`); while Redis is down
  they fail OPEN — requests are allowed and a warning logged: a limit is not worth refusing customers.
  Without it each process keeps its own buckets (`RateLimiter`).
- CORS: Starlette's `CORSMiddleware` with `Settings.cors_origins`, outside the limits so browsers can
  read a 413 or 429; a refused preflight answers in the JSON error shape (`JsonCorsMiddleware`).
- `origin_allowed`: the origin check of the socket channels (`/ws/chat`, socket.io on every transport):
  browsers on another origin are refused unless listed in `cors_origins`.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.config import Settings
from bot.coordination.wiring import make_rate_limiter
from server.errors import error_body

EXEMPT_PREFIXES = ("/healthz", "/readyz", "/metrics", "/socket.io")


class Limiter(Protocol):
    per_minute: int

    def hit(self, key: str) -> float | None:
        """Take one token for `key`. None when allowed, else the seconds until a token is free."""
        ...


class RateLimiter:
    """Token buckets keyed by a string: `per_minute` tokens, refilled continuously, bursts up to
    `per_minute`. `per_minute=0` disables the limit. Thread-safe; memory is bounded by dropping full
    (idle) buckets when there are more than `max_keys`."""

    def __init__(
        self, per_minute: int, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        if per_minute < 0:
            raise ValueError(f"per_minute must be 0 or more. Currently, per_minute is {per_minute}")
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, updated)
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Take one token for `key`. None when allowed, else the seconds until a token is free."""
        if self.per_minute == 0:
            return None
        now = self._clock()
        with self._lock:
            tokens, updated = self._buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - updated) * self._rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                if len(self._buckets) > self._max_keys:
                    self._prune(now)
                return None
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self._rate

    def _prune(self, now: float) -> None:
        full_after = self.per_minute / self._rate
        for key, (_, updated) in list(self._buckets.items()):
            if now - updated >= full_after:
                del self._buckets[key]


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


class RateLimited(HTTPException):
    """Over a message limit: 429 with `Retry-After`; `scope` is "conversation" or "address"."""

    def __init__(self, scope: str, wait: float) -> None:
        self.scope = scope
        self.seconds = retry_after_header(wait)
        message = f"too many messages from this {scope}; retry in {self.seconds} s"
        super().__init__(429, message, headers={"Retry-After": self.seconds})


@dataclass
class Limits:
    """The limiters of one app, on `app.state.limits`."""

    per_sender: Limiter
    per_ip: Limiter

    def take_message(self, sender: str, ip: str | None = None) -> None:
        """Take one message from `sender`'s budget, then from `ip`'s when given (the socket channels: the
        per-IP middleware never sees their frames). Raises RateLimited when a budget is spent."""
        wait = self.per_sender.hit(sender)
        if wait is not None:
            raise RateLimited("conversation", wait)
        if ip is not None:
            self.take_address(ip)

    def take_address(self, ip: str) -> None:
        """Take one request from `ip`'s budget (shared with HTTP): a socket frame or event that is not a
        customer message (history, session requests, connections). Raises RateLimited when it is spent."""
        wait = self.per_ip.hit(ip)
        if wait is not None:
            raise RateLimited("address", wait)


def limits_of(app: Any) -> Limits | None:
    limits: Limits | None = getattr(app.state, "limits", None)
    return limits


class RequestTooLarge(HTTPException):
    """Raised from `receive` when the streamed body passes the limit; FastAPI lets it through."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = RequestTooLarge(self.max_bytes)
        for key, value in scope["headers"]:
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await _send_json(send, 413, error_body("payload_too_large", too_large.detail), [])
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise too_large
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except RequestTooLarge:
            if started:
                raise
            await _send_json(send, 413, error_body("payload_too_large", too_large.detail), [])


class IpRateLimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: Limiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        ip = str(client[0]) if client else "unknown"
        wait = self.limiter.hit(ip)
        if wait is None:
            await self.app(scope, receive, send)
            return
        seconds = retry_after_header(wait)
        message = f"too many requests from this address; retry in {seconds} s"
        await _send_json(send, 429, error_body("rate_limited", message), [(b"retry-after", seconds.encode())])


def origin_allowed(origin: str | None, host: str | None, allowed: Iterable[str]) -> bool:
    """Same-origin pages, listed origins and non-browser clients (no Origin header) may connect."""
    if origin is None:
        return True
    allowed = set(allowed)
    if "*" in allowed or origin in allowed:
        return True
    return bool(host) and urlsplit(origin).netloc == host


class JsonCorsMiddleware(CORSMiddleware):
    """Starlette's CORS middleware, whose refused preflight (400, plain text) answers in the JSON error shape."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        reason = bytes(response.body).decode("utf-8", "replace").strip() or "Disallowed CORS request"
        message = (
            f"the CORS preflight was refused ({reason}) for origin {request_headers.get('origin', '')!r} — list the "
            "page's origin in cors_origins (docs/configuration.md); methods GET, POST, OPTIONS"
        )
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
        return JSONResponse(error_body("cors_refused", message), status_code=response.status_code, headers=headers)


def make_limiter(settings: Settings, per_minute: int, name: str) -> Limiter:
    """Shared by every node in Redis when `redis_url` is set; else this process's own buckets."""
    shared = make_rate_limiter(settings, per_minute, name) if per_minute else None
    return shared if shared is not None else RateLimiter(per_minute)


def install_limits(app: FastAPI, settings: Settings) -> None:
    """Limiters on `app.state.limits` (in Redis with `redis_url`); body size, per-IP rate limit and CORS
    middleware."""
    per_ip = make_limiter(settings, settings.rate_limit_per_ip_per_minute, "ip")
    app.state.limits = Limits(
        per_sender=make_limiter(settings, settings.rate_limit_per_minute, "sender"), per_ip=per_ip
    )
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(IpRateLimitMiddleware, limiter=per_ip)
    app.add_middleware(
        JsonCorsMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type", "Authorization", "X-Request-ID", "X-Conversation-Token"],
        expose_headers=["X-Request-ID", "Retry-After"],
        max_age=600,
    )

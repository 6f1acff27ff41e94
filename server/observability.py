"""Operations: request ids, structured JSON logs with masked personal data, Prometheus metrics.

- `ObservabilityMiddleware` takes the incoming `X-Request-ID` (or makes one), echoes it on the response,
  puts it on every log line written while the request runs, times the request per route and logs it.
- `configure_logging(settings)` installs one root handler: JSON lines (`log_json`) or plain text; both
  mask emails and order numbers (`Settings.order_number_pattern`) in the message, the extras and tracebacks.
- `Metrics` holds the counters in a registry of its own (one per app, so tests never share counters);
  `GET /metrics` serves it. Channels call `record_turn(metrics, result, channel=...)` after each message.
  Once the app has started, the knowledge service's reloads feed `supportbot_knowledge_*` (`observe_knowledge`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.assistant import HandleResult
from bot.config import Settings
from bot.faq.reload_health import ReloadEvent
from bot.faq.service import KnowledgeService
from bot.types import FALLBACK_INTENT

log = logging.getLogger("supportbot.server")

REQUEST_ID_HEADER = "X-Request-ID"
HANDOFF_INTENT = "human_handoff"
request_id_var: ContextVar[str] = ContextVar("supportbot_request_id", default="-")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(value: str | None) -> str:
    """The client's request id when it is a sane token (no log injection), else a new one."""
    if value and _VALID_REQUEST_ID.match(value):
        return value
    return new_request_id()


# -- masking and logs -----------------------------------------------------------------------------
class Masker:
    """Replaces emails with `[email]` and order numbers with `[order]`."""

    def __init__(self, order_number_pattern: str) -> None:
        self._order = re.compile(order_number_pattern)

    def __call__(self, text: str) -> str:
        return self._order.sub("[order]", _EMAIL.sub("[email]", text))

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id, extras, exception."""

    def __init__(self, masker: Masker) -> None:
        super().__init__()
        self._mask = masker

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self._mask(record.getMessage()),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and key not in data:
                data[key] = self._mask.value(value)
        if record.exc_info:
            data["exception"] = self._mask(self.formatException(record.exc_info))
        if record.stack_info:
            data["stack"] = self._mask(self.formatStack(record.stack_info))
        return json.dumps(data, ensure_ascii=False, default=str)


class TextLogFormatter(logging.Formatter):
    """Human-readable lines, masked the same way."""

    def __init__(self, masker: Masker) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        self._mask = masker

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return self._mask(super().format(record))


class _SupportbotHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler `configure_logging` installed, so a second call replaces it."""


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """Install the masked JSON (or text) handler on the root logger, replacing console handlers
    (ours from an earlier call, and the CLI's rich handler). Other handlers are left alone."""
    masker = Masker(settings.order_number_pattern)
    handler = _SupportbotHandler(stream or sys.stderr)
    as_json = settings.log_json if settings.log_json is not None else not sys.stderr.isatty()
    handler.setFormatter(JsonLogFormatter(masker) if as_json else TextLogFormatter(masker))
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, _SupportbotHandler) or type(old).__name__ == "RichHandler":
            root.removeHandler(old)
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    for noisy in (
        "sentence_transformers",
        "transformers",
        "httpx",
        "faiss",
        "filelock",
        "engineio",
        "socketio",
        "rasa_sdk",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler


# -- metrics --------------------------------------------------------------------------------------
class Metrics:
    """The Prometheus series of one app, in their own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._largest = 0
        r = self.registry
        self.messages = Counter(
            "supportbot_messages", "Customer messages handled, per channel.", ["channel"], registry=r
        )
        self.request_seconds = Histogram(
            "supportbot_request_seconds",
            "HTTP request latency per route template and method.",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.responses = Counter(
            "supportbot_responses", "HTTP responses per route and status code.", ["route", "status"], registry=r
        )
        self.intents = Counter("supportbot_intents", "Predicted intents of customer messages.", ["intent"], registry=r)
        self.fallbacks = Counter("supportbot_fallbacks", "Messages the classifier abstained on.", registry=r)
        self.handoffs = Counter("supportbot_handoffs", "Requests for a human.", registry=r)
        self.sentiments = Counter(
            "supportbot_sentiment", "Sentiment of customer messages (docs/sentiment.md).", ["label"], registry=r
        )
        self.knowledge_answers = Counter(
            "supportbot_knowledge_answers",
            "Knowledge-base outcomes: answer, suggest (did you mean) or unknown.",
            ["decision"],
            registry=r,
        )
        self.encoder_batches = Counter("supportbot_encoder_batches", "Encoder forward passes.", registry=r)
        self.encoder_sentences = Counter("supportbot_encoder_sentences", "Sentences encoded.", registry=r)
        self.encoder_requests = Counter("supportbot_encoder_requests", "Encode calls served.", registry=r)
        self.encoder_largest_batch = Gauge(
            "supportbot_encoder_largest_batch", "Largest batch so far.", registry=r, multiprocess_mode="max"
        )
        self.knowledge_reload_failures = Counter(
            "supportbot_knowledge_reload_failures",
            "Knowledge-base reloads that did not swap in a new version: failed (raised; retried with a backoff) "
            "or invalid (the files have errors; the next save reloads).",
            ["reason"],
            registry=r,
        )
        self.knowledge_last_reload = Gauge(
            "supportbot_knowledge_last_reload_timestamp_seconds",
            "Unix time of the last successful knowledge-base (re)load (the oldest among live workers).",
            registry=r,
            multiprocess_mode="livemin",
        )
        self.knowledge_ok = Gauge(
            "supportbot_knowledge_ok",
            "1 while the last knowledge-base reload succeeded, 0 while it failed (0 when any live worker's did).",
            registry=r,
            multiprocess_mode="livemin",
        )
        for reason in ("failed", "invalid"):
            self.knowledge_reload_failures.labels(reason=reason)
        self._observed: set[int] = set()

    def record_encoder_batch(self, sentences: int, callers: int) -> None:
        """The micro-batching encoder's `on_batch` hook."""
        self.encoder_batches.inc()
        self.encoder_sentences.inc(sentences)
        self.encoder_requests.inc(callers)
        if sentences > self._largest:
            self._largest = sentences
            self.encoder_largest_batch.set(sentences)

    def record_knowledge_reload(self, event: ReloadEvent) -> None:
        """A `KnowledgeService` reload listener."""
        if event.outcome != "ok":
            self.knowledge_reload_failures.labels(reason=event.outcome).inc()
        self.knowledge_ok.set(1 if event.outcome == "ok" else 0)
        if event.last_success_at is not None:
            self.knowledge_last_reload.set(event.last_success_at)

    def observe_knowledge(self, knowledge: KnowledgeService) -> None:
        """Feed the knowledge series from `knowledge`'s reloads (once per service; the last reload at once)."""
        if id(knowledge) in self._observed:
            return
        self._observed.add(id(knowledge))
        knowledge.add_reload_listener(self.record_knowledge_reload)

    def render(self) -> bytes:
        """The text exposition. Under `serve --workers N` (PROMETHEUS_MULTIPROC_DIR set), the series of
        every worker process, summed, whichever worker answers the scrape."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return bytes(generate_latest(registry))
        return bytes(generate_latest(self.registry))


def knowledge_decision(result: HandleResult, handoff_payload: str = f"/{HANDOFF_INTENT}") -> str | None:
    """What the knowledge base decided for this turn, read off its replies (None: it did not speak).

    An answer carries its sources; "did you mean" offers questions as buttons; "don't know" offers at
    most the hand-off button."""
    replies = [r for r in result.replies if r.kind == "knowledge"]
    if not replies:
        return None
    if any(r.sources for r in replies):
        return "answer"
    if any(b.payload != handoff_payload for r in replies for b in r.buttons):
        return "suggest"
    return "unknown"


def record_turn(metrics: Metrics | None, result: HandleResult, *, channel: str) -> None:
    """Count one handled message: channel, intent, fallback, hand-off, sentiment, knowledge decision."""
    if metrics is None:
        return
    metrics.messages.labels(channel=channel).inc()
    parse = result.parse
    if parse is not None:
        metrics.intents.labels(intent=parse.intent.name).inc()
        if parse.abstained or parse.intent.name == FALLBACK_INTENT:
            metrics.fallbacks.inc()
        if parse.intent.name == HANDOFF_INTENT:
            metrics.handoffs.inc()
    if result.sentiment is not None:
        metrics.sentiments.labels(label=result.sentiment.label).inc()
    decision = knowledge_decision(result)
    if decision is not None:
        metrics.knowledge_answers.labels(decision=decision).inc()


def metrics_of(app: Any) -> Metrics | None:
    """The app's `Metrics`, or None when observability is not installed."""
    metrics: Metrics | None = getattr(app.state, "metrics", None)
    return metrics


router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response)
async def metrics_endpoint(request: Request) -> Response:
    """Prometheus metrics (text exposition format)."""
    metrics = metrics_of(request.app)
    body = metrics.render() if metrics is not None else b""
    return Response(body, media_type=CONTENT_TYPE_LATEST)


# -- middleware -----------------------------------------------------------------------------------
class ObservabilityMiddleware:
    """Request id in and out, one log line and one histogram sample per HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._after_startup(scope, send))
            return
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = accept_request_id(_header(scope["headers"], b"x-request-id"))
        token = request_id_var.set(request_id)
        try:
            if scope["type"] == "websocket":
                await self.app(scope, receive, send)
                return
            await self._http(scope, receive, send, request_id)
        finally:
            request_id_var.reset(token)

    def _after_startup(self, scope: Scope, send: Send) -> Send:
        """Once the app's start-up is complete (`app.state.knowledge` is set), connect the knowledge
        service's reloads to the metrics."""

        async def send_after_startup(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                app = scope.get("app")
                knowledge = getattr(getattr(app, "state", None), "knowledge", None)
                if isinstance(knowledge, KnowledgeService):
                    self.metrics.observe_knowledge(knowledge)
            await send(message)

        return send_after_startup

    async def _http(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = str(scope.get("method", "GET"))
            self.metrics.request_seconds.labels(route=route, method=method).observe(elapsed)
            self.metrics.responses.labels(route=route, status=str(status)).inc()
            path = str(scope.get("path", ""))
            level = logging.DEBUG if path in _QUIET_PATHS or route == "/socket.io" else logging.INFO
            log.log(
                level,
                "%s %s -> %s",
                method,
                path,
                status,
                extra={"method": method, "path": path, "status": status, "duration_ms": round(elapsed * 1000, 2)},
            )


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


def install_observability(app: FastAPI, settings: Settings) -> None:
    """Metrics on `app.state.metrics`, masked logs, and the request-id/timing middleware (outermost)."""
    metrics = Metrics()
    app.state.metrics = metrics
    configure_logging(settings)
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)

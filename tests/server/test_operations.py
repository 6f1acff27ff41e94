"""Operations: metrics, request ids, masked JSON logs, body size limit, rate limits, CORS, readiness."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.assistant import HandleResult
from bot.config import Settings
from bot.dialogue.tracker_store import InMemoryTrackerStore
from bot.encoding import FakeEncoder
from bot.testing.fakes import ScriptedAssistant
from bot.types import Button, IntentScore, Parse, Reply, Source
from server.app import create_app
from server.limits import RateLimiter
from server.observability import Masker, Metrics, configure_logging, knowledge_decision, record_turn


def make_app(tmp_path: Path, **overrides: Any) -> Any:
    app = create_app(Settings(project_dir=tmp_path, state_dir=tmp_path / "state", **overrides))
    app.state.assistant = ScriptedAssistant(fallback=lambda text: [Reply(text)])  # echoes; "boom …" raises
    return app


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(make_app(tmp_path, cors_origins=["https://shop.example"]))


@pytest.fixture
def log_stream(tmp_path: Path) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(Settings(project_dir=tmp_path), stream=stream)
    yield stream
    configure_logging(Settings(project_dir=tmp_path))


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


# -- metrics ----------------------------------------------------------------------------------------
def test_metrics_exposes_every_series(client: TestClient) -> None:
    client.post("/webhooks/rest/webhook", json={"sender": "u1", "message": "hello"})
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for series in (
        'supportbot_messages_total{channel="rest"} 1.0',
        'supportbot_intents_total{intent="greet"} 1.0',
        "supportbot_fallbacks_total 0.0",
        "supportbot_handoffs_total 0.0",
        'supportbot_request_seconds_bucket{le="0.05",method="POST",route="/webhooks/rest/webhook"}',
        'supportbot_request_seconds_count{method="POST",route="/webhooks/rest/webhook"} 1.0',
        "# TYPE supportbot_knowledge_answers_total counter",
    ):
        assert series in text, series


def test_each_app_has_its_own_registry(tmp_path: Path) -> None:
    first, second = TestClient(make_app(tmp_path)), TestClient(make_app(tmp_path))
    first.post("/webhooks/rest/webhook", json={"message": "hello"})
    assert 'supportbot_messages_total{channel="rest"} 1.0' in first.get("/metrics").text
    assert 'supportbot_messages_total{channel="rest"}' not in second.get("/metrics").text


def parse(intent: str, abstained: bool = False) -> Parse:
    return Parse("text", IntentScore(intent, 0.5), abstained=abstained)


@pytest.mark.parametrize(
    ("result", "series"),
    [
        (HandleResult(parse("nlu_fallback", abstained=True), []), "supportbot_fallbacks_total 1.0"),
        (HandleResult(parse("human_handoff"), []), "supportbot_handoffs_total 1.0"),
        (
            HandleResult(parse("faq"), [Reply("A", sources=(Source("a", "A", "a.md"),), kind="knowledge")]),
            'supportbot_knowledge_answers_total{decision="answer"} 1.0',
        ),
        (
            HandleResult(parse("faq"), [Reply("Did you mean", buttons=(Button("Q?", "Q?"),), kind="knowledge")]),
            'supportbot_knowledge_answers_total{decision="suggest"} 1.0',
        ),
        (
            HandleResult(parse("faq"), [Reply("?", buttons=(Button("Human", "/human_handoff"),), kind="knowledge")]),
            'supportbot_knowledge_answers_total{decision="unknown"} 1.0',
        ),
        (HandleResult(None, [Reply("too long")]), 'supportbot_messages_total{channel="chat"} 1.0'),
    ],
)
def test_record_turn_counts(result: HandleResult, series: str) -> None:
    metrics = Metrics()
    record_turn(metrics, result, channel="chat")
    assert series in metrics.render().decode()


def test_knowledge_decision_is_none_when_the_knowledge_base_did_not_speak() -> None:
    assert knowledge_decision(HandleResult(parse("greet"), [Reply("Hi")])) is None


# -- request ids and logs ---------------------------------------------------------------------------
def test_request_id_is_echoed(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"


@pytest.mark.parametrize("incoming", [None, "has spaces", "x" * 200])
def test_missing_or_unsafe_request_id_is_replaced(client: TestClient, incoming: str | None) -> None:
    headers = {"X-Request-ID": incoming} if incoming else {}
    assert re.fullmatch(r"[0-9a-f]{32}", client.get("/healthz", headers=headers).headers["X-Request-ID"])


def test_request_id_is_on_error_responses_too(client: TestClient) -> None:
    response = client.get("/no-such-page", headers={"X-Request-ID": "r-404"})
    assert (response.status_code, response.headers["X-Request-ID"]) == (404, "r-404")


def test_logs_are_json_with_request_id_and_masked_personal_data(client: TestClient, log_stream: io.StringIO) -> None:
    text = "boom: I am jane.doe+shop@example.co.uk, order AN-12345 and an 98765"
    response = client.post(
        "/webhooks/rest/webhook", json={"sender": "u1", "message": text}, headers={"X-Request-ID": "r-1"}
    )
    assert response.json() == []
    output = log_stream.getvalue()
    assert "jane.doe" not in output
    assert "example.co.uk" not in output
    assert "12345" not in output
    assert "98765" not in output
    lines = json_lines(log_stream)
    failure = next(line for line in lines if "failed" in line["message"])
    assert failure["request_id"] == "r-1"
    assert failure["level"] == "error"
    assert "[email]" in failure["exception"]
    assert "[order]" in failure["exception"]
    access = next(line for line in lines if line.get("path") == "/webhooks/rest/webhook")
    assert access["request_id"] == "r-1"
    assert access["status"] == 200
    assert access["method"] == "POST"
    assert isinstance(access["duration_ms"], float)


def test_extras_are_masked_too(tmp_path: Path, log_stream: io.StringIO) -> None:
    logging.getLogger("supportbot.test").warning(
        "customer %s wrote", "bob@example.com", extra={"order": "AN-55555", "nested": {"mail": "a@b.io"}}
    )
    (line,) = [entry for entry in json_lines(log_stream) if entry["logger"] == "supportbot.test"]
    assert line["message"] == "customer [email] wrote"
    assert line["order"] == "[order]"
    assert line["nested"] == {"mail": "[email]"}


def test_text_logs_are_masked(tmp_path: Path) -> None:
    stream = io.StringIO()
    configure_logging(Settings(project_dir=tmp_path, log_json=False), stream=stream)
    try:
        logging.getLogger("supportbot.test").warning("order an-12345 for bob@example.com")
    finally:
        configure_logging(Settings(project_dir=tmp_path))
    assert "order [order] for [email]" in stream.getvalue()


def test_masker_uses_the_configured_order_pattern() -> None:
    assert Masker(r"\bORD\d{4}\b")("ORD1234 and AN-12345") == "[order] and AN-12345"


# -- size limit --------------------------------------------------------------------------------------
def test_a_declared_large_body_gets_413(client: TestClient) -> None:
    response = client.post(
        "/webhooks/rest/webhook", content=b"{" + b" " * 70_000 + b"}", headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert "X-Request-ID" in response.headers


def test_a_streamed_body_without_content_length_gets_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"message": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    response = client.post("/webhooks/rest/webhook", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_a_body_under_the_limit_passes(client: TestClient) -> None:
    response = client.post("/webhooks/rest/webhook", json={"message": "x" * 60_000})
    assert response.status_code == 200


# -- rate limits --------------------------------------------------------------------------------------
def test_per_ip_limit_answers_429_with_retry_after_and_spares_health(tmp_path: Path) -> None:
    client = TestClient(make_app(tmp_path, rate_limit_per_ip_per_minute=3))
    for _ in range(3):
        assert client.get("/webhooks/rest/").status_code == 200
    response = client.get("/webhooks/rest/")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "rate_limited"
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_chat_over_the_sender_limit_is_429_with_retry_after(tmp_path: Path) -> None:
    client = TestClient(make_app(tmp_path, rate_limit_per_minute=1))
    first = client.post("/chat", json={"sender": "u", "message": "hi"})
    assert first.status_code == 200
    response = client.post(
        "/chat", json={"sender": "u", "message": "hi"}, headers={"X-Conversation-Token": first.json()["token"]}
    )
    assert (response.status_code, response.headers["Retry-After"]) == (429, "60")
    message = "too many messages from this conversation; retry in 60 s"
    assert response.json() == {"error": {"code": "rate_limited", "message": message}}


def test_chat_while_starting_is_503_even_for_a_bad_body(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    app.state.assistant = None
    response = TestClient(app).post("/chat", json={"sender": ""})
    assert response.status_code == 503
    assert response.json() == {
        "error": {"code": "not_ready", "message": "the bot is still starting; retry in a moment"}
    }


def test_token_bucket_refills_over_time() -> None:
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    assert all(limiter.hit("a") is None for _ in range(60))
    wait = limiter.hit("a")
    assert wait is not None and 0.9 < wait <= 1.0
    now[0] += 1.0
    assert limiter.hit("a") is None
    assert limiter.hit("b") is None  # keys are independent


def test_zero_disables_the_limit() -> None:
    limiter = RateLimiter(0)
    assert all(limiter.hit("a") is None for _ in range(1000))


def test_idle_buckets_are_pruned() -> None:
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0], max_keys=10)
    for i in range(10):
        limiter.hit(f"k{i}")
    now[0] += 120
    limiter.hit("new")
    assert len(limiter._buckets) <= 2


# -- CORS --------------------------------------------------------------------------------------------
def preflight(client: TestClient, origin: str) -> Any:
    return client.options(
        "/webhooks/rest/webhook",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


def test_cors_preflight_from_an_allowed_origin(client: TestClient) -> None:
    response = preflight(client, "https://shop.example")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    assert "POST" in response.headers["access-control-allow-methods"]


def test_cors_preflight_from_another_origin_is_refused(client: TestClient) -> None:
    response = preflight(client, "https://evil.example")
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_cors_headers_on_a_429(tmp_path: Path) -> None:
    client = TestClient(make_app(tmp_path, rate_limit_per_ip_per_minute=1, cors_origins=["https://shop.example"]))
    client.get("/webhooks/rest/")
    response = client.get("/webhooks/rest/", headers={"Origin": "https://shop.example"})
    assert response.status_code == 429
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    assert "retry-after" in response.headers["access-control-expose-headers"].lower()


# -- health ------------------------------------------------------------------------------------------
def test_readyz_reports_each_check(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["model"]["status"] == "ok"
    assert body["checks"]["knowledge"] == {"status": "off"}
    assert body["checks"]["database"] == {"status": "ok"}


def test_readyz_is_503_while_starting(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    app.state.assistant = None
    response = TestClient(app).get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "starting"
    assert TestClient(app).get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_a_broken_database(tmp_path: Path) -> None:
    class BrokenStore(InMemoryTrackerStore):
        def load(self, sender_id: str) -> Any:
            raise OSError("disk gone")

    app = make_app(tmp_path)
    app.state.assistant.tracker_store = BrokenStore()
    response = TestClient(app).get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["status"] == "error"


def test_micro_batching_counters_are_exported(tmp_path: Path) -> None:
    from bot.encoding import MicroBatchingEncoder

    app = make_app(tmp_path)
    metrics = app.state.metrics
    encoder = MicroBatchingEncoder(
        FakeEncoder(dim=8), max_batch=8, max_wait_ms=0, on_batch=metrics.record_encoder_batch
    )
    app.state.assistant.encoder = encoder
    encoder.encode(["one"])
    encoder.encode(["two"])
    encoder.encode(["three", "four", "five"])  # one caller, one pass
    text = TestClient(app).get("/metrics").text
    assert "supportbot_encoder_batches_total 3.0" in text
    assert "supportbot_encoder_sentences_total 5.0" in text
    assert "supportbot_encoder_requests_total 3.0" in text
    assert "supportbot_encoder_largest_batch 3.0" in text
    encoder.close()

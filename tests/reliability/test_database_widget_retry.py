"""Issue 13, item 3, the widget's side: a message the server did not take (503: its conversation could not
be saved) is sent again with backoff, and meanwhile the customer is told, politely, that it is retried.

The widget runs in a real chromium on a page whose server is played by the test (Playwright routes), over
HTTP (`POST /chat` answering 503 with Retry-After) and over its WebSocket (an error frame).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, Page, Playwright, Route, WebSocketRoute, expect  # noqa: E402

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SITE = "http://shop.test"
WIDGET = (ROOT / "server" / "static" / "widget.js").read_text()
RETRYING = re.search(r'retryingText: "([^"]+)"', WIDGET)
NOT_SAVED = {"error": {"code": "store_unavailable", "message": "your message was not saved"}}


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; CI must run `make browser-deps` first")
        pytest.skip("chromium is not installed (run `make browser-deps`)")
    browser = playwright_driver.chromium.launch(
        executable_path=path, headless=True, args=["--no-sandbox", "--disable-gpu"]
    )
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"the page raised: {errors}"


def shop(page: Page, transport: str) -> None:
    """The shop page with the widget (open, no start message), its script served from the repository."""
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"></head><body>'
        f'<supportbot-chat data-transport="{transport}" data-open="true" data-start-payload=""></supportbot-chat>'
        '<script src="/static/widget.js"></script></body></html>'
    )
    page.route(f"{SITE}/", lambda route: route.fulfill(content_type="text/html", body=html))
    page.route(
        f"{SITE}/static/widget.js",
        lambda route: route.fulfill(content_type="text/javascript; charset=utf-8", body=WIDGET),
    )


def send(page: Page, text: str) -> None:
    page.clock.install()  # the widget's timers run when the test says (`page.clock.run_for`)
    page.goto(f"{SITE}/")
    box = page.locator("supportbot-chat").get_by_label("Message")
    box.fill(text)
    box.press("Enter")


def test_over_http_a_503_is_retried_after_retry_after_while_the_customer_is_told(page: Page) -> None:
    assert RETRYING is not None
    calls: list[dict[str, Any]] = []

    def chat(route: Route) -> None:
        calls.append(json.loads(route.request.post_data or "{}"))
        if len(calls) <= 2:
            headers = {"Retry-After": "1"}
            route.fulfill(status=503, content_type="application/json", headers=headers, body=json.dumps(NOT_SAVED))
            return
        reply = {"sender": calls[-1]["sender"], "replies": [{"id": "r1", "text": "Saved at last.", "buttons": []}]}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(reply))

    shop(page, "http")
    page.route(f"{SITE}/chat", chat)
    send(page, "where is my order?")
    widget = page.locator("supportbot-chat")
    mine = widget.locator(".msg.user").last
    expect(mine.locator(".status-line")).to_have_text(RETRYING.group(1))
    page.clock.run_for(900)  # Retry-After says 1 s: not yet
    assert len(calls) == 1
    page.clock.run_for(200)
    expect(mine.locator(".status-line")).to_have_text(RETRYING.group(1))  # refused again, retried again
    assert len(calls) == 2
    page.clock.run_for(1100)
    expect(widget.locator(".msg.bot").last).to_have_text(re.compile("Saved at last."))
    expect(mine.locator(".status-line")).to_have_count(0)
    assert [c["message"] for c in calls] == ["where is my order?"] * 3
    assert len({c["sender"] for c in calls}) == 1


def test_over_the_websocket_a_store_unavailable_frame_is_retried(page: Page) -> None:
    assert RETRYING is not None
    frames: list[dict[str, Any]] = []

    def server(ws: WebSocketRoute) -> None:
        def on_message(raw: str | bytes) -> None:
            frame = json.loads(raw)
            if frame.get("type") != "message":
                return
            frames.append(frame)
            if len(frames) == 1:
                ws.send(json.dumps({"type": "error", **NOT_SAVED, "in_reply_to": frame["id"]}))
                return
            reply = {"id": "r1", "text": "Saved at last.", "buttons": []}
            ws.send(
                json.dumps(
                    {"type": "replies", "sender": frame["sender"], "replies": [reply], "in_reply_to": frame["id"]}
                )
            )

        ws.on_message(on_message)

    shop(page, "websocket")
    page.route_web_socket(re.compile(r"/ws/chat$"), server)
    send(page, "cancel my order")
    widget = page.locator("supportbot-chat")
    expect(widget.locator(".msg.user").last.locator(".status-line")).to_have_text(RETRYING.group(1))
    assert len(frames) == 1
    page.clock.run_for(600)  # the first backoff: 0.25-0.5 s
    expect(widget.locator(".msg.bot").last).to_have_text(re.compile("Saved at last."))
    expect(widget.locator(".msg.user").last.locator(".status-line")).to_have_count(0)
    assert [f["text"] for f in frames] == ["cancel my order", "cancel my order"]
    assert frames[0]["id"] == frames[1]["id"]

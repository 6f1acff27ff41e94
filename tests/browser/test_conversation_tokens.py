"""The widget and conversation tokens (issue 13, item 6) in a real chromium against the real bot.

The widget keeps the server's token beside the conversation id, so its history survives a reload; a
browser that has only the id sees nothing of the conversation; and when the server no longer accepts
the token (here: a forged one, as after a key change), the widget starts a new conversation under a
separator and sends the refused message again, over the WebSocket and over HTTP. Playwright's
auto-waiting expectations only: no sleeps, no timing assertions.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, WebSocketRoute, expect

pytestmark = pytest.mark.browser

FORGED = "v1.9999999999.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
BROKEN_WEBSOCKET = """
window.WebSocket = class {
  static OPEN = 1;
  constructor() {
    this.readyState = 0;
    setTimeout(() => { this.readyState = 3; this.onclose && this.onclose({ code: 1006 }); }, 10);
  }
  send() { throw new Error("not open"); }
  close() {}
};
"""


def open_chat(page: Page, base: str) -> Locator:
    page.goto(f"{base}/")
    page.get_by_role("button", name="Open chat").click()
    chat = page.locator("supportbot-chat")
    expect(chat.locator(".msg.bot").first).to_contain_text("Atelier Nord")
    return chat


def ask(chat: Locator, text: str) -> None:
    box = chat.get_by_label("Message")
    box.fill(text)
    box.press("Enter")
    expect(chat.locator(".msg.user").last).to_contain_text(text)


def stored(page: Page) -> tuple[str, str]:
    """(conversation id, token) from the widget's localStorage."""
    sender, token = page.evaluate("['conversation', 'token'].map((k) => localStorage.getItem(`supportbot:${k}`))")
    assert isinstance(sender, str) and sender
    assert isinstance(token, str) and token.startswith("v1.")
    return sender, token


def said(base: str, sender: str, token: str) -> list[str]:
    response = httpx.get(f"{base}/conversations/{sender}/history", headers={"X-Conversation-Token": token}, timeout=10)
    response.raise_for_status()
    return [m["text"] for m in response.json()["messages"] if m["role"] == "user"]


def test_the_history_survives_a_reload_and_another_browser_with_the_id_sees_nothing(
    page: Page, live_server: str, browser: Browser
) -> None:
    chat = open_chat(page, live_server)
    ask(chat, "Do you have a student discount?")
    expect(chat.locator(".msg.bot")).to_have_count(2)
    sender, token = stored(page)

    page.reload()
    expect(chat.locator(".msg.user")).to_have_text([re.compile("student discount")])
    assert stored(page)[0] == sender

    # someone who learnt the conversation id (not the token) opens the widget with it
    other = browser.new_context()
    try:
        snoop = other.new_page()
        snoop.add_init_script(f"localStorage.setItem('supportbot:conversation', {json.dumps(sender)})")
        theirs = open_chat(snoop, live_server)
        expect(theirs.locator(".msg.bot")).to_have_count(1)  # a greeting of their own
        expect(theirs.locator(".msg.user")).to_have_count(0)
        assert "student discount" not in theirs.inner_text()
        assert stored(snoop)[0] != sender
    finally:
        other.close()
    assert said(live_server, sender, token) == ["Do you have a student discount?"]


@pytest.mark.parametrize("transport", ["websocket", "http"])
def test_a_refused_token_starts_a_new_conversation_and_loses_nothing(
    page: Page, live_server: str, transport: str
) -> None:
    if transport == "http":
        page.add_init_script(BROKEN_WEBSOCKET)  # the widget falls back to POST /chat
    chat = open_chat(page, live_server)
    ask(chat, "Do you have a student discount?")
    expect(chat.locator(".msg.bot")).to_have_count(2)
    old_sender, old_token = stored(page)

    page.evaluate(f"localStorage.setItem('supportbot:token', {json.dumps(FORGED)})")  # the server's key changed
    ask(chat, "How do returns work?")
    expect(chat.locator(".separator")).to_have_count(1)
    expect(chat.locator(".separator ~ .msg.bot").last).to_contain_text("30 days")
    expect(chat.locator(".msg.user")).to_have_count(2)  # shown once, not lost, not doubled
    expect(chat.locator(".msg .status-line")).to_have_count(0)  # nothing left "Not sent"

    new_sender, new_token = stored(page)
    assert new_sender != old_sender
    assert said(live_server, new_sender, new_token) == ["How do returns work?"]
    assert said(live_server, old_sender, old_token) == ["Do you have a student discount?"]


def test_a_refused_token_on_reload_starts_afresh_with_a_greeting(page: Page, live_server: str) -> None:
    chat = open_chat(page, live_server)
    ask(chat, "Do you have a student discount?")
    expect(chat.locator(".msg.bot")).to_have_count(2)
    old_sender, _ = stored(page)
    page.evaluate(f"localStorage.setItem('supportbot:token', {json.dumps(FORGED)})")

    page.reload()
    expect(chat.locator(".msg.bot")).to_have_count(1)
    expect(chat.locator(".msg.bot").first).to_contain_text("Atelier Nord")
    expect(chat.locator(".msg.user")).to_have_count(0)
    assert stored(page)[0] != old_sender
    ask(chat, "How do returns work?")
    expect(chat.locator(".msg.bot").last).to_contain_text("30 days")


def test_frames_carry_the_token_and_the_customer_token(page: Page, live_server: str) -> None:
    frames: list[dict[str, Any]] = []

    def server(ws: WebSocketRoute) -> None:
        def on_message(message: str | bytes) -> None:
            frame = json.loads(message)
            frames.append(frame)
            if frame["type"] == "message":
                reply = {"id": f"r{len(frames)}", "text": f"answer {len(frames)}", "buttons": [], "sources": []}
                answer = {"type": "replies", "sender": frame["sender"], "token": f"v1.1.t{len(frames)}"}
                ws.send(json.dumps({**answer, "replies": [reply], "in_reply_to": frame.get("id")}))

        ws.on_message(on_message)

    page.route_web_socket(re.compile(r"/ws/chat$"), server)
    page.goto(f"{live_server}/")
    page.locator("supportbot-chat").evaluate("el => { el.dataset.customerToken = 'signed-by-the-shop'; }")
    page.get_by_role("button", name="Open chat").click()
    chat = page.locator("supportbot-chat")
    expect(chat.locator(".msg.bot")).to_have_count(1)  # the answer to the silent greeting
    ask(chat, "hello")
    expect(chat.locator(".msg.bot")).to_have_count(2)

    greet, hello = [f for f in frames if f["type"] == "message"]
    assert "token" not in greet  # a new conversation starts without one
    assert greet["metadata"] == {"silent": True, "customer_token": "signed-by-the-shop"}
    assert hello["token"] == "v1.1.t1"  # the token of the last answer
    assert hello["metadata"] == {"customer_token": "signed-by-the-shop"}
    assert hello["sender"] == greet["sender"]

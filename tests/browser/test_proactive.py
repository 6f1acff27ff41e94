"""The widget speaking first (docs/proactive.md) in a real chromium against the real server: a page
trigger from knowledge/triggers.yml opens it, a dismissal keeps it quiet, an event the shop fires reaches
the open widget, and a reply's "remembered" note (docs/customers.md) shows under it.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, WebSocketRoute, expect

pytestmark = pytest.mark.browser

RETURNS_MESSAGE = "Sending something back?"
DISMISSED_KEY = "supportbot:trigger:returns-help:dismissed"


def widget(page: Page) -> Locator:
    return page.locator("supportbot-chat")


def stored(page: Page, key: str) -> str:
    value = page.evaluate(f"localStorage.getItem({json.dumps(key)})")
    assert isinstance(value, str) and value, f"localStorage has no {key}"
    return value


def admin_headers() -> dict[str, str]:
    """The admin token the server runs with, if any (without one, /admin-style routes answer loopback)."""
    token = os.environ.get("SUPPORTBOT_ADMIN_TOKEN")
    return {"Authorization": f"Bearer {token}"} if token else {}


def test_a_page_trigger_opens_the_widget_with_its_message(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/demo/returns")
    chat = widget(page)
    panel = chat.get_by_role("dialog", name="Atelier Nord assistant")
    expect(panel).to_be_hidden()  # after_seconds: 3
    expect(panel).to_be_visible()
    message = chat.locator(".msg.bot.trigger")
    expect(message).to_contain_text(RETURNS_MESSAGE)
    expect(chat.locator(".msg.bot")).to_have_count(1)  # no greeting on top of the trigger's message
    expect(chat.get_by_label("Message")).not_to_be_focused()  # the page keeps the focus
    # a quick reply is sent as the customer's message, and the bot answers it
    chat.get_by_role("button", name="How do refunds work?").click()
    expect(chat.locator(".msg.user").last).to_have_text(re.compile("How do refunds work?"))
    expect(chat.locator(".msg.bot").nth(1)).to_be_visible()


def test_a_dismissed_trigger_stays_quiet(context: BrowserContext, page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/demo/returns")
    chat = widget(page)
    expect(chat.locator(".msg.bot.trigger")).to_contain_text(RETURNS_MESSAGE)
    chat.get_by_role("button", name="Close chat").click()
    expect(chat.get_by_role("dialog")).to_be_hidden()
    assert int(stored(page, DISMISSED_KEY)) > 0

    # A new tab is a new visit (once_per_visit no longer holds it back) and the day's cap allows 2: only
    # the dismissal keeps the widget closed.
    later = context.new_page()
    later.goto(f"{live_server}/demo/returns")
    again = widget(later)
    expect(again.get_by_role("button", name="Open chat")).to_be_visible()
    later.wait_for_timeout(4500)  # past the trigger's 3 s on the page
    expect(again.get_by_role("dialog")).to_be_hidden()
    expect(again.locator(".msg.bot.trigger")).to_have_count(0)

    # Without the dismissal the same visit's trigger fires: it was the dismissal that held it back.
    later.evaluate(f"localStorage.removeItem({json.dumps(DISMISSED_KEY)})")
    later.reload()
    expect(widget(later).locator(".msg.bot.trigger")).to_contain_text(RETURNS_MESSAGE)
    later.close()


def test_a_shipped_event_reaches_the_open_widget(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/")
    page.get_by_role("button", name="Open chat").click()
    chat = widget(page)
    expect(chat.locator(".msg.bot").first).to_contain_text("Atelier Nord")  # the greeting: the conversation exists
    sender = stored(page, "supportbot:conversation")
    stored(page, "supportbot:token")
    chat.get_by_role("button", name="Close chat").click()

    answer = httpx.post(
        f"{live_server}/conversations/{sender}/trigger_intent",
        params={"output_channel": "latest"},
        json={
            "name": "EXTERNAL_order_shipped",
            "entities": {"order_number": "AN-10001", "item": "your coat", "delivery_date": "2030-01-03"},
        },
        headers=admin_headers(),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text

    # Pushed while the panel is closed: the launcher says there is something new.
    launcher = chat.get_by_role("button", name="Open chat: new message")
    expect(launcher).to_be_visible()
    launcher.click()
    shipped = chat.locator(".msg.bot", has_text="AN-10001")
    expect(shipped).to_have_count(1)
    expect(shipped).to_contain_text("on its way")
    expect(chat.get_by_role("button", name="Open chat")).to_have_count(0)  # the panel is open

    # After a reload the message comes from the history, once (the outbox row was delivered).
    page.reload()
    expect(widget(page).locator(".msg.bot", has_text="AN-10001")).to_have_count(1)


def test_a_reply_that_stored_something_shows_the_remembered_note(page: Page, live_server: str) -> None:
    remembered = {"id": "r-mem", "text": "Noted.", "buttons": [], "remembered": ["Berlin as your shop", "size M"]}
    plain = {"id": "r-plain", "text": "Anything else?", "buttons": []}

    def fake_server(ws: WebSocketRoute) -> None:
        def on_message(message: str | bytes) -> None:
            frame: dict[str, Any] = json.loads(message)
            if frame["type"] == "message":
                answer = {
                    "type": "replies",
                    "sender": frame["sender"],
                    "token": "v1.1.t",
                    "in_reply_to": frame.get("id"),
                }
                ws.send(json.dumps({**answer, "replies": [remembered, plain]}))

        ws.on_message(on_message)

    page.route_web_socket(re.compile(r"/ws/chat$"), fake_server)
    page.goto(f"{live_server}/")
    page.locator("supportbot-chat").evaluate("el => { el.dataset.rememberedLabel = 'Saved'; }")
    page.get_by_role("button", name="Open chat").click()
    chat = widget(page)
    note = chat.locator(".msg.bot", has_text="Noted.").get_by_role("status")
    expect(note).to_have_text("Saved: Berlin as your shop, size M")
    expect(chat.locator(".msg.bot", has_text="Anything else?").locator(".remembered")).to_have_count(0)

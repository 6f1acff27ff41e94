"""The "remembered" note against the real server and model (docs/customers.md): a customer proven by an order
number and its email agrees to be remembered; each reply that stored something carries `remembered` over
the socket, and the widget shows it as a note under that reply, and under no other.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, WebSocket, expect

pytestmark = pytest.mark.browser


def ask(chat: Locator, text: str) -> None:
    box = chat.get_by_label("Message")
    box.fill(text)
    box.press("Enter")
    expect(chat.locator(".msg.user").last).to_contain_text(text)


def test_a_reply_that_stored_something_carries_remembered_and_shows_the_note(page: Page, live_server: str) -> None:
    replies: list[dict[str, Any]] = []

    def on_socket(ws: WebSocket) -> None:
        def on_frame(payload: str | bytes) -> None:
            frame = json.loads(payload)
            if frame.get("type") == "replies":
                replies.extend(frame["replies"])

        ws.on("framereceived", on_frame)

    page.on("websocket", on_socket)
    page.goto(f"{live_server}/")
    page.get_by_role("button", name="Open chat").click()
    chat = page.locator("supportbot-chat")
    expect(chat.locator(".msg.bot").first).to_contain_text("Atelier Nord")

    ask(chat, "where is my order AN-10005? my email is chloe@example.com")  # proven: order number + email
    expect(chat.locator(".msg.bot", has_text="AN-10005")).to_be_visible()
    ask(chat, "is the berlin shop open on saturday?")
    offer = chat.locator(".msg.bot", has_text="Shall I remember Berlin as your shop for next time?")
    expect(offer).to_be_visible()
    chat.get_by_role("button", name="Yes, remember it").click()  # the consent

    accepted = chat.locator(".msg.bot", has_text="I'll remember Berlin as your shop")
    expect(accepted.get_by_role("status")).to_have_text("Remembered: Berlin as your shop")
    ask(chat, "remember that I'm an M")  # an explicit yes for what it names
    noted = chat.locator(".msg.bot", has_text="I'll remember size M for tops")
    expect(noted.get_by_role("status")).to_have_text("Remembered: size M for tops")

    # only the replies that stored something have the note, and the server said so in their frames
    expect(chat.locator(".msg.bot .remembered")).to_have_count(2)
    expect(offer.locator(".remembered")).to_have_count(0)
    stored = [r["remembered"] for r in replies if r.get("remembered")]
    assert stored == [["Berlin as your shop"], ["size M for tops"]], replies

    # leave nothing behind in the session's database: forget me, confirmed (no note on a forgetting reply)
    ask(chat, "forget me")
    chat.get_by_role("button", name="Yes, forget me").click()
    forgotten = chat.locator(".msg.bot", has_text="forgotten everything")
    expect(forgotten).to_be_visible()
    expect(forgotten.locator(".remembered")).to_have_count(0)

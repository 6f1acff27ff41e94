"""The chat widget in a real chromium against the real bot, as a customer uses it on the demo shop.

Only Playwright's auto-waiting expectations are used: no sleeps, no timing assertions.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, WebSocketRoute, expect

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"


# -- helpers ---------------------------------------------------------------------------------------------
def widget(page: Page) -> Locator:
    return page.locator("supportbot-chat")


def open_chat(page: Page, base: str) -> Locator:
    """Load the shop, open the widget and wait for the bot's greeting (with its quick replies)."""
    page.goto(f"{base}/")
    page.get_by_role("button", name="Open chat").click()
    chat = widget(page)
    expect(chat.get_by_role("dialog", name="Atelier Nord assistant")).to_be_visible()
    expect(chat.get_by_label("Message")).to_be_focused()
    expect(chat.locator(".msg.bot").first).to_contain_text("Atelier Nord")
    return chat


def ask(chat: Locator, text: str) -> None:
    box = chat.get_by_label("Message")
    box.fill(text)
    box.press("Enter")
    expect(chat.locator(".msg.user").last).to_contain_text(text)


def conversation_id(page: Page) -> str:
    value = page.evaluate("localStorage.getItem('supportbot:conversation')")
    assert isinstance(value, str) and value
    return value


def conversation_token(page: Page) -> str:
    value = page.evaluate("localStorage.getItem('supportbot:token')")
    assert isinstance(value, str) and value
    return value


def history(base: str, sender: str, token: str) -> list[dict[str, Any]]:
    """The conversation as the server keeps it (read with its token, as the widget does)."""
    response = httpx.get(f"{base}/conversations/{sender}/history", headers={"X-Conversation-Token": token}, timeout=10)
    response.raise_for_status()
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


# -- the customer journeys -------------------------------------------------------------------------------
def test_knowledge_question_gets_an_answer_with_a_source_link_and_feedback(page: Page, live_server: str) -> None:
    chat = open_chat(page, live_server)
    ask(chat, "How do returns work?")
    answer = chat.locator(".msg.bot").last
    expect(answer).to_contain_text("30 days")
    # the citation is a link in the answer (sources the text already cites are not listed twice)
    source = answer.locator('a[href^="https://ateliernord.example/help"]').last
    expect(source).to_have_attribute("href", re.compile(r"^https://ateliernord\.example/"))
    expect(source).to_have_attribute("target", "_blank")
    expect(source).to_have_attribute("rel", "noopener noreferrer")
    # the answer's Markdown is rendered (a numbered list), and screen readers hear it
    expect(answer.locator(".bubble ol li").first).to_be_visible()
    expect(chat.locator("[aria-live=polite]")).to_contain_text("30 days")

    helpful = answer.get_by_role("button", name="Helpful", exact=True)
    helpful.click()
    expect(helpful).to_have_attribute("aria-pressed", "true")
    expect(answer.get_by_text("Thanks for your feedback!")).to_be_visible()
    reply = [m for m in history(live_server, conversation_id(page), conversation_token(page)) if m.get("sources")][-1]
    assert reply["feedback"] == "up"


def test_quick_reply_then_a_short_task_flow(page: Page, live_server: str) -> None:
    chat = open_chat(page, live_server)
    greeting = chat.locator(".msg.bot").first
    greeting.get_by_role("button", name="Where is my order?").click()
    # used: the quick replies are gone, the click shows as the customer's message, focus is kept
    expect(greeting.locator(".quick")).to_have_count(0)
    expect(chat.locator(".msg.user").last).to_have_text(re.compile(r"Where is my order\?$"))
    expect(chat.get_by_label("Message")).to_be_focused()
    expect(chat.locator(".msg.bot").last).to_contain_text("order number")

    ask(chat, "AN-10001")
    expect(chat.locator(".msg.bot").last).to_contain_text("email")
    ask(chat, "anna@example.com")
    answer = chat.locator(".msg.bot").last
    expect(answer).to_contain_text("has shipped")
    expect(answer.locator("a[href^='https://tracking.example/']")).to_be_visible()


def test_reload_restores_the_history_and_the_same_conversation(page: Page, live_server: str) -> None:
    chat = open_chat(page, live_server)
    ask(chat, "Do you have a student discount?")
    expect(chat.locator(".msg.bot")).to_have_count(2)
    first_id = conversation_id(page)

    page.reload()
    # the panel reopens (it was open) and the conversation is back, from the server
    expect(chat.get_by_role("dialog")).to_be_visible()
    expect(chat.locator(".msg.user")).to_have_text([re.compile("student discount")])
    expect(chat.locator(".msg.bot")).to_have_count(2)
    assert conversation_id(page) == first_id

    ask(chat, "Thanks!")
    expect(chat.locator(".msg.bot")).to_have_count(3)
    users = [m["text"] for m in history(live_server, first_id, conversation_token(page)) if m["role"] == "user"]
    assert users == ["Do you have a student discount?", "Thanks!"]


def test_offline_then_online_reconnects_and_sends_the_queued_message(
    page: Page, context: BrowserContext, live_server: str
) -> None:
    chat = open_chat(page, live_server)
    notice = chat.locator(".notice")
    expect(notice).to_be_hidden()

    context.set_offline(True)
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("offline")
    ask(chat, "What are your opening hours?")
    expect(chat.locator(".msg.user").last).to_contain_text("Waiting to send")

    context.set_offline(False)
    expect(notice).to_be_hidden()
    expect(chat.locator(".msg.user").last.locator(".status-line")).to_have_count(0)
    expect(chat.locator(".msg.bot", has_text="Atelier Nord Berlin").first).to_be_visible()
    users = [
        m["text"] for m in history(live_server, conversation_id(page), conversation_token(page)) if m["role"] == "user"
    ]
    assert users == ["What are your opening hours?"]  # sent once, under the same conversation


def test_everything_works_with_the_keyboard_only(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/")
    chat = widget(page)
    launcher = chat.get_by_role("button", name="Open chat")
    for _ in range(60):  # Tab through the shop until the launcher has focus
        page.keyboard.press("Tab")
        if launcher.evaluate("el => el.getRootNode().activeElement === el"):
            break
    else:
        pytest.fail("Tab never reached the chat launcher")
    page.keyboard.press("Enter")
    box = chat.get_by_label("Message")
    expect(box).to_be_focused()
    expect(chat.locator(".msg.bot .quick button").first).to_be_visible()

    # Shift+Tab from the input walks back through the quick replies
    target = chat.get_by_role("button", name="Opening hours")
    for _ in range(10):
        page.keyboard.press("Shift+Tab")
        if target.evaluate("el => el.getRootNode().activeElement === el"):
            break
    else:
        pytest.fail("Shift+Tab never reached the 'Opening hours' quick reply")
    page.keyboard.press("Enter")
    expect(box).to_be_focused()
    expect(chat.locator(".msg.bot", has_text="Atelier Nord Berlin").first).to_be_visible()

    page.keyboard.type("How long do I have to return an item?")
    page.keyboard.press("Enter")
    expect(chat.locator(".msg.bot").last).to_contain_text("30 days")

    page.keyboard.press("Escape")
    expect(chat.get_by_role("dialog")).to_be_hidden()
    expect(launcher).to_be_focused()


def test_html_typed_by_the_customer_is_shown_as_text(page: Page, live_server: str) -> None:
    chat = open_chat(page, live_server)
    ask(chat, XSS)
    expect(chat.locator(".msg.user").last.locator(".bubble")).to_have_text(re.compile(re.escape(XSS) + "$"))
    expect(chat.locator(".msg.bot")).to_have_count(2)
    expect(chat.locator("img")).to_have_count(0)
    page.reload()  # and again when it comes back from the server's history
    expect(chat.locator(".msg.user").last.locator(".bubble")).to_have_text(re.compile(re.escape(XSS) + "$"))
    expect(chat.locator("img")).to_have_count(0)
    # the page fixture fails the test if an alert() dialog or a page error happened


@pytest.mark.viewport(360, 740)
def test_usable_on_a_360_px_phone(page: Page, live_server: str) -> None:
    chat = open_chat(page, live_server)
    panel = chat.get_by_role("dialog")
    box = panel.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    ask(chat, "How do returns work?")
    expect(chat.locator('.msg.bot a[href^="https://ateliernord.example/help"]').last).to_be_in_viewport()
    send = chat.get_by_role("button", name="Send")
    expect(send).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    chat.get_by_role("button", name="Close chat").click()
    expect(chat.get_by_role("button", name="Open chat")).to_be_in_viewport()


def test_new_conversation_starts_a_fresh_one(page: Page, live_server: str) -> None:
    chat = open_chat(page, live_server)
    ask(chat, "Hello")
    expect(chat.locator(".msg.bot")).to_have_count(2)
    old_id, old_token = conversation_id(page), conversation_token(page)
    chat.get_by_role("button", name="Start a new conversation").click()
    expect(chat.locator(".msg.user")).to_have_count(0)
    expect(chat.locator(".msg.bot")).to_have_count(1)
    expect(chat.get_by_label("Message")).to_be_focused()
    assert conversation_id(page) != old_id
    assert [m["text"] for m in history(live_server, old_id, old_token) if m["role"] == "user"] == ["Hello"]


# -- transport details, with the socket intercepted -------------------------------------------------------
def test_typing_indicator_shows_from_send_until_the_reply(page: Page, live_server: str) -> None:
    question = "When are you open?"
    held: list[str | bytes] = []
    sockets: dict[str, WebSocketRoute] = {}

    def hold_the_question(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        sockets["server"] = server

        def from_page(message: str | bytes) -> None:
            if json.loads(message).get("text") == question:
                held.append(message)  # the server gets it only when the test says so
            else:
                server.send(message)

        ws.on_message(from_page)

    page.route_web_socket(re.compile(r"/ws/chat$"), hold_the_question)
    chat = open_chat(page, live_server)
    typing = chat.locator(".typing")
    expect(typing).to_be_hidden()
    ask(chat, question)
    expect(typing).to_be_visible()
    for _ in range(200):  # bounded wait for Playwright to hand us the intercepted frame
        if held:
            break
        page.wait_for_timeout(25)
    assert held, "the question never reached the socket"
    expect(typing).to_be_visible()  # still waiting: the server has not seen the question yet
    sockets["server"].send(held[0])
    expect(chat.locator(".msg.bot", has_text="Atelier Nord Berlin").first).to_be_visible()
    expect(typing).to_be_hidden()


def test_falls_back_to_http_when_websockets_fail(page: Page, live_server: str) -> None:
    # A proxy that refuses upgrades: every socket errors and closes without opening.
    page.add_init_script(
        """
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
    )
    chat = open_chat(page, live_server)
    ask(chat, "How do returns work?")
    expect(chat.locator(".msg.bot").last.locator('a[href^="https://ateliernord.example/help"]').last).to_be_visible()
    expect(chat.locator(".notice")).to_be_hidden()


def test_server_html_and_unsafe_links_are_never_rendered(page: Page, live_server: str) -> None:
    hostile = {
        "id": "evil",
        "text": f"{XSS} **bold** [click](javascript:alert(2)) [ok](https://ateliernord.example/help)\n- one\n- two",
        "buttons": [{"title": XSS, "payload": "/x"}],
        "sources": [{"id": "s", "title": "<b>t</b>", "file": "f.md", "url": "javascript:alert(3)"}],
    }

    def fake_server(ws: WebSocketRoute) -> None:
        def on_message(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame["type"] == "history":
                ws.send(json.dumps({"type": "history", "sender": frame["sender"], "messages": []}))
            elif frame["type"] == "message":
                ws.send(json.dumps({"type": "replies", "replies": [hostile], "in_reply_to": frame.get("id")}))

        ws.on_message(on_message)

    page.route_web_socket(re.compile(r"/ws/chat$"), fake_server)
    page.goto(f"{live_server}/")
    page.get_by_role("button", name="Open chat").click()
    chat = widget(page)
    bubble = chat.locator(".msg.bot").first.locator(".bubble")
    expect(bubble).to_contain_text(XSS)
    expect(bubble.locator("strong")).to_have_text("bold")
    expect(bubble.locator("li")).to_have_text(["one", "two"])
    expect(bubble.locator("a")).to_have_count(1)
    expect(bubble.locator("a")).to_have_attribute("href", "https://ateliernord.example/help")
    expect(chat.locator(".sources")).to_contain_text("<b>t</b>")
    expect(chat.locator(".sources a")).to_have_count(0)
    expect(chat.locator(".quick button")).to_have_text([XSS])
    expect(chat.locator("img, b")).to_have_count(0)

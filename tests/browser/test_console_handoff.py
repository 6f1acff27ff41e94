"""Live agent handoff in a real chromium (docs/console.md): a customer asks for a person in the widget, an
agent signed in to the console in a second browser context sees it arrive in the inbox, takes it, types
(the widget shows "Maria is typing…") and replies (in the widget, with her name, within 1 s of the send),
sees the customer typing, and hands back (the bot says so and answers again). Two agents racing to take
one conversation: one wins, the other is told who did. An agent whose session ends mid-reply signs in again
and finds the unsent reply as it was. A socket.io client (rasa-webchat's channel) receives the agent's reply too.

The real app (real model, lifespan: the push hub and its outbox poller run) is served in a thread on
loopback with its own SQLite database; members are added through `bot.staff` as the CLI would.
"""

from __future__ import annotations

import queue
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from bot.config import Settings
from bot.dialogue.tracker_store import make_engine
from bot.staff import Passwords, StaffServices
from server.app import create_app
from server.testing import ServerThread

pytestmark = pytest.mark.browser
pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
TICKET = re.compile(r"ticket #(\d+)")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("handoff")
    settings = Settings(
        project_dir=ROOT,
        state_dir=folder / "state",
        database_url=f"sqlite:///{folder / 'console.db'}",
        rate_limit_per_minute=0,
        rate_limit_per_ip_per_minute=0,
        watch_knowledge=False,
        learning_retrain=False,
        console_poll_seconds=0.3,
        proactive_poll_seconds=0.2,
    )
    engine = make_engine(settings.resolved_database_url)
    passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    services = StaffServices.from_engine(engine, settings, passwords=passwords)
    services.accounts.add("maria@example.com", PASSWORD, "agent", "Maria")
    services.accounts.add("jonas@example.com", PASSWORD, "agent", "Jonas")
    app = create_app(settings)
    app.state.staff_services = services
    with ServerThread(app, timeout=300) as url:
        yield url
    engine.dispose()


def new_page(browser: Browser, width: int = 1280) -> tuple[BrowserContext, Page, list[str]]:
    context = browser.new_context(viewport={"width": width, "height": 860}, locale="en-GB")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page, errors


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[tuple[BrowserContext, Page, list[str]]]]:
    opened: list[tuple[BrowserContext, Page, list[str]]] = []
    yield opened
    for context, _, errors in opened:
        context.close()
        assert not errors, f"a page raised: {errors}"


def open_page(contexts: list[tuple[BrowserContext, Page, list[str]]], browser: Browser, width: int = 1280) -> Page:
    opened = new_page(browser, width)
    contexts.append(opened)
    return opened[1]


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/console")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()


def customer_asks_for_a_person(page: Page, base: str) -> tuple[Locator, int]:
    page.goto(f"{base}/")
    page.get_by_role("button", name="Open chat").click()
    chat = page.locator("supportbot-chat")
    expect(chat.locator(".msg.bot").first).to_contain_text("Atelier Nord")
    box = chat.get_by_label("Message")
    box.fill("I want to talk to a person")
    box.press("Enter")
    handed = chat.locator(".msg.bot", has_text="ticket #")
    expect(handed).to_be_visible()
    found = TICKET.search(handed.inner_text())
    assert found is not None
    return chat, int(found.group(1))


def test_an_agent_takes_answers_and_hands_back(served: str, browser: Browser, contexts: list[Any]) -> None:
    agent = open_page(contexts, browser)
    sign_in(agent, served, "maria@example.com")
    customer = open_page(contexts, browser, width=768)
    chat, ticket = customer_asks_for_a_person(customer, served)

    # the inbox notices the new conversation by itself (polling): listed, announced, counted in the title
    link = agent.get_by_role("link", name=f"Conversation {ticket}", exact=True)
    expect(link).to_be_visible()
    expect(agent.locator("[data-inbox-announce]")).to_contain_text("New conversation waiting")
    expect(agent).to_have_title(re.compile(r"^\(\d+\) Inbox"))
    link.click()
    expect(agent.get_by_role("log", name="Conversation")).to_contain_text("I want to talk to a person")

    agent.get_by_role("button", name="Take conversation").click()
    expect(chat.locator(".msg.bot").last).to_contain_text("Maria from our team joined the conversation.")
    expect(agent.locator("[data-holder]")).to_have_text("answered by Maria")
    expect(agent.get_by_role("button", name="Take conversation")).to_be_hidden()  # taken: nothing left to take

    reply = agent.get_by_label(re.compile("Your reply"))
    reply.press_sequentially("Hello, this is Maria")
    expect(chat.locator(".agent-typing")).to_have_text("Maria is typing…")
    reply.press("Shift+Enter")  # a new line, not a send
    reply.press_sequentially("How can I help?")
    started = time.monotonic()
    reply.press("Enter")
    answer = chat.locator(".msg.bot.agent", has_text="How can I help?")
    expect(answer).to_be_visible(timeout=1000)  # the 1 s budget, from the send
    assert time.monotonic() - started < 1.0
    expect(answer.locator(".agent-name")).to_have_text("Maria")
    expect(answer).to_contain_text("Hello, this is Maria")
    expect(reply).to_have_value("")
    expect(chat.locator(".agent-typing")).to_be_hidden()
    expect(agent.get_by_role("log", name="Conversation")).to_contain_text("How can I help?")

    # the customer types: the agent sees it
    chat.get_by_label("Message").press_sequentially("my order", delay=30)
    expect(agent.locator("[data-customer-typing]")).to_have_text("The customer is typing…")
    chat.get_by_label("Message").fill("")

    agent.get_by_role("button", name="Hand back to the bot").click()
    expect(chat.locator(".msg.bot").last).to_contain_text("Maria has handed you back to me")
    expect(agent.locator("[data-status]")).to_have_text("handed back")
    # the bot answers again
    before = chat.locator(".msg.bot").count()
    box = chat.get_by_label("Message")
    box.fill("What are your opening hours?")
    box.press("Enter")
    answered = chat.locator(".msg.bot").nth(before)
    expect(answered).to_be_visible()
    expect(answered).not_to_contain_text("will reply here")  # not the paused conversation's message


def test_two_agents_race_to_take_one_conversation(served: str, browser: Browser, contexts: list[Any]) -> None:
    customer = open_page(contexts, browser)
    _, ticket = customer_asks_for_a_person(customer, served)
    maria, jonas = open_page(contexts, browser), open_page(contexts, browser, width=768)
    for page, email in ((maria, "maria@example.com"), (jonas, "jonas@example.com")):
        sign_in(page, served, email)
        page.goto(f"{served}/console/handoffs/{ticket}")
        expect(page.get_by_role("button", name="Take conversation")).to_be_visible()
    # both click at once: the clicks' requests race on the server
    for page in (maria, jonas):
        page.evaluate("document.querySelector('[data-take]').click()")
    alerts = [p.get_by_role("alert") for p in (maria, jonas)]
    expect(maria.locator("[data-holder]")).to_have_text(re.compile("answered by (Maria|Jonas)"))
    expect(jonas.locator("[data-holder]")).to_have_text(re.compile("answered by (Maria|Jonas)"))
    winner = maria.locator("[data-holder]").inner_text().removeprefix("answered by ")
    loser = 1 if winner == "Maria" else 0
    expect(alerts[loser]).to_have_text(re.compile(rf"^{winner} took this conversation at \d\d:\d\d UTC$"))
    expect(alerts[1 - loser]).to_be_hidden()
    expect((maria, jonas)[loser].get_by_label(re.compile("Your reply"))).to_be_disabled()
    for page in (maria, jonas):  # taken: neither page offers to take it any more
        expect(page.get_by_role("button", name="Take conversation")).to_be_hidden()


def test_an_unsent_reply_survives_the_session_ending(served: str, browser: Browser, contexts: list[Any]) -> None:
    customer = open_page(contexts, browser)
    chat, ticket = customer_asks_for_a_person(customer, served)
    agent = open_page(contexts, browser)
    sign_in(agent, served, "maria@example.com")
    agent.goto(f"{served}/console/handoffs/{ticket}")
    agent.get_by_role("button", name="Take conversation").click()
    expect(agent.locator("[data-holder]")).to_have_text("answered by Maria")
    reply = agent.get_by_label(re.compile("Your reply"))
    expect(reply).to_be_enabled()
    reply.press_sequentially("Your refund for AN-10001 left us on")

    # the session ends (signed out in another tab of the same browser): the page's next poll gets 401 and
    # reloads to the sign-in page; signing in again brings the agent back with the reply as it was
    other = agent.context.new_page()
    other.goto(f"{served}/console")
    other.get_by_role("button", name="Sign out").click()
    expect(other.get_by_label("Password")).to_be_visible()
    other.close()
    expect(agent.get_by_label("Password")).to_be_visible()
    agent.get_by_label("Email").fill("maria@example.com")
    agent.get_by_label("Password").fill(PASSWORD)
    agent.get_by_label("Password").press("Enter")
    expect(agent.get_by_role("heading", name=f"Conversation {ticket}")).to_be_visible()
    reply = agent.get_by_label(re.compile("Your reply"))
    expect(reply).to_have_value("Your refund for AN-10001 left us on")
    expect(reply).to_be_enabled()  # still hers: she was away for less than the agent timeout

    # once sent, the draft is gone: a reload shows an empty box
    reply.press_sequentially(" Monday.")
    reply.press("Enter")
    expect(chat.locator(".msg.bot.agent", has_text="left us on Monday.")).to_be_visible()
    expect(reply).to_have_value("")
    agent.reload()
    expect(agent.get_by_role("log", name="Conversation")).to_contain_text("left us on Monday.")
    expect(agent.get_by_label(re.compile("Your reply"))).to_have_value("")


def test_a_socketio_customer_receives_the_agents_reply(served: str, browser: Browser, contexts: list[Any]) -> None:
    socketio = pytest.importorskip("socketio")
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    client = socketio.Client(reconnection=False)
    for name in ("session_confirm", "bot_uttered", "agent_typing"):
        client.on(name, lambda data=None, name=name: events.put((name, data)))
    client.connect(served, socketio_path="/socket.io", transports=["polling"], wait_timeout=10)
    try:
        client.emit("session_request", {"session_id": None})
        name, confirmed = events.get(timeout=10)
        assert name == "session_confirm"
        session = confirmed["session_id"]
        client.emit("user_uttered", {"message": "I want to talk to a person", "session_id": session})
        ticket = None
        while ticket is None:
            name, data = events.get(timeout=30)
            found = TICKET.search(str((data or {}).get("text", ""))) if name == "bot_uttered" else None
            ticket = int(found.group(1)) if found else None

        agent = open_page(contexts, browser)
        sign_in(agent, served, "maria@example.com")
        agent.goto(f"{served}/console/handoffs/{ticket}")
        agent.get_by_role("button", name="Take conversation").click()
        # the reply box is enabled once the take is confirmed: keys typed before that go nowhere
        expect(agent.locator("[data-holder]")).to_have_text("answered by Maria")
        reply = agent.get_by_label(re.compile("Your reply"))
        expect(reply).to_be_enabled()
        reply.press_sequentially("Hi from Maria")
        reply.press("Enter")
        seen: list[tuple[str, Any]] = []
        deadline = time.monotonic() + 20  # delivery, not speed (the widget test asserts 1 s); a loaded CI is slow
        while time.monotonic() < deadline and not any(d.get("text") == "Hi from Maria" for n, d in seen if d):
            seen.append(events.get(timeout=20))
        texts = {(n, (d or {}).get("text")) for n, d in seen}
        assert ("bot_uttered", "Maria from our team joined the conversation.") in texts
        [message] = [d for n, d in seen if n == "bot_uttered" and d.get("text") == "Hi from Maria"]
        assert message["metadata"] == {"agent": {"name": "Maria"}}
        assert ("agent_typing", None) in {(n, None) for n, d in seen if d == {"agent": {"name": "Maria"}}}
    finally:
        client.eio.disconnect(abort=True)

"""The console inbox and live conversation routes (server/console/inbox.py, server/console/live.py) with a
real engine on the fake encoder, the SQL handoff store and the SQL outbox the widgets are fed from."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.assistant import Assistant
from bot.config import Settings
from bot.customers.identity import sign_customer_token
from bot.dialogue.handoff import Agent, SqlHandoffStore
from bot.dialogue.state import ConversationState, event
from bot.proactive.outbox import SqlOutbox
from bot.staff import StaffServices
from bot.testing.fixtures import make_fake_assistant
from bot.types import Message
from server.console.live import LiveHandoff, live_of
from server.conversation_tokens import tokens_of
from server.push import PushHub
from tests.console.conftest import ConsoleClient, make_console_app
from tests.customers.conftest import SECRET, Chat, make_bot
from tests.customers.conftest import project as project  # noqa: F401  (the reference domain)

ROOT = Path(__file__).resolve().parents[2]
Clients = Callable[..., ConsoleClient]


@pytest.fixture(scope="module")
def fake_assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return make_fake_assistant(ROOT, tmp_path_factory.mktemp("inbox") / "state", knowledge=False)


@pytest.fixture
def console_app(console_settings: Settings, staff_services: StaffServices, fake_assistant: Assistant) -> FastAPI:
    app = make_console_app(console_settings, staff_services)
    app.state.assistant = fake_assistant
    app.state.handoffs = SqlHandoffStore.from_url(console_settings.resolved_database_url)
    return app


def handed_over(app: FastAPI, sender: str, *, text: str = "I want to talk to a person") -> int:
    """A conversation the bot handed over: what it tried, a verified email, a negative mood; paused."""
    assistant: Assistant = app.state.assistant
    state = ConversationState(sender, paused=True)
    state.add(
        event(
            "user",
            text="where is my parcel",
            parse_data={"intent": {"name": "order_status", "confidence": 0.91}},
            metadata={},
        )
    )
    state.add(event("action", name="order_status_form"))
    state.add(
        event("bot", text="It is on its way.", data={"id": "b1", "sources": [{"id": "delivery", "title": "Delivery"}]})
    )
    state.add(
        event(
            "user",
            text=text,
            parse_data={
                "intent": {"name": "human_handoff", "confidence": 0.97},
                "sentiment": {"label": "negative", "score": 0.8},
            },
            metadata={},
        )
    )
    state.add(event("action", name="action_human_handoff"))
    state.set_slot("verified_email", "ana@example.com")
    state.set_slot("verified_order", "AN-10001")
    assistant.tracker_store.save(state)
    return int(app.state.handoffs.open(sender, text, []).id)


def outbox_rows(app: FastAPI, sender: str) -> list[list[dict[str, Any]]]:
    outbox = SqlOutbox.from_url(app.state.settings.resolved_database_url)
    return [item.replies for item in outbox.pending([sender], 0)]


def bot_events(app: FastAPI, sender: str) -> list[dict[str, Any]]:
    return [e for e in app.state.assistant.history(sender, 500) if e.get("event") == "bot"]


def test_the_inbox_lists_waiting_conversations_with_what_an_agent_needs(
    console_client: Clients, console_app: FastAPI
) -> None:
    first = handed_over(console_app, "inbox-a", text="<script>alert('x')</script> a person please")
    second = handed_over(console_app, "inbox-b")
    agent = console_client("agent", name="Maria")
    data = agent.get("/console/api/inbox").json()
    assert [t["id"] for t in data["waiting"]] == [first, second] and data["count"] == 2  # oldest first
    ticket = data["waiting"][0]
    assert ticket["status"] == "waiting" and ticket["waiting_seconds"] >= 0
    assert ticket["identity"] == {"email": "ana@example.com", "order": "AN-10001"}
    assert ticket["sentiment"] == {"label": "negative", "score": 0.8}
    assert ticket["tried"][0] == {
        "text": "where is my parcel",
        "intent": "order_status",
        "confidence": 0.91,
        "actions": ["order_status_form"],
        "entries": ["Delivery"],
    }
    assert [line["role"] for line in ticket["transcript"]] == ["customer", "bot", "customer"]
    page = agent.get("/console")
    assert page.status_code == 200 and "(2) Inbox" in page.text
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(" in page.text  # customer text is text
    assert 'aria-live="polite"' in page.text


def handed_over_chat(app: FastAPI, chat: Chat) -> int:
    """The conversation a real dialogue engine (customer memory on) held, handed over: paused and saved."""
    chat.state.paused = True
    app.state.assistant.tracker_store.save(chat.state)
    return int(app.state.handoffs.open(chat.state.sender_id, "a person please", []).id)


def signed_in(customer_id: str, *, secret: str = SECRET) -> dict[str, Any]:
    """The message metadata of a customer signed in on the shop's site (the widget's `data-customer-token`)."""
    return {"customer_token": sign_customer_token(secret, customer_id, int(time.time()) + 3600)}


def test_a_customer_proven_by_the_shops_signed_token_is_shown(
    console_client: Clients, console_app: FastAPI, project: Any
) -> None:
    bot = make_bot(project)
    bot.engine.memory.clock = time.time
    chat = bot.chat("token-a")
    chat.say("ask_hours", "is the Berlin shop open now?", [("shop", "berlin")], metadata=signed_in("cust-4711"))
    ticket = handed_over_chat(console_app, chat)
    agent = console_client("agent")
    [waiting] = agent.get("/console/api/inbox").json()["waiting"]
    assert waiting["id"] == ticket and waiting["identity"] == {"shop_customer": "cust-4711"}
    page = agent.get(f"/console/handoffs/{ticket}").text
    assert "Proven customer:" in page and "signed in on the shop&#39;s site as customer cust-4711" in page
    assert "cust-4711" in agent.get("/console").text
    stored = console_app.state.assistant.tracker_store.load("token-a")
    assert stored is not None and "customer_token" not in json.dumps(stored.to_json())  # the id, never the token


def test_an_order_verified_customer_is_shown_and_a_forged_token_proves_nothing(
    console_client: Clients, console_app: FastAPI, project: Any
) -> None:
    bot = make_bot(project)
    bot.engine.memory.clock = time.time
    verified = bot.chat("verified-a")
    verified.say(
        "order_status",
        "where is my order AN-10001 anna@example.com",
        [("order_number", "AN-10001"), ("email", "anna@example.com")],
    )
    forged = bot.chat("forged-a")
    forged.say("ask_hours", "is the Berlin shop open now?", metadata=signed_in("cust-9", secret="not-the-shops"))
    first, second = handed_over_chat(console_app, verified), handed_over_chat(console_app, forged)
    agent = console_client("agent")
    identities = {t["id"]: t["identity"] for t in agent.get("/console/api/inbox").json()["waiting"]}
    assert identities == {first: {"email": "anna@example.com"}, second: {}}
    assert "verified email anna@example.com" in agent.get(f"/console/handoffs/{first}").text
    assert "Not verified" in agent.get(f"/console/handoffs/{second}").text


def test_a_signed_in_customer_who_also_verified_an_order_shows_both(
    console_client: Clients, console_app: FastAPI, project: Any
) -> None:
    bot = make_bot(project)
    bot.engine.memory.clock = time.time
    chat = bot.chat("both-a")
    chat.say(
        "order_status",
        "where is my order AN-10003 ben@example.com",
        [("order_number", "AN-10003"), ("email", "ben@example.com")],
        metadata=signed_in("cust-42"),
    )
    ticket = handed_over_chat(console_app, chat)
    agent = console_client("agent")
    [waiting] = agent.get("/console/api/inbox").json()["waiting"]
    assert waiting["id"] == ticket
    assert waiting["identity"] == {"shop_customer": "cust-42", "email": "ben@example.com"}


def test_take_one_wins_and_the_customer_is_told_who_joined(console_client: Clients, console_app: FastAPI) -> None:
    ticket = handed_over(console_app, "take-a")
    maria = console_client("agent", name="Maria")
    jonas = console_client("agent", name="Jonas")
    taken = maria.post(f"/console/api/handoffs/{ticket}/take", headers=maria.csrf_header)
    assert taken.status_code == 200 and taken.json()["ticket"]["agent"]["name"] == "Maria"
    lost = jonas.post(f"/console/api/handoffs/{ticket}/take", headers=jonas.csrf_header)
    assert lost.status_code == 409
    assert lost.json()["error"]["code"] == "handoff_taken"
    assert lost.json()["error"]["message"].startswith("Maria took this conversation at ")
    said = bot_events(console_app, "take-a")[-1]
    assert said["text"] == "Maria from our team joined the conversation."
    [row] = outbox_rows(console_app, "take-a")
    assert row[0]["text"] == said["text"] and row[0]["agent"]["name"] == "Maria" and row[0]["handoff"] == "joined"
    assert console_app.state.assistant.tracker_store.load("take-a").slots["handoff_agent"] == "Maria"
    assert console_app.state.handoffs.get(ticket).agent == Agent(maria.member.id, "Maria")
    assert [t["id"] for t in maria.get("/console/api/inbox").json()["taken"]] == [ticket]


def test_an_agent_message_is_kept_in_the_conversation_and_pushed_with_the_agents_name(
    console_client: Clients, console_app: FastAPI
) -> None:
    ticket = handed_over(console_app, "msg-a")
    maria = console_client("agent", name="Maria")
    jonas = console_client("agent", name="Jonas")
    before = maria.get(f"/console/api/handoffs/{ticket}/events").json()
    assert [e["role"] for e in before["events"]] == ["customer", "bot", "customer"]
    not_yet = maria.post(f"/console/api/handoffs/{ticket}/messages", json={"text": "Hi"}, headers=maria.csrf_header)
    assert not_yet.status_code == 409 and not_yet.json()["error"]["code"] == "handoff_not_yours"
    maria.post(f"/console/api/handoffs/{ticket}/take", headers=maria.csrf_header)
    sent = maria.post(
        f"/console/api/handoffs/{ticket}/messages", json={"text": "Hello, I'm on it."}, headers=maria.csrf_header
    )
    assert sent.status_code == 201
    stored = bot_events(console_app, "msg-a")[-1]
    who = {"id": maria.member.id, "name": "Maria"}
    assert stored["text"] == "Hello, I'm on it."
    assert stored["metadata"]["agent"] == who and stored["data"]["metadata"] == {"agent": who}  # analytics read this
    rows = outbox_rows(console_app, "msg-a")
    assert rows[-1] == [{"id": stored["data"]["id"], "text": "Hello, I'm on it.", "agent": who, "handoff": "message"}]
    after = maria.get(f"/console/api/handoffs/{ticket}/events", params={"after": before["cursor"]}).json()
    assert [(e["role"], e.get("agent"), e["text"]) for e in after["events"]][-1] == (
        "agent",
        "Maria",
        "Hello, I'm on it.",
    )
    again = maria.get(f"/console/api/handoffs/{ticket}/events", params={"after": after["cursor"]}).json()
    assert again["events"] == []  # the cursor moves on
    other = jonas.post(f"/console/api/handoffs/{ticket}/messages", json={"text": "me too"}, headers=jonas.csrf_header)
    assert other.status_code == 409
    empty = maria.post(f"/console/api/handoffs/{ticket}/messages", json={"text": "   "}, headers=maria.csrf_header)
    assert empty.status_code == 422
    typing = maria.post(f"/console/api/handoffs/{ticket}/typing", headers=maria.csrf_header)
    assert typing.status_code == 204
    assert outbox_rows(console_app, "msg-a")[-1] == [{"signal": "agent_typing", "agent": who}]


def test_the_customer_typing_shows_in_the_live_view(console_client: Clients, console_app: FastAPI) -> None:
    ticket = handed_over(console_app, "typing-a")
    maria = console_client("agent", name="Maria")
    assert maria.get(f"/console/api/handoffs/{ticket}/events").json()["customer_typing"] is False
    live_of(console_app).customer_typing("typing-a")
    assert maria.get(f"/console/api/handoffs/{ticket}/events").json()["customer_typing"] is True


def test_hand_back_resumes_the_bot_and_twice_is_refused(console_client: Clients, console_app: FastAPI) -> None:
    ticket = handed_over(console_app, "back-a")
    maria = console_client("agent", name="Maria")
    jonas = console_client("agent", name="Jonas")
    maria.post(f"/console/api/handoffs/{ticket}/take", headers=maria.csrf_header)
    refused = jonas.post(f"/console/api/handoffs/{ticket}/hand-back", headers=jonas.csrf_header)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "handoff_taken"
    back = maria.post(f"/console/api/handoffs/{ticket}/hand-back", headers=maria.csrf_header)
    assert back.status_code == 200 and back.json()["ticket"]["status"] == "handed_back"
    state = console_app.state.assistant.tracker_store.load("back-a")
    assert not state.paused and state.slots["handoff_agent"] is None
    assert bot_events(console_app, "back-a")[-1]["text"].startswith("Maria has handed you back to me")
    assert outbox_rows(console_app, "back-a")[-1][0]["handoff"] == "returned"
    twice = maria.post(f"/console/api/handoffs/{ticket}/hand-back", headers=maria.csrf_header)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "handoff_closed"
    assert twice.json()["error"]["message"].startswith("this conversation was already handed back to the bot at ")
    assert len(bot_events(console_app, "back-a")) == 3  # handed over, joined, returned: nothing said twice
    # the bot answers again
    replies = console_app.state.assistant.handle(Message("back-a", "hello"))
    assert replies and "team will reply" not in replies[0].text


def test_every_change_needs_the_csrf_token_and_a_session(console_client: Clients, console_app: FastAPI) -> None:
    ticket = handed_over(console_app, "csrf-a")
    maria = console_client("agent", name="Maria")
    for path in ("take", "messages", "typing", "hand-back"):
        refused = maria.post(f"/console/api/handoffs/{ticket}/{path}", json={"text": "x"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_rejected"
    assert console_app.state.handoffs.get(ticket).waiting
    anonymous = TestClient(console_app)
    assert anonymous.get("/console/api/inbox").status_code == 401
    assert anonymous.get("/console", follow_redirects=False).status_code == 303
    assert maria.get("/console/api/handoffs/999/events").status_code == 404


def test_a_vanished_agent_loses_the_conversation_and_the_customer_is_told(
    console_app: FastAPI, fake_assistant: Assistant
) -> None:
    ticket = handed_over(console_app, "gone-a")
    now = [datetime.now(UTC)]
    outbox = SqlOutbox.from_url(console_app.state.settings.resolved_database_url)
    store = SqlHandoffStore(console_app.state.handoffs.engine, clock=lambda: now[0])
    live = LiveHandoff(fake_assistant, store, outbox, timeout_seconds=120, clock=lambda: now[0])
    live.take(ticket, Agent(5, "Maria"))
    now[0] += timedelta(seconds=100)
    live.view(ticket, 0, Agent(5, "Maria"))  # her console polls: still hers
    now[0] += timedelta(seconds=100)
    assert live.sweep() == []
    now[0] += timedelta(seconds=30)
    [requeued] = live.sweep()
    assert requeued.id == ticket and store.get(ticket).waiting  # type: ignore[union-attr]
    said = bot_events(console_app, "gone-a")[-1]["text"]
    assert said.startswith("Maria had to step away.")
    assert outbox_rows(console_app, "gone-a")[-1][0]["handoff"] == "left"
    state = fake_assistant.tracker_store.load("gone-a")
    assert state is not None and state.paused and state.slots["handoff_agent"] is None  # still waiting for a person


def test_while_an_agent_holds_the_conversation_the_bot_stays_quiet(console_app: FastAPI) -> None:
    ticket = handed_over(console_app, "quiet-a")
    live_of(console_app).take(ticket, Agent(5, "Maria"))
    assert console_app.state.assistant.handle(Message("quiet-a", "are you there?")) == []
    user = console_app.state.assistant.history("quiet-a", 5)
    assert any(e.get("event") == "user" and e.get("text") == "are you there?" for e in user)


def test_a_pushed_agent_message_reaches_the_open_widget_with_the_agents_name(console_app: FastAPI) -> None:
    ticket = handed_over(console_app, "ws-a")
    outbox = SqlOutbox.from_url(console_app.state.settings.resolved_database_url)
    hub = PushHub(outbox, poll_seconds=0.05)
    console_app.state.push = hub
    client = TestClient(console_app)
    token = tokens_of(console_app).issue("ws-a")
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "history", "sender": "ws-a", "token": token, "limit": 1})
        assert ws.receive_json()["type"] == "history"  # the socket proved the conversation: registered
        live = live_of(console_app)
        live.take(ticket, Agent(5, "Maria"))
        live.send(ticket, Agent(5, "Maria"), "Hello from Maria")
        live.agent_typing(ticket, Agent(5, "Maria"))
        ws.portal.call(hub.deliver_pending)  # type: ignore[attr-defined]
        joined = ws.receive_json()
        assert joined["type"] == "replies" and joined["proactive"] is True
        assert joined["replies"][0]["agent"] == {"name": "Maria"} and joined["replies"][0]["handoff"] == "joined"
        message = ws.receive_json()
        assert message["replies"][0]["text"] == "Hello from Maria" and message["replies"][0]["agent"] == {
            "name": "Maria"
        }
        assert ws.receive_json() == {"type": "agent_typing", "sender": "ws-a", "agent": {"name": "Maria"}}
        ws.send_json({"type": "typing", "sender": "ws-a", "token": token})
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and console_app.state.handoffs.get(ticket).customer_typing_at is None:
            time.sleep(0.02)
        assert console_app.state.handoffs.get(ticket).customer_typing_at is not None
        ws.send_json({"type": "typing", "sender": "ws-a", "token": "forged"})
        assert ws.receive_json()["type"] == "error"

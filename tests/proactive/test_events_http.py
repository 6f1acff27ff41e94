"""Events and reminders over real HTTP with the real model and database (docs/proactive.md).

One server with an admin token for the module; the reminder test starts a second app on the same
database after the first one stopped: the reminder set before the restart fires after it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from bot.config import Settings
from bot.proactive.outbox import SqlOutbox
from bot.proactive.reminders import Reminder, SqlScheduler, reminders_table
from server.app import create_app
from server.conversation_tokens import tokens_of
from server.push import push_of
from server.testing import ServerThread

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "proactive-admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SHIPPED = {
    "name": "EXTERNAL_order_shipped",
    "entities": {"order_number": "AN-10001", "item": "your coat", "delivery_date": "2030-01-03"},
}


def settings(tmp: Path | None = None) -> Settings:
    extra: dict[str, Any] = {"database_url": f"sqlite:///{tmp / 'bot.db'}"} if tmp else {}
    return Settings(
        project_dir=ROOT,
        watch_knowledge=False,
        learning_retrain=False,
        admin_token=TOKEN,
        reminder_poll_seconds=0.2,
        **extra,
    )


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FastAPI, str]]:
    app = create_app(settings())
    with ServerThread(app, timeout=900) as url:  # the session's first server trains the model
        yield app, url


def history(app: FastAPI, url: str, sender: str) -> list[dict[str, Any]]:
    token = tokens_of(app).issue(sender)
    answer = httpx.get(f"{url}/conversations/{sender}/history", headers={"X-Conversation-Token": token})
    assert answer.status_code == 200, answer.text
    messages: list[dict[str, Any]] = answer.json()["messages"]
    return messages


def trigger(url: str, sender: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{url}/conversations/{sender}/trigger_intent",
        params={"output_channel": "latest"},
        json=body,
        headers=AUTH if headers is None else headers,
        timeout=30,
    )


@pytest.mark.parametrize(("headers", "status"), [({}, 401), ({"Authorization": "Bearer wrong"}, 403)])
def test_trigger_intent_needs_the_admin_token(
    served: tuple[FastAPI, str], headers: dict[str, str], status: int
) -> None:
    app, url = served
    answer = trigger(url, "events-auth", SHIPPED, headers)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == {401: "unauthorized", 403: "forbidden"}[status]
    assert history(app, url, "events-auth") == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "EXTERNAL_parcel_lost", "entities": {}}, 404, "unknown_event"),
        ({"name": "EXTERNAL_order_shipped", "entities": {"order_number": 10001}}, 422, "invalid_entities"),
        (
            {"name": "EXTERNAL_order_shipped", "entities": {"order_number": "AN-1", "delivery_date": "soon"}},
            422,
            "invalid_entities",
        ),
        ({"name": "EXTERNAL_order_shipped", "entities": {}, "extra": 1}, 422, "invalid_request"),
    ],
)
def test_bad_events_are_refused_and_nothing_is_stored(
    served: tuple[FastAPI, str], body: dict[str, Any], status: int, code: str
) -> None:
    app, url = served
    answer = trigger(url, "events-bad", body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert history(app, url, "events-bad") == []
    assert SqlOutbox.from_url(app.state.settings.resolved_database_url).pending(["events-bad"], since=0) == []


def test_shipped_event_is_said_stored_and_pushed_to_an_open_socket(served: tuple[FastAPI, str]) -> None:
    app, url = served
    received: list[list[dict[str, Any]]] = []

    async def socket(replies: list[dict[str, Any]]) -> None:
        received.append(replies)

    hub = push_of(app)
    assert hub is not None
    hub.register("events-anna", socket)  # what the widget's socket does once its token is proven
    try:
        answer = trigger(url, "events-anna", SHIPPED)
        assert answer.status_code == 200, answer.text
        (message,) = answer.json()["messages"]
        assert message["recipient_id"] == "events-anna"
        assert "your coat" in message["text"] and "AN-10001" in message["text"] and "Thursday" in message["text"]
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [r["text"] for r in received[0]] == [message["text"]]
    finally:
        hub.unregister("events-anna", socket)
    shown = history(app, url, "events-anna")
    assert [m["text"] for m in shown if m["role"] == "bot"] == [message["text"]]
    assert not [m for m in shown if m["role"] == "user"]  # the event is not shown as the customer's message


def test_event_without_an_open_widget_waits_for_the_next_visit(served: tuple[FastAPI, str]) -> None:
    app, url = served
    body = {"name": "EXTERNAL_return_received", "entities": {"order_number": "AN-10002", "refund_days": 5}}
    answer = trigger(url, "events-later", body)
    assert answer.status_code == 200
    outbox = SqlOutbox.from_url(app.state.settings.resolved_database_url)
    time.sleep(1)  # a poll or two: no socket is open, so it stays
    (waiting,) = outbox.pending(["events-later"], since=0)
    assert "within 5 days" in waiting.replies[0]["text"]
    assert [m["text"] for m in history(app, url, "events-later") if m["role"] == "bot"] == [waiting.replies[0]["text"]]


def test_a_reminder_set_before_a_restart_fires_after_it(tmp_path: Path) -> None:
    first = create_app(settings(tmp_path))
    with ServerThread(first, timeout=180) as url:
        assert httpx.get(f"{url}/readyz").status_code == 200
    due = time.time() + 1.0
    scheduler = SqlScheduler.from_url(settings(tmp_path).resolved_database_url)
    entities = {
        "appointment_reference": "FT-DEMO1",
        "shop_name": "Atelier Nord Paris",
        "starts_at": "2030-01-03T11:00:00+01:00",
    }
    scheduler.schedule(
        Reminder("reminded", "appointment_FT-DEMO1", "EXTERNAL_appointment_reminder", due, entities, False)
    )
    second = create_app(settings(tmp_path))  # the server restarted: a new process state, the same database
    with ServerThread(second, timeout=180) as url:
        deadline = time.monotonic() + 10
        said: list[str] = []
        while not said and time.monotonic() < deadline:
            said = [m["text"] for m in history(second, url, "reminded") if m["role"] == "bot"]
            time.sleep(0.1)
    assert len(said) == 1 and "FT-DEMO1" in said[0] and "tomorrow" in said[0]
    assert scheduler.waiting() == [] and scheduler.claim_due(time.time() + 3600, "again") == []


def _click(replies: list[dict[str, Any]], title: str) -> str:
    """The payload of the button `title` among `replies` (as the widget sends it when clicked)."""
    for reply in replies:
        for button in reply.get("buttons") or ():
            if button["title"] == title:
                return str(button["payload"])
    raise AssertionError(f"no button {title!r} in {[r.get('text') for r in replies]}")


def test_yes_remind_me_in_a_conversation_schedules_a_reminder_that_fires_once_after_a_restart(tmp_path: Path) -> None:
    """The whole path: a booking in the chat, "Yes, remind me", the row the turn wrote, then (the clock moved
    to its due time, the only thing the test does by hand) a restarted server says it once."""
    sender, token = "remind-e2e", ""
    day = date.today() + timedelta(days=4)
    while day.weekday() not in (1, 2, 3, 4):  # a weekday the Berlin shop opens, days ahead: the reminder is future
        day += timedelta(days=1)
    first = create_app(settings(tmp_path))
    with ServerThread(first, timeout=180) as url:

        def say(text: str) -> list[dict[str, Any]]:
            nonlocal token
            headers = {"X-Conversation-Token": token} if token else {}
            answer = httpx.post(f"{url}/chat", json={"sender": sender, "message": text}, headers=headers, timeout=60)
            assert answer.status_code == 200, answer.text
            token = answer.json()["token"]
            replies: list[dict[str, Any]] = answer.json()["replies"]
            return replies

        say(f"book a fitting in Berlin on {day:%A %d %B} at 3pm")
        confirm = say("anna@example.com")
        booked = say(_click(confirm, "Yes, book it"))
        reference = next(w for r in booked for w in str(r.get("text")).split() if w.startswith("FT-")).strip(".,;)")
        offered = say(_click(booked, "Yes, remind me"))
        assert any("I'll remind you here on" in str(r.get("text")) for r in offered), offered
    scheduler = SqlScheduler.from_url(settings(tmp_path).resolved_database_url)
    (reminder,) = scheduler.waiting(sender)
    assert reminder.intent == "EXTERNAL_appointment_reminder"
    assert reminder.entities["appointment_reference"] == reference
    starts = datetime.fromisoformat(str(reminder.entities["starts_at"]))
    assert starts.date() == day and starts.hour == 15  # 15:00 that day, Berlin time
    assert abs(reminder.due_at - (starts.timestamp() - 86_400)) < 3600  # the day before
    with scheduler.engine.begin() as conn:  # the clock moves to the due time; nothing else is touched
        conn.execute(update(reminders_table).where(reminders_table.c.id == reminder.id).values(due_at=time.time()))
    second = create_app(settings(tmp_path))
    with ServerThread(second, timeout=180) as url:
        deadline = time.monotonic() + 10
        said: list[str] = []
        while not any(reference in s for s in said) and time.monotonic() < deadline:
            said = [m["text"] for m in history(second, url, sender) if m["role"] == "bot"]
            time.sleep(0.1)
        time.sleep(1.0)  # several polls of the scheduler: it must not say it twice
        said = [m["text"] for m in history(second, url, sender) if m["role"] == "bot"]
    reminders_said = [s for s in said if s.startswith("A reminder:")]
    assert len(reminders_said) == 1 and reference in reminders_said[0] and "tomorrow" in reminders_said[0]
    assert scheduler.waiting(sender) == []

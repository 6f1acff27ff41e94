"""Live handoff across nodes (issue 18, issue 19): the customer's widget holds its socket on node 0, the agent
works in the console of node 1. The agent's reply and "typing…" reach the customer's socket on node 0, with
the agent's name, and the hand-back is said there too.

Delivery goes through the shared database (the live-handoff rows) and, with Redis, its wake-up channel; the
node that holds the socket pushes what it finds. Both nodes share the cluster's PostgreSQL.
"""

from __future__ import annotations

import contextlib
import secrets
import time

import httpx
import pytest

from bot.config import Settings
from bot.database_file import make_engine
from bot.staff import Passwords, StaffServices
from tests.cluster.conftest import Cluster
from tests.cluster.test_socketio_across_nodes import WAIT_SECONDS, wait_for, widget
from tests.console.conftest import CSRF_INPUT, FAST_HASHER

pytestmark = [pytest.mark.cluster, pytest.mark.integration]


def signed_in_agent(cluster: Cluster, node: int, name: str) -> httpx.Client:
    """An agent account in the shared database, signed in to the console of `node` (a client with its cookie and
    the session's CSRF token as a default header)."""
    email = f"agent-{secrets.token_hex(4)}@example.com"
    password = secrets.token_urlsafe(12)
    engine = make_engine(cluster.database.url)
    try:
        staff = StaffServices.from_engine(engine, Settings(), passwords=Passwords(FAST_HASHER))
        staff.accounts.add(email, password, "agent", name)
    finally:
        engine.dispose()
    client = httpx.Client(base_url=cluster.node_url(node), timeout=60)
    page = client.get("/console/login")
    found = CSRF_INPUT.search(page.text)
    assert found is not None, page.text[:300]
    signed = client.post(
        "/console/login",
        data={"email": email, "password": password, "csrf_token": found.group(1)},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text[:300]
    session = client.get("/console/api/session")
    assert session.status_code == 200, session.text
    client.headers["X-CSRF-Token"] = session.json()["csrf_token"]
    return client


def waiting_ticket(agent: httpx.Client, sender_id: str) -> int:
    """The id of the inbox's ticket of `sender_id` (waiting for a person), once the inbox shows it."""
    found: list[int] = []

    def listed() -> bool:
        inbox = agent.get("/console/api/inbox")
        assert inbox.status_code == 200, inbox.text
        waiting = inbox.json()["waiting"]
        found[:] = [int(t["id"]) for t in waiting if t["sender_id"] == sender_id]
        return bool(found)

    wait_for(listed, f"the handoff of {sender_id} in node 1's inbox")
    return found[0]


def test_the_agent_on_one_node_reaches_the_customer_socket_on_another(cluster: Cluster) -> None:
    cluster.ensure_all_up()
    agent = signed_in_agent(cluster, 1, "Lea")
    with widget(cluster.node_url(0)) as customer, contextlib.closing(agent):
        typing_seen: list[object] = []
        customer.client.on("agent_typing", typing_seen.append)
        session = customer.session()
        sender = session["session_id"]
        customer.client.emit("user_uttered", {"message": "I want to talk to a person", "session_id": sender})
        wait_for(lambda: bool(customer.texts()), "the handoff reply on node 0")
        ticket = waiting_ticket(agent, sender)

        taken = agent.post(f"/console/api/handoffs/{ticket}/take")
        assert taken.status_code == 200, taken.text
        before = len(customer.uttered)
        typing = agent.post(f"/console/api/handoffs/{ticket}/typing")
        assert typing.status_code == 204, typing.text
        reply = "Hello, this is Lea from Atelier Nord: how can I help?"
        wait_for(lambda: bool(typing_seen), "the agent's typing signal on node 0's socket")
        assert typing_seen[0] == {"agent": {"name": "Lea"}}
        sent = agent.post(f"/console/api/handoffs/{ticket}/messages", json={"text": reply})
        assert sent.status_code == 201, sent.text

        started = time.monotonic()
        wait_for(lambda: reply in customer.texts(), "the agent's reply on node 0's socket", WAIT_SECONDS)
        delivered_after = time.monotonic() - started
        message = next(m for m in customer.uttered[before:] if m.get("text") == reply)
        assert message.get("metadata", {}).get("agent", {}).get("name") == "Lea"
        assert delivered_after < WAIT_SECONDS

        handed = agent.post(f"/console/api/handoffs/{ticket}/hand-back")
        assert handed.status_code == 200, handed.text
        count = len(customer.uttered)
        wait_for(lambda: len(customer.uttered) > count, "the hand-back message on node 0's socket")
        assert not customer.errors

"""socket.io across nodes: a message for a customer reaches the socket whichever node holds it.

- an event sent through node 1 (`trigger_intent`, stored in the outbox) reaches the widget connected to node 0;
- with Redis (python-socketio's `AsyncRedisManager`), the bot's replies to a turn taken on node 1 reach the
  same session's socket on node 0 (two tabs of one customer on two nodes);
- through the balancer: long-polling works because HAProxy keeps `/socket.io/` on one node per client address
  (engine.io sessions live in the node that opened them), and the WebSocket transport works as well.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import socketio
from websockets.sync.client import connect
from websockets.sync.connection import Connection

from tests.cluster.conftest import Cluster

pytestmark = [pytest.mark.cluster, pytest.mark.integration]

WAIT_SECONDS = 20.0  # a turn on a loaded 2-core machine; deliveries themselves take well under a second


class Widget:
    """A socket.io client (long-polling: one engine.io session, so it must stay on one node) and what it got."""

    def __init__(self) -> None:
        self.client = socketio.Client(reconnection=False)
        self.confirmed: list[dict[str, Any]] = []
        self.uttered: list[dict[str, Any]] = []
        self.errors: list[Any] = []
        self._lock = threading.Lock()
        self.client.on("session_confirm", lambda data: self._keep(self.confirmed, data))
        self.client.on("bot_uttered", lambda data: self._keep(self.uttered, data))
        self.client.on("error", lambda data: self._keep(self.errors, data))

    def _keep(self, into: list[Any], data: Any) -> None:
        with self._lock:
            into.append(data)

    def session(self, session_id: str | None = None, token: str | None = None) -> dict[str, Any]:
        """Ask for a session (a new one, or `session_id` with its token); the confirmed one."""
        before = len(self.confirmed)
        self.client.emit("session_request", {"session_id": session_id, "token": token})
        wait_for(lambda: len(self.confirmed) > before, "session_confirm")
        return self.confirmed[-1]

    def texts(self) -> list[str]:
        with self._lock:
            return [str(item.get("text") or "") for item in self.uttered]


def wait_for(check: Callable[[], bool], what: str, seconds: float = WAIT_SECONDS) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"no {what} within {seconds} s"
        time.sleep(0.02)
    return time.monotonic() - started


@contextmanager
def widget(url: str) -> Iterator[Widget]:
    w = Widget()
    w.client.connect(url, socketio_path="/socket.io", transports=["polling"], wait_timeout=30)
    try:
        yield w
    finally:
        # Client.disconnect() waits for the pending long-poll (up to the 25 s ping interval); abort instead
        w.client.eio.disconnect(abort=True)


def test_an_event_sent_through_another_node_reaches_the_socket(cluster: Cluster) -> None:
    cluster.ensure_all_up()
    with widget(cluster.node_url(0)) as w:
        session = w.session()
        answer = httpx.post(
            f"{cluster.node_url(1)}/conversations/{session['session_id']}/trigger_intent",
            json={"name": "EXTERNAL_order_shipped", "entities": {"order_number": "AN-10001"}},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        sent = [str(m.get("text") or "") for m in answer.json()["messages"] if m.get("text")]
        assert sent, answer.text
        wait_for(lambda: bool(w.texts()), "bot_uttered on node 0")
        assert w.texts()[0] == sent[0].strip().split("\n\n")[0]


def test_replies_of_a_turn_on_one_node_reach_the_sessions_socket_on_another(cluster: Cluster) -> None:
    if not os.environ.get("SUPPORTBOT_CLUSTER_REDIS_URL") and not os.environ.get("SUPPORTBOT_REDIS_URL"):
        pytest.skip("needs Redis (SUPPORTBOT_CLUSTER_REDIS_URL): without it a room is per node")
    cluster.ensure_all_up()
    with widget(cluster.node_url(0)) as tab0, widget(cluster.node_url(1)) as tab1:
        session = tab0.session()
        joined = tab1.session(session["session_id"], session["token"])
        assert joined["session_id"] == session["session_id"]
        tab1.client.emit("user_uttered", {"message": "hi", "session_id": session["session_id"]})
        wait_for(lambda: bool(tab1.texts()), "reply on node 1 (where the turn ran)")
        wait_for(lambda: tab0.texts() == tab1.texts(), "the same replies on node 0")
        time.sleep(0.5)  # nothing more arrives on one tab only
        assert tab0.texts() == tab1.texts()
        assert not tab0.errors and not tab1.errors


def test_long_polling_through_the_balancer_stays_on_one_node(cluster: Cluster) -> None:
    """Every polling request of the connection reaches the node that opened it (HAProxy balances /socket.io/
    by client address); a round-robin balancer would answer `Invalid session` from the second request on."""
    cluster.ensure_all_up()
    with widget(cluster.url) as w:
        session = w.session()
        for text in ("hi", "where is my order AN-10001?"):
            before = len(w.texts())
            w.client.emit("user_uttered", {"message": text, "session_id": session["session_id"]})
            wait_for(lambda: len(w.texts()) > before, f"a reply to {text!r}")  # noqa: B023 - waited at once
        assert not w.errors, w.errors
        assert w.client.transport() == "polling"


def _packet(ws: Connection, wanted: str) -> Any:
    """The data of the next socket.io event named `wanted` (answering engine.io pings meanwhile)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        raw = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
        assert isinstance(raw, str)
        if raw == "2":  # engine.io ping
            ws.send("3")
        elif raw.startswith("42"):
            event, *data = json.loads(raw[2:])
            if event == wanted:
                return data[0] if data else None
        assert time.monotonic() < deadline, f"no {wanted} within {WAIT_SECONDS} s"


def test_the_websocket_transport_through_the_balancer(cluster: Cluster) -> None:
    """rasa-webchat's WebSocket (engine.io straight on `transport=websocket`): one connection, one node."""
    cluster.ensure_all_up()
    url = cluster.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    with connect(url, open_timeout=30) as ws:
        assert str(ws.recv(timeout=30)).startswith("0")  # engine.io open
        ws.send("40")
        assert str(ws.recv(timeout=30)).startswith("40")  # socket.io connected to "/"
        ws.send("42" + json.dumps(["session_request", {"session_id": None}]))
        session_id = _packet(ws, "session_confirm")["session_id"]
        ws.send("42" + json.dumps(["user_uttered", {"message": "hi", "session_id": session_id}]))
        reply = _packet(ws, "bot_uttered")
        assert reply.get("text"), reply

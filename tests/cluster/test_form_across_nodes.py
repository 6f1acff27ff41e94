"""A conversation whose turns land on different nodes keeps its form state: the state lives in PostgreSQL,
not in a node. The order number goes to one node, the email to another, and the status comes back."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.cluster.conftest import Cluster

pytestmark = [pytest.mark.cluster, pytest.mark.integration]


def _say(client: httpx.Client, url: str, sender: str, text: str, token: str | None) -> tuple[str, str]:
    """Send one message to `url` (a node); the bot's joined reply text and the conversation's fresh token."""
    headers = {"X-Conversation-Token": token} if token else {}
    answer = client.post(f"{url}/chat", json={"sender": sender, "message": text}, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return " ".join(r.get("text") or "" for r in body["replies"]), body["token"]


def test_order_status_form_alternates_between_nodes(cluster: Cluster) -> None:
    cluster.ensure_all_up()
    sender = f"across-{uuid.uuid4().hex[:8]}"
    with httpx.Client(timeout=30) as client:
        first, token = _say(client, cluster.node_url(0), sender, "where is my order AN-10001?", None)
        assert "email" in first.lower(), first  # the form asks for the order's email on node 0
        second, token = _say(client, cluster.node_url(1), sender, "anna@example.com", token)
        assert "AN-10001" in second and "shipped" in second.lower(), second  # node 1 knew the order number
        third, _ = _say(client, cluster.node_url(2), sender, "thanks!", token)
        assert third


def test_the_balancer_spreads_one_conversation_over_every_node(cluster: Cluster) -> None:
    """Round-robin without stickiness: consecutive turns of one customer go to different nodes, and the
    form still completes."""
    cluster.ensure_all_up()
    sender = f"balanced-{uuid.uuid4().hex[:8]}"
    nodes: list[str] = []
    with httpx.Client(timeout=30) as client:
        token: str | None = None
        replies = []
        for text in ("hi", "where is my order AN-10013?", "grace@example.com"):
            headers = {"X-Conversation-Token": token} if token else {}
            answer = client.post(f"{cluster.url}/chat", json={"sender": sender, "message": text}, headers=headers)
            assert answer.status_code == 200, answer.text
            nodes.append(answer.headers["x-supportbot-node"])
            token = answer.json()["token"]
            replies.append(" ".join(r.get("text") or "" for r in answer.json()["replies"]))
    assert len(set(nodes)) >= 2, nodes
    assert "AN-10013" in replies[-1] and "shipped" in replies[-1].lower(), replies

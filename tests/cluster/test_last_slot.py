"""Three customers, each on another node, confirm the same fitting slot at the same moment: exactly one is
booked. The guarantee is the database's (the partial unique index `uq_appointment_booked_slot` on booked
appointments, bot/actions/backend/models.py), not a check inside one process."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.cluster.conftest import Cluster

pytestmark = [pytest.mark.cluster, pytest.mark.integration]

REFERENCE_WORDS = "booking reference is FT-"


class Customer:
    def __init__(self, client: httpx.Client, url: str) -> None:
        self.client = client
        self.url = url
        self.sender = f"slot-{uuid.uuid4().hex[:8]}"
        self.token: str | None = None
        self.transcript: list[str] = []

    def say(self, message: str) -> list[dict[str, Any]]:
        headers = {"X-Conversation-Token": self.token} if self.token else {}
        answer = self.client.post(f"{self.url}/chat", json={"sender": self.sender, "message": message}, headers=headers)
        assert answer.status_code == 200, answer.text
        self.token = answer.json()["token"]
        replies: list[dict[str, Any]] = answer.json()["replies"]
        self.transcript += [f"customer: {message}"] + [f"bot: {r.get('text')}" for r in replies]
        return replies

    def text(self, replies: list[dict[str, Any]]) -> str:
        return " ".join(r.get("text") or "" for r in replies)


def _buttons(replies: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [b for r in replies for b in (r.get("buttons") or [])]


def test_exactly_one_of_three_nodes_books_the_last_slot(cluster: Cluster) -> None:
    cluster.ensure_all_up()
    with httpx.Client(timeout=60) as client:
        customers = [Customer(client, cluster.node_url(i)) for i in range(3)]
        first = customers[0]
        days = _buttons(first.say("I want to book a fitting at the Berlin store"))
        assert days, "\n".join(first.transcript)
        times = _buttons(first.say(days[-1]["payload"]))  # the last day offered: no other test books it
        assert times, "\n".join(first.transcript)
        slot = times[-1]["payload"]
        first.say(slot)
        for other in customers[1:]:
            other.say("I want to book a fitting at the Berlin store")
            other.say(slot)
        for index, customer in enumerate(customers):
            asked = customer.text(customer.say(f"slot{index}@example.com"))
            assert "Shall I book it?" in asked, "\n".join(customer.transcript)

        start = threading.Barrier(len(customers))
        answers: dict[int, str] = {}

        def confirm(index: int) -> None:
            start.wait()
            answers[index] = customers[index].text(customers[index].say("/affirm"))

        threads = [threading.Thread(target=confirm, args=(i,)) for i in range(len(customers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

    booked = [i for i, answer in answers.items() if REFERENCE_WORDS in answer]
    transcripts = "\n\n".join("\n".join(c.transcript) for c in customers)
    assert len(answers) == len(customers), transcripts
    assert len(booked) == 1, transcripts

    engine = create_engine(cluster.database.url)
    with engine.connect() as conn:
        emails = conn.execute(
            text("SELECT email FROM shop_appointments WHERE status = 'booked' AND email LIKE 'slot_@example.com'")
        ).scalars()
        assert list(emails) == [f"slot{booked[0]}@example.com"]
    engine.dispose()

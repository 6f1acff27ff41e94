"""Customer memory over real HTTP with the real model and database: a customer proves who they are, agrees
to be remembered, and staff show, export and delete everything under `/admin/customers/`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

EMAIL = "grace@example.com"  # AN-10013; no other integration test uses her


class Customer:
    """One conversation on `POST /chat`, sending back the conversation token every answer carries."""

    def __init__(self, url: str, sender: str) -> None:
        self.url, self.sender, self.token = url, sender, ""

    def say(self, message: str) -> dict[str, Any]:
        headers = {"X-Conversation-Token": self.token} if self.token else {}
        response = httpx.post(f"{self.url}/chat", json={"sender": self.sender, "message": message}, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        self.token = str(body.get("token") or "")
        return body


def said(body: dict[str, Any]) -> str:
    return "\n".join(r["text"] for r in body["replies"])


def test_remembered_customer_shown_exported_and_deleted(live_server: str) -> None:
    chat = Customer(live_server, "memory-http-1")
    assert "AN-10013" in said(chat.say(f"where is my order AN-10013, email {EMAIL}"))
    assert "London as your shop" in said(chat.say("please remember London as my usual store"))

    shown = httpx.get(f"{live_server}/admin/customers/{EMAIL}")
    assert shown.status_code == 200
    assert shown.json()["profile"]["preferences"] == {"shop": "london"}
    assert shown.json()["stored"]["conversations"] == 1

    exported = httpx.get(f"{live_server}/admin/customers/{EMAIL}/export").json()
    (conversation,) = exported["conversations"]
    typed = [e["text"] for e in conversation["events"] if e["event"] == "user"]
    assert typed == [f"where is my order AN-10013, email {EMAIL}", "please remember London as my usual store"]

    deleted = httpx.delete(f"{live_server}/admin/customers/{EMAIL}")
    assert deleted.status_code == 200 and deleted.json()["rows"]["customer_profiles"] == 1
    gone = httpx.get(f"{live_server}/admin/customers/{EMAIL}/export")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"

    again = Customer(live_server, "memory-http-2")
    assert "don't know who you are" in said(again.say("what do you know about me?"))


def test_unknown_customer_is_a_json_404(live_server: str) -> None:
    for method in ("GET", "DELETE"):
        response = httpx.request(method, f"{live_server}/admin/customers/nobody@example.com")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert "nobody@example.com" in response.json()["error"]["message"]

"""Product search end to end: the real model, the real catalogue database and the real HTTP server."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import httpx
import pytest

pytestmark = pytest.mark.integration


_tokens: dict[str, str] = {}
"""Each conversation's token, from its last answer (docs/security.md)."""


def _chat(server: str, sender: str, message: str) -> list[dict[str, object]]:
    headers = {"X-Conversation-Token": _tokens[sender]} if sender in _tokens else {}
    response = httpx.post(f"{server}/chat", json={"sender": sender, "message": message}, headers=headers, timeout=30)
    assert response.status_code == 200
    _tokens[sender] = response.json()["token"]
    replies: list[dict[str, object]] = response.json()["replies"]
    return replies


def _cards(replies: list[dict[str, object]]) -> list[dict[str, object]]:
    return [card for reply in replies for card in reply.get("cards", [])]  # type: ignore[attr-defined]


def _price(card: dict[str, object]) -> float:
    match = re.search(r"[\d.]+", str(card["price"]))
    assert match is not None
    return float(match.group(0))


def test_a_search_with_a_price_bound_shows_cards_within_it(live_server: str) -> None:
    cards = _cards(_chat(live_server, "p1", "I'm looking for a warm coat under 200"))
    assert 1 <= len(cards) <= 5
    assert all(_price(c) <= 200 for c in cards)
    assert all(str(c["url"]).startswith("/products/") for c in cards)
    titles = [b["title"] for b in cards[0]["buttons"]]  # type: ignore[attr-defined]
    assert any("Similar" in str(t) for t in titles) and any("Goes with" in str(t) for t in titles)


def test_refining_over_several_turns_keeps_the_search(live_server: str) -> None:
    first = _cards(_chat(live_server, "p2", "show me sweaters"))
    assert first
    replies = _chat(live_server, "p2", "cheaper ones")
    cheaper = _cards(replies)
    assert cheaper
    honest = "nothing matches" in str(replies[0]["text"]).lower()  # none cheaper: the closest, and it says so
    assert honest or max(_price(c) for c in cheaper) < min(_price(c) for c in first)
    assert all("sweater" in str(c["title"]).lower() or "jumper" in str(c["title"]).lower() for c in cheaper)
    detail = _chat(live_server, "p2", "the second one")
    assert len(_cards(detail)) == 1 and _cards(detail)[0]["id"] == cheaper[1]["id"]


def test_a_card_button_and_the_product_page(live_server: str) -> None:
    cards = _cards(_chat(live_server, "p3", "black jeans"))
    assert cards
    pairing = next(b for b in cards[0]["buttons"] if "Goes with" in b["title"])  # type: ignore[attr-defined]
    matched = _cards(_chat(live_server, "p3", str(pairing["payload"])))
    assert matched and all(c["id"] != cards[0]["id"] for c in matched)
    page = httpx.get(f"{live_server}{cards[0]['url']}", timeout=30)
    assert page.status_code == 200 and str(cards[0]["title"]) in page.text
    image = httpx.get(f"{live_server}{cards[0]['image_url']}", timeout=30)
    assert image.status_code == 200 and image.headers["content-type"].startswith("image/svg+xml")
    ElementTree.fromstring(image.text)


def test_stock_by_size_and_shop_and_a_policy_question_in_between(live_server: str) -> None:
    answer = _chat(live_server, "p4", "do you have the wool coat in M in Berlin?")
    assert any("Wool coat" in str(r["text"]) for r in answer)
    policy = _chat(live_server, "p4", "how long does delivery to Germany take")
    assert policy[0].get("sources") and not _cards(policy)


def test_the_rasa_rest_channel_carries_a_carousel(live_server: str) -> None:
    items = httpx.post(
        f"{live_server}/webhooks/rest/webhook", json={"sender": "p5", "message": "linen shirts"}, timeout=30
    ).json()
    carousels = [i["attachment"] for i in items if isinstance(i.get("attachment"), dict)]
    assert carousels and carousels[0]["payload"]["template_type"] == "generic"
    assert str(carousels[0]["payload"]["elements"][0]["image_url"]).startswith("http")

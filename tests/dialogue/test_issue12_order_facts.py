"""Issue 12: a message naming an order is about the order, even when it also names a product.

"what happened to my trench coat order AN-10008" was taken for a product question (the classifier
ranked `product_availability` first) and answered with the trench coat's stock, while the customer
asked about an order. An order number makes the product one of the order's: the facts' rule (the
order status) decides. A product question without an order number stays a product question.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.dialogue.policy import Policy
from bot.dialogue.turn import Turn
from bot.domain import Domain
from bot.intents_loader import load_intents
from bot.types import Entity, IntentScore, Parse

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return load_intents(ROOT / "intents", root=ROOT).domain


def policy(domain: Domain) -> Policy:
    engine: Any = SimpleNamespace(domain=domain)
    return Policy(engine)


def turn(text: str, intent: str, *entities: tuple[str, str]) -> Turn:
    found = tuple(
        Entity(name, value, text.find(value), text.find(value) + len(value), "test") for name, value in entities
    )
    return Turn(Parse(text, IntentScore(intent, 0.4), found))


@pytest.mark.parametrize("intent", ["product_availability", "product_search"])
def test_an_order_number_with_a_product_runs_the_order_rule(domain: Domain, intent: str) -> None:
    message = turn(
        "what happened to my trench coat order AN-10008",
        intent,
        ("category", "trench coat"),
        ("item", "trench coat"),
        ("order_number", "AN-10008"),
    )
    rule = policy(domain).facts_rule(message)
    assert rule is not None
    assert rule.activates_form == "order_status_form"


def test_a_product_question_without_an_order_stays_a_product_question(domain: Domain) -> None:
    message = turn(
        "is the trench coat in stock in paris", "product_availability", ("item", "trench coat"), ("shop", "paris")
    )
    assert policy(domain).facts_rule(message) is None

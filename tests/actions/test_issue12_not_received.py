"""Issue 12: "my order AN-10003 says delivered but nothing came??" got the delivery date and an offer to
start a return. A delivered order the customer says never reached them gets, after its status, where
to look (neighbour, pickup point) and how to reach the team that opens an investigation with the carrier."""

from __future__ import annotations

from typing import Any

import pytest

from bot.actions.orders import NOT_RECEIVED, ActionOrderStatus

from .conftest import make_tracker, run_action

SLOTS = {"order_number": "AN-10003", "order_email": "ben@example.com"}  # delivered by Royal Mail


@pytest.mark.parametrize(
    "text",
    [
        "my order AN-10003 says delivered but nothing came??",
        "it says delivered but I never got it",
        "the parcel hasn't arrived even though it's marked delivered",
        "my package is missing",
    ],
)
def test_not_received_is_recognised(text: str) -> None:
    assert NOT_RECEIVED.search(text)


@pytest.mark.parametrize("text", ["where is my order AN-10003?", "has it arrived yet", "it came yesterday, thanks"])
def test_an_ordinary_status_question_is_not_a_missing_parcel(text: str) -> None:
    assert not NOT_RECEIVED.search(text)


def test_a_missing_delivered_parcel_gets_what_to_do_next(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    asked = {"event": "user", "text": "AN-10003 says delivered but nothing came??", "parse_data": {}}
    tracker = make_tracker(text="ben@example.com", events=[asked], slots=SLOTS)
    status = run_action(ActionOrderStatus(**deps), tracker, domain)
    assert status.responses[-1] == "utter_order_delivered_not_received"
    assert status.message("utter_order_delivered_not_received")["carrier"] == "Royal Mail"


def test_a_plain_status_question_about_a_delivered_order_says_only_the_status(
    deps: dict[str, Any], domain: dict[str, Any]
) -> None:
    tracker = make_tracker(text="where is AN-10003? ben@example.com", slots=SLOTS)
    status = run_action(ActionOrderStatus(**deps), tracker, domain)
    assert "utter_order_delivered_not_received" not in status.responses

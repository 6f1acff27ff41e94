"""Issue 12: a later part of a message that only gives a fact in a few words is not a request of its own.

"Hallo, ich möchte meine Bestellung AN-10004 stornieren. Meine E-Mail ist ben@example.com": the second
sentence has three words besides the email, and the classifier (which reads English) took it for
a task of its own (`order_status`); the bot said "I'll come back to 'Meine E-Mail ist …' right after this" and
asked for the email it had just been given. A short part naming an email, an order number or a booking
reference gives facts to the request before it: an email alone always, an order number or a reference
unless the part's intent starts a task of its own ("… and please cancel order AN-10002").
"""

from __future__ import annotations

from bot.dialogue.engine import DialogueEngine
from bot.dialogue.state import ConversationState

from .test_requests import engine, knowledge, parse, part, say  # noqa: F401  (fixtures and helpers)


def test_a_short_fact_in_another_language_goes_with_the_request(engine: DialogueEngine) -> None:  # noqa: F811
    state = ConversationState("u1")
    text = "ich möchte AN-10004 stornieren. Meine E-Mail ist ben@example.com"
    replies = say(
        engine,
        state,
        parse("cancel_order", text, order_number="AN-10004", email="ben@example.com"),
        part("cancel_order", "ich möchte AN-10004 stornieren.", order_number="AN-10004"),
        part("order_status", "Meine E-Mail ist ben@example.com", email="ben@example.com"),
    )
    assert replies == ["CANCELLED AN-10004 for ben@example.com"]
    assert state.pending_requests == []


def test_a_short_part_that_starts_a_task_is_still_a_request(engine: DialogueEngine) -> None:  # noqa: F811
    state = ConversationState("u1")
    text = "where is AN-10001? and please cancel order AN-10002"
    replies = say(
        engine,
        state,
        parse("order_status", text, order_number="AN-10001"),
        part("order_status", "where is AN-10001?", order_number="AN-10001"),
        part("cancel_order", "please cancel order AN-10002", order_number="AN-10002"),
    )
    assert replies == ["STATUS AN-10001", "RESUMED please cancel order AN-10002", "ASK email"]

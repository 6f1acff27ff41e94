"""The reference bot with the real model: unseen phrasings route to the right intent, replies come
from the right place, and bad input gets polite answers."""

from __future__ import annotations

from typing import Any

import pytest

from bot.types import Message

pytestmark = pytest.mark.integration

# Phrasings written for this test; none is a training example (checked below).
UNSEEN = [
    ("hey there, good evening", "greet"),
    ("hiya!", "greet"),
    ("ok bye, have a good one", "goodbye"),
    ("that's all for today, ciao", "goodbye"),
    ("cheers, that sorted it", "thanks"),
    ("many thanks for the quick help", "thanks"),
    ("am I chatting with an actual human being?", "bot_challenge"),
    ("is this an automated assistant", "bot_challenge"),
    ("yep that's right", "affirm"),
    ("absolutely, go ahead", "affirm"),
    ("nah, not really", "deny"),
    ("what time does the London shop shut on saturdays", "ask_hours"),
    ("is the paris boutique open on bank holidays", "ask_hours"),
    ("till when is customer service reachable today", "ask_hours"),
    ("my package still hasn't turned up, where is it", "order_status"),
    ("can you tell me if order AN-48213 has been dispatched", "order_status"),
    ("the trousers don't fit, I'd like to send them back", "start_return"),
    ("how do I start a return for the dress I got last week", "start_return"),
    ("I'd like to reserve a styling session in Berlin", "book_appointment"),
    ("can I get a fitting appointment next Friday afternoon", "book_appointment"),
    ("please cancel my fitting on Thursday", "cancel_appointment"),
    ("I can't make my appointment anymore, delete it", "cancel_appointment"),
    ("I ordered by mistake, please cancel the whole order", "cancel_order"),
    ("stop my order AN-10422 before it ships", "cancel_order"),
    ("let me speak with someone from your team", "human_handoff"),
    ("I want a real agent, this isn't helping", "human_handoff"),
    ("how long does shipping to Norway take", "faq"),
    ("can I wash a silk blouse in the machine", "faq"),
    ("do you accept apple pay", "faq"),
    ("how long is a gift card valid", "faq"),
]


def test_phrasings_are_not_training_examples(real_settings: Any) -> None:
    from bot import bootstrap

    project = bootstrap.load_project(real_settings)
    known = {e.text.strip().lower() for e in project.data.examples}
    known |= {p.lower() for p in bootstrap.extra_training_examples(real_settings).get("faq", [])}
    assert len(UNSEEN) >= 30
    assert [t for t, _ in UNSEEN if t.lower() in known] == []


# Out of scope: the classifier abstains (out_of_scope examples are its negatives, never a class) or the
# knowledge base finds nothing; either way the bot must not run a task or cite a knowledge entry.
OUT_OF_SCOPE = [
    "who won the football last night",
    "can you help me with my maths homework",
    "what's a good recipe for lasagne",
    "book me a flight to Lisbon",
]


@pytest.mark.parametrize("text", OUT_OF_SCOPE)
def test_out_of_scope_gets_no_task_and_no_knowledge_answer(real_serving: Any, text: str) -> None:
    result = real_serving.assistant.handle_full(Message(f"oos-{text}", text))
    assert not any(r.sources for r in result.replies), [r.text for r in result.replies]
    state = real_serving.assistant.tracker_store.load(f"oos-{text}")
    ran = {e["name"] for e in state.events if e["event"] == "action"}
    assert not {a for a in ran if a.startswith("action_") and a not in ("action_listen", "action_session_start")} - {
        "action_two_stage_fallback",
        "action_knowledge_unknown",
    }


def responses(serving: Any, name: str) -> list[str]:
    return [v["text"] for v in serving.assistant.renderer.responses[name]]


@pytest.mark.parametrize(("text", "intent"), UNSEEN, ids=[t for t, _ in UNSEEN])
def test_unseen_phrasing_routes_to_intent(real_serving: Any, text: str, intent: str) -> None:
    parse = real_serving.assistant.parse(text)
    assert parse.top_intent == intent, [(s.name, round(s.confidence, 3)) for s in parse.intent_ranking[:3]]


def test_opening_hours_answer_over_chat(real_serving: Any) -> None:
    replies = real_serving.assistant.handle(Message("it-hours", "when do you open on sunday?"))
    assert replies and "London" in replies[0].text


def test_knowledge_answer_carries_its_source(real_serving: Any) -> None:
    replies = real_serving.assistant.handle(Message("it-kb", "how long does delivery to Germany take"))
    (reply,) = replies
    assert reply.kind == "knowledge"
    assert [s.id for s in reply.sources] == ["delivery-time-germany"]
    assert reply.sources[0].file == "knowledge/shipping-and-delivery.md"
    assert "2–4 business days" in reply.text


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_message_gets_a_prompt(real_serving: Any, text: str) -> None:
    (reply,) = real_serving.assistant.handle(Message("it-empty", text))
    assert reply.text in responses(real_serving, "utter_empty_message")


def test_very_long_message_is_refused_politely(real_serving: Any) -> None:
    (reply,) = real_serving.assistant.handle(Message("it-long", "a" * 10_000))
    expected = [t.replace("{max_chars}", "2000") for t in responses(real_serving, "utter_message_too_long")]
    assert reply.text in expected


def test_button_payload_bypasses_nlu(real_serving: Any) -> None:
    result = real_serving.assistant.handle_full(Message("it-payload", "/greet"))
    assert result.parse.intent.name == "greet" and result.parse.intent.confidence == 1.0

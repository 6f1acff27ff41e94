"""Signals read after the fact from conversation events (as the dialogue engine stores them), the unanswered
log and the thumbs — including the messages that must not count: button clicks, commands, another session."""

from __future__ import annotations

import numpy as np

from bot.faq.unanswered import UnansweredQuestion
from bot.learning.signals import (
    is_noise,
    lexical_similarity,
    merge_signals,
    signals_from_conversation,
    signals_from_unanswered,
)
from tests.learning.conftest import Chat


def _signals(chat: Chat, sender: str = "u1", **kwargs: object) -> list:  # type: ignore[type-arg]
    return signals_from_conversation(sender, chat.log.events[sender], **kwargs)  # type: ignore[arg-type]


def test_a_knowledge_abstention_is_a_signal(chat: Chat) -> None:
    chat.start("u1")
    chat.user("u1", "do you ship to mars")
    chat.dont_know("u1")
    [signal] = _signals(chat)
    assert (signal.text, signal.kinds, signal.sender_id, signal.intent) == (
        "do you ship to mars", frozenset({"abstention"}), "u1", "faq")  # fmt: skip
    assert signal.answered_entry is None and signal.chosen_entry is None


def test_a_well_answered_message_is_no_signal(chat: Chat) -> None:
    chat.start("u1")
    chat.user("u1", "how do I wash wool")
    chat.answer("u1", "wool-care")
    chat.user("u1", "thanks", intent="thanks", confidence=0.99)
    chat.bot("u1", "You're welcome", response="utter_thanks")
    assert _signals(chat) == []


def test_the_entry_picked_after_did_you_mean_labels_the_message(chat: Chat) -> None:
    chat.start("u1")
    chat.user("u1", "cost of shipping to berlin")
    chat.did_you_mean("u1", "How long does delivery to Germany take?", "Which countries do you deliver to?")
    chat.user("u1", "How long does delivery to Germany take?")  # the button: not the customer's own words
    chat.answer("u1", "delivery-germany")
    [signal] = _signals(chat)
    assert signal.text == "cost of shipping to berlin"
    assert signal.kinds == {"abstention"} and signal.chosen_entry == "delivery-germany"


def test_a_rephrasing_right_after_an_answer_flags_the_answer_and_labels_the_message(chat: Chat) -> None:
    chat.start("u1")
    chat.user("u1", "can I return shoes I wore once")
    chat.answer("u1", "exchanges")
    chat.user("u1", "can I return worn shoes")
    chat.answer("u1", "returns-worn-items")
    [signal] = _signals(chat, similarity=lambda a, b: 0.8)
    assert signal.kinds == {"rephrase"}
    assert (signal.answered_entry, signal.chosen_entry) == ("exchanges", "returns-worn-items")


def test_an_unrelated_next_message_is_no_rephrasing(chat: Chat) -> None:
    chat.start("u1")
    chat.user("u1", "can I return shoes I wore once")
    chat.answer("u1", "returns")
    chat.user("u1", "and where is my order", intent="order_status")
    chat.bot("u1", "Your order number?", response="utter_ask_order_number")
    assert _signals(chat, similarity=lambda a, b: 0.1) == []


def test_thumbs_down_flags_the_message_its_reply_answered(chat: Chat) -> None:
    chat.start("u1")
    chat.user("u1", "can I pay with klarna")
    reply = chat.answer("u1", "payment-methods")
    [signal] = _signals(chat, down_votes={reply})
    assert signal.kinds == {"thumbs_down"} and signal.answered_entry == "payment-methods"
    assert _signals(chat, down_votes={"another-reply"}) == []


def test_asking_for_a_person_right_after_flags_the_previous_message(chat: Chat) -> None:
    chat.start("u1")
    chat.user("u1", "my parcel arrived damaged")
    chat.answer("u1", "returns")
    chat.user("u1", "I want a human", intent="human_handoff", confidence=0.97)
    chat.bot("u1", "Passing you on", kind="action", action="action_human_handoff")
    [signal] = _signals(chat)
    assert signal.text == "my parcel arrived damaged"
    assert signal.kinds == {"handoff"} and signal.answered_entry == "returns"


def test_negative_sentiment_after_an_answer_is_read_from_the_stored_turn(chat: Chat) -> None:
    chat.start("u1")
    chat.user("u1", "when do you ship orders")
    chat.answer("u1", "dispatch")
    chat.user("u1", "that is useless", intent="deny", confidence=0.9, sentiment={"label": "negative", "score": 0.9})
    chat.bot("u1", "Sorry", response="utter_default")
    signals = {s.text: s for s in _signals(chat, similarity=lambda a, b: 0.0)}
    assert signals["when do you ship orders"].kinds == {"negative_sentiment"}
    assert signals["when do you ship orders"].answered_entry == "dispatch"
    assert signals["that is useless"].kinds == {"abstention"}  # it fell back


def test_without_stored_sentiment_there_is_no_sentiment_signal(chat: Chat) -> None:
    chat.start("u1")
    chat.user("u1", "when do you ship orders")
    chat.answer("u1", "dispatch")
    chat.user("u1", "that is useless", intent="deny", confidence=0.9)
    chat.bot("u1", "Okay", response="utter_deny")
    assert _signals(chat, similarity=lambda a, b: 0.0) == []


def test_low_confidence_and_the_confirmed_intent(chat: Chat) -> None:
    chat.start("u1")
    chat.user("u1", "wheres my stuff", intent="nlu_fallback", confidence=0.3, top="order_status", top_confidence=0.35)
    chat.bot("u1", "Did you mean", kind="clarify", buttons=("/order_status", "/greet"),
             action="action_two_stage_fallback")  # fmt: skip
    chat.user("u1", "/order_status", intent="order_status", confidence=1.0)
    chat.bot("u1", "Your order number?", response="utter_ask_order_number")
    chat.user("u1", "hmm hello there", intent="greet", confidence=0.42)
    chat.bot("u1", "Hi!", response="utter_greet")
    first, second = _signals(chat)
    assert (first.text, first.kinds, first.intent, first.confidence) == (
        "wheres my stuff", frozenset({"abstention"}), "order_status", 0.35)  # fmt: skip
    assert first.chosen_intent == "order_status"
    assert (second.kinds, second.intent, second.confidence) == (frozenset({"low_confidence"}), "greet", 0.42)
    assert len(_signals(chat, low_confidence=0.4)) == 1


def test_signals_never_span_two_sessions(chat: Chat) -> None:
    chat.start("u1")
    chat.user("u1", "opening hours berlin", intent="ask_hours")
    chat.bot("u1", "9 to 7", response="utter_hours")
    chat.start("u1")  # a new session: this is not a reaction to the answer above
    chat.user("u1", "I want a human", intent="human_handoff")
    chat.bot("u1", "Passing you on", action="action_human_handoff")
    assert _signals(chat) == []


def test_unanswered_questions_merge_with_their_conversation_message(chat: Chat) -> None:
    chat.start("u1")
    chat.user("u1", "do you ship to mars")
    chat.dont_know("u1")
    conversation = _signals(chat)
    vector = np.ones(4, dtype=np.float32) / 2
    logged = signals_from_unanswered(
        [
            UnansweredQuestion("Do you ship to  Mars", conversation[0].at + 0.01, (), vector),
            UnansweredQuestion("gift wrapping?", conversation[0].at + 50, (), None),
            UnansweredQuestion("   ", conversation[0].at, (), None),
        ]
    )
    merged = merge_signals(conversation, logged)
    assert [s.text for s in merged] == ["do you ship to mars", "gift wrapping?"]
    assert merged[0].source == "conversation" and merged[0].embedding is vector
    assert merged[1].source == "unanswered" and merged[1].kinds == {"abstention"}


def test_lexical_similarity_is_the_word_overlap() -> None:
    assert lexical_similarity("where is my order", "Where is my ORDER?") == 1.0
    assert lexical_similarity("where is my order", "my order") == 0.5
    assert lexical_similarity("", "anything") == 0.0


def test_noise_is_recognised() -> None:
    assert is_noise("") and is_noise("   ") and is_noise("👍👍") and is_noise("?!") and is_noise("a")
    assert not is_noise("ok") and not is_noise("où est ma commande") and not is_noise("注文")

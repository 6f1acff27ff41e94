"""What a proven customer's message costs: a brief profile read (preferences only) and the session's record
written behind the reply; what needs the whole profile reads it when asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.customers.identity import Identity
from bot.customers.profile import Consent, ConversationRecord, Outcome
from bot.customers.sql import SqlCustomerStore

from .conftest import make_bot
from .test_memory_dialogue import verify

ANNA = Identity.email("anna@example.com")


def test_the_brief_profile_has_the_preferences_without_the_records(tmp_path: Path) -> None:
    store = SqlCustomerStore.from_url(f"sqlite:///{tmp_path / 'c.db'}")
    profile = store.set_consent(ANNA, Consent.GIVEN, {"shop": "berlin", "size_tops": "M"})
    store.record_conversation(profile.id, ConversationRecord("s1", 1, 1.0, 2.0, ("hours",), Outcome.ANSWERED))
    brief = store.find_brief(Identity.email("Anna@Example.com"))
    full = store.find(ANNA)
    assert brief is not None and full is not None
    assert brief.id == full.id and brief.preferences == full.preferences == {"shop": "berlin", "size_tops": "M"}
    assert not brief.complete and brief.conversations == () and full.complete and len(full.conversations) == 1
    assert store.find_brief(Identity("shop", "nobody")) is None
    bare = store.set_consent(Identity("shop", "c-9"), Consent.GIVEN)
    found = store.find_brief(Identity("shop", "c-9"))
    assert found is not None and found.id == bare.id and found.preferences == {}


def test_records_are_not_written_for_a_deleted_or_refusing_profile(tmp_path: Path) -> None:
    store = SqlCustomerStore.from_url(f"sqlite:///{tmp_path / 'c.db'}")
    profile = store.set_consent(ANNA, Consent.GIVEN)
    store.delete(profile.id)
    store.record_conversation(profile.id, ConversationRecord("s1", 1, 1.0, 2.0, ("hours",), Outcome.ANSWERED))
    refused = store.set_consent(Identity("shop", "c-2"), Consent.REFUSED)
    store.record_conversation(refused.id, ConversationRecord("s2", 1, 1.0, 2.0, ("hours",), Outcome.ANSWERED))
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT count(*) FROM customer_conversations").scalar()
    assert rows == 0


def test_the_record_is_written_behind_the_reply_and_read_back_in_full(project: Any, tmp_path: Path) -> None:
    store = SqlCustomerStore.from_url(f"sqlite:///{tmp_path / 'c.db'}")
    bot = make_bot(project, store, write_behind=True)
    chat = bot.chat()
    verify(chat)
    chat.say("remember_preference", "remember Berlin is my shop", [("shop", "berlin")])
    chat.say("store_hours", "when do you open?")
    assert chat.state.known_customer.profile.complete is False  # each message reads the brief profile
    assert chat.state.slots["customer_shop"] == "berlin"
    bot.engine.memory.flush()
    profile = store.find(ANNA)
    assert profile is not None and [r.topics for r in profile.conversations] == [("order_status", "store_hours")]
    chat.say("ask_what_you_know", "what do you know about me?")
    assert chat.said == ["utter_memory_profile"]
    assert "your shop: Berlin" in chat.text and "conversation" in chat.text  # the records, read when asked

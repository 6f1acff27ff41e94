"""Customer memory in the dialogue: proof of identity, the one question, consent given and refused, explicit
"remember", "what do you know about me?", "forget" with a confirmation, and the remembered shop in use."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.customers.identity import Identity, sign_customer_token
from bot.customers.profile import Consent, Outcome

from .conftest import NOW, SECRET, Bot, Chat, make_bot


def verify(chat: Chat, number: str = "AN-10001", email: str = "anna@example.com") -> None:
    chat.say("order_status", f"where is my order {number} {email}", [("order_number", number), ("email", email)])
    assert "has shipped" in chat.text


def ask_berlin_hours(chat: Chat) -> None:
    chat.say("ask_hours", "is the Berlin shop open now?", [("shop", "berlin")])


def token(customer_id: str = "cust-4711", *, expires: float = NOW + 3600, secret: str = SECRET) -> dict[str, Any]:
    return {"customer_token": sign_customer_token(secret, customer_id, int(expires))}


# -- the question, and the customer's answer ---------------------------------------------------------
def test_a_verified_customer_is_asked_once_and_yes_remembers_the_shop(bot: Bot) -> None:
    chat = bot.chat()
    verify(chat)
    ask_berlin_hours(chat)
    assert chat.said[-1] == "utter_memory_offer"
    assert "Shall I remember Berlin as your shop for next time?" in chat.text
    assert [b.payload for b in chat.replies[-1].buttons] == ["/affirm", "/deny"]

    chat.say("affirm", "yes")
    assert chat.said == ["utter_memory_offer_accepted"]
    assert chat.replies[0].remembered == ("Berlin as your shop",)
    profile = bot.store.find(Identity.email("anna@example.com"))
    assert profile is not None and profile.consent is Consent.GIVEN
    assert dict(profile.preferences) == {"shop": "berlin"}
    assert chat.state.slots["customer_shop"] == "berlin"

    chat.say("ask_hours", "and is the London shop open?", [("shop", "london")])
    assert "utter_memory_offer" not in chat.said  # asked once; a shop already remembered is not replaced


def test_no_thanks_refuses_and_nothing_is_remembered_or_asked_again(bot: Bot) -> None:
    chat = bot.chat()
    verify(chat)
    ask_berlin_hours(chat)
    chat.say("deny", "no")
    assert chat.said == ["utter_memory_offer_refused"]
    profile = bot.store.find(Identity.email("anna@example.com"))
    assert profile is not None and profile.consent is Consent.REFUSED and not profile.remembers

    chat.new_session()
    verify(chat)
    ask_berlin_hours(chat)
    assert "utter_memory_offer" not in chat.said
    chat.say("ask_what_you_know", "what do you know about me?")
    assert chat.said == ["utter_memory_nothing_refused"]


def test_an_anonymous_customer_is_never_asked_and_nothing_is_stored(bot: Bot) -> None:
    chat = bot.chat()
    ask_berlin_hours(chat)
    assert "utter_memory_offer" not in chat.said
    chat.say("remember_preference", "remember that I'm an M", [("size", "M")])
    assert chat.said == ["utter_memory_needs_identity"]
    assert bot.store.profiles() == []


def test_ignoring_the_question_drops_it(bot: Bot) -> None:
    chat = bot.chat()
    verify(chat)
    ask_berlin_hours(chat)
    chat.say("ask_hours", "and on sunday?")
    assert "utter_memory_offer_accepted" not in chat.said
    chat.say("affirm", "yes")  # no question is pending any more: an ordinary yes
    assert bot.store.profiles() == []


# -- a remembered preference in a later conversation -----------------------------------------------
def test_the_remembered_shop_answers_hours_in_a_later_conversation(bot: Bot) -> None:
    chat = bot.chat("first-visit")
    verify(chat)
    ask_berlin_hours(chat)
    chat.say("affirm", "yes")

    later = bot.chat("second-visit")
    later.say("ask_hours", "when do you open tomorrow?")
    assert "Hours of every shop." in later.text  # not proven yet: nothing remembered is used
    verify(later)
    later.say("ask_hours", "when do you open tomorrow?")
    assert "Hours of berlin." in later.text
    hours_call = [slots for name, slots in bot.runner.calls if name == "action_store_hours"][-1]
    assert hours_call["customer_shop"] == "berlin"


def test_another_customers_sender_id_reveals_nothing_in_a_new_session(bot: Bot) -> None:
    chat = bot.chat("shared-sender")
    verify(chat)
    chat.say("remember_preference", "remember that I'm an M", [("size", "M")])
    assert bot.store.find(Identity.email("anna@example.com")) is not None

    chat.new_session()  # the same sender id, later: someone else at the same browser, or a guessed id
    chat.say("ask_what_you_know", "what do you know about me?")
    assert chat.said == ["utter_memory_unknown_customer"]
    assert "M" not in chat.text.split()
    assert chat.state.slots.get("customer_shop") is None
    other = bot.chat("someone-else")
    other.say("ask_what_you_know", "what do you know about me?")
    assert other.said == ["utter_memory_unknown_customer"]


# -- explicit requests -----------------------------------------------------------------------------
def test_remember_that_im_an_m_is_an_explicit_yes(bot: Bot) -> None:
    chat = bot.chat()
    verify(chat)
    chat.say("remember_preference", "remember that I'm an M and 42 in shoes", [("size", "M"), ("size", "42")])
    assert chat.said == ["utter_memory_remembered"]
    assert chat.replies[0].remembered == ("size M for tops", "size 42 for shoes")
    profile = bot.store.find(Identity.email("anna@example.com"))
    assert profile is not None and profile.consent is Consent.GIVEN
    assert dict(profile.preferences) == {"size_tops": "M", "size_shoes": "42"}


def test_remember_without_anything_to_remember_asks_what(bot: Bot) -> None:
    chat = bot.chat()
    verify(chat)
    chat.say("remember_preference", "remember my preferences please")
    assert chat.said == ["utter_memory_remember_what"]
    assert bot.store.profiles() == []


def test_what_do_you_know_lists_the_profile(bot: Bot) -> None:
    chat = bot.chat()
    verify(chat)
    chat.say("remember_preference", "my shop is Berlin, I like a slim fit", [("shop", "berlin")])
    chat.say("ask_what_you_know", "what do you know about me?")
    assert chat.said == ["utter_memory_profile"]
    assert "your shop: Berlin" in chat.text and "your fit: slim" in chat.text
    assert "conversation" in chat.text  # this one, about an order: recorded with consent


def test_with_consent_a_new_preference_is_remembered_and_the_reply_says_so(bot: Bot) -> None:
    chat = bot.chat()
    verify(chat)
    chat.say("remember_preference", "remember Berlin is my shop", [("shop", "berlin")])
    chat.say("product_search", "a wool coat in M", [("category", "coat"), ("size", "M")])
    assert chat.replies[-1].remembered == ("size M for tops",)
    profile = bot.store.find(Identity.email("anna@example.com"))
    assert profile is not None and profile.preferences["size_tops"] == "M"
    preferences = bot.engine.memory.preferences(chat.state)
    assert preferences is not None and preferences.sizes == {"tops": "M"} and preferences.shop == "berlin"


def test_a_conversation_leaves_a_record_without_its_text(bot: Bot) -> None:
    chat = bot.chat()
    verify(chat)
    chat.say("remember_preference", "remember Berlin is my shop", [("shop", "berlin")])
    profile = bot.store.find(Identity.email("anna@example.com"))
    assert profile is not None
    (record,) = profile.conversations
    assert record.sender_id == "sender-1" and record.topics == ("order_status",)
    assert record.outcome is Outcome.TASK_DONE


# -- forgetting --------------------------------------------------------------------------------------
def remembered_anna(bot: Bot) -> Chat:
    chat = bot.chat()
    verify(chat)
    chat.say("remember_preference", "remember that I'm an M, my shop is Berlin", [("size", "M"), ("shop", "berlin")])
    return chat


def test_forget_that_forgets_the_last_thing_after_a_yes(bot: Bot) -> None:
    chat = remembered_anna(bot)
    chat.say("stop", "forget that")  # "forget that" reads as stop, like "forget it"
    assert chat.said == ["utter_memory_confirm_forget"]
    assert "Shall I forget Berlin as your shop and size M for tops?" in chat.text
    chat.say("affirm", "yes")
    assert chat.said == ["utter_memory_forgotten"]
    profile = bot.store.find(Identity.email("anna@example.com"))
    assert profile is not None and dict(profile.preferences) == {}
    assert chat.state.slots["customer_shop"] is None


def test_forget_my_shop_keeps_the_rest(bot: Bot) -> None:
    chat = remembered_anna(bot)
    chat.say("forget_preference", "forget my shop")
    assert "Berlin as your shop" in chat.text and "size M" not in chat.text
    chat.say("affirm", "yes")
    profile = bot.store.find(Identity.email("anna@example.com"))
    assert profile is not None and dict(profile.preferences) == {"size_tops": "M"}


def test_no_to_the_confirmation_keeps_everything(bot: Bot) -> None:
    chat = remembered_anna(bot)
    chat.say("forget_preference", "forget me")
    assert chat.said == ["utter_memory_confirm_forget_all"]
    chat.say("deny", "no")
    assert chat.said == ["utter_memory_kept"]
    profile = bot.store.find(Identity.email("anna@example.com"))
    assert profile is not None and len(profile.preferences) == 2


def test_forget_me_deletes_the_whole_profile(bot: Bot) -> None:
    chat = remembered_anna(bot)
    chat.say("forget_preference", "forget me")
    chat.say("affirm", "yes")
    assert chat.said == ["utter_memory_forgotten_all"]
    assert bot.store.profiles() == []
    chat.say("ask_what_you_know", "what do you know about me?")
    assert chat.said == ["utter_memory_nothing"]


def test_forget_that_without_anything_remembered_stays_a_never_mind(bot: Bot) -> None:
    chat = bot.chat()
    verify(chat)
    chat.say("stop", "forget it")
    assert chat.said == ["utter_stop"]


def test_forget_in_a_task_waits_for_the_task(bot: Bot) -> None:
    chat = remembered_anna(bot)
    chat.say("book_appointment", "I'd like to book a fitting")
    assert chat.state.active_loop == "appointment_form"
    chat.say("forget_preference", "forget me")
    assert chat.said[0] == "utter_memory_forget_later"
    assert chat.state.active_loop == "appointment_form"
    assert bot.store.find(Identity.email("anna@example.com")) is not None


# -- the signed customer token -----------------------------------------------------------------------
def test_a_valid_token_proves_the_customer_on_every_message(bot: Bot) -> None:
    chat = bot.chat()
    chat.say("remember_preference", "remember that I'm an M", [("size", "M")], metadata=token())
    assert chat.said == ["utter_memory_remembered"]
    assert bot.store.find(Identity("shop", "cust-4711")) is not None
    chat.say("ask_what_you_know", "what do you know about me?", metadata=token())
    assert "your size for tops: M" in chat.text
    chat.say("ask_what_you_know", "what do you know about me?")  # the widget stopped sending it: signed out
    assert chat.said == ["utter_memory_unknown_customer"]


def test_the_token_is_never_kept_in_the_conversation(bot: Bot) -> None:
    chat = bot.chat()
    sent = token()
    chat.say("greet", "hi", metadata={**sent, "page": "/coats"})
    assert sent["customer_token"] not in repr(chat.state.events) + repr(chat.state.latest_message)
    assert chat.state.latest_message["metadata"] == {"page": "/coats"}


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param(token(expires=NOW - 1), id="expired"),
        pytest.param(token(secret="another-shops-secret-0123456789abcdef"), id="forged"),
        pytest.param({"customer_token": token()["customer_token"].replace("cust-4711", "cust-4712")}, id="tampered"),
        pytest.param({"customer_token": "cust-4711"}, id="malformed"),
        pytest.param({"customer_token": 4711}, id="not-a-string"),
    ],
)
def test_a_bad_token_is_anonymous_and_logged_without_personal_data(
    project: Any, metadata: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    bot = make_bot(project)
    owner = bot.chat("owner")
    owner.say("remember_preference", "remember that I'm an M", [("size", "M")], metadata=token())
    chat = bot.chat("attacker")
    with caplog.at_level(logging.WARNING, logger="supportbot.customers"):
        chat.say("ask_what_you_know", "what do you know about me?", metadata=metadata)
    assert chat.said == ["utter_memory_unknown_customer"]
    logged = [r.getMessage() for r in caplog.records if "customer token was refused" in r.getMessage()]
    assert len(logged) == 1
    assert "cust-47" not in logged[0] and "attacker" not in logged[0]


def test_no_token_is_accepted_without_a_secret(project: Any) -> None:
    bot = make_bot(project, secret=None)
    chat = bot.chat()
    chat.say("ask_what_you_know", "what do you know about me?", metadata=token())
    assert chat.said == ["utter_memory_unknown_customer"]


def test_memory_off_says_so_and_stores_nothing(project: Any) -> None:
    bot = make_bot(project, enabled=False)
    chat = bot.chat()
    verify(chat)
    ask_berlin_hours(chat)
    assert "utter_memory_offer" not in chat.said
    chat.say("remember_preference", "remember that I'm an M", [("size", "M")])
    assert chat.said == ["utter_memory_off"]
    assert bot.store.profiles() == []


def test_product_search_gets_the_customers_sizes_and_shop(project: Any) -> None:
    from bot.products.advisor import ProductOutcome, ProductRequest

    seen: list[ProductRequest] = []

    class Advisor:
        def answer(self, request: ProductRequest) -> ProductOutcome:
            seen.append(request)
            return ProductOutcome()

    bot = make_bot(project)
    bot.engine.shopping.advisor = Advisor()  # type: ignore[assignment]
    chat = bot.chat()
    chat.say("product_search", "warm coats", [("category", "coat")])
    assert seen[-1].preferences is None  # anonymous
    verify(chat)
    chat.say("remember_preference", "remember that I'm an M and my shop is Paris", [("size", "M"), ("shop", "paris")])
    chat.say("product_search", "warm coats", [("category", "coat")])
    preferences = seen[-1].preferences
    assert preferences is not None and preferences.sizes == {"tops": "M"} and preferences.shop == "paris"

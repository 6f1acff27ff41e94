"""Two requests in one message: `split_requests`, `PendingRequest`, and the engine handling the parts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from bot.dialogue.action_runner import ActionResult
from bot.dialogue.engine import DialogueEngine, Turn
from bot.dialogue.requests import MAX_PARTS, PendingRequest, split_requests
from bot.dialogue.state import ConversationState
from bot.domain import Domain, parse_domain_section
from bot.responses import ResponseRenderer
from bot.types import Entity, IntentScore, KnowledgeQuery, Parse, Reply, Source
from bot.yamlfile import LineDict, load_yaml

# -- split_requests ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        (
            "cancel AN-10004 and also what are your london opening hours?",
            ["cancel AN-10004", "what are your london opening hours?"],
        ),
        ("where is AN-10001? also do you ship to Norway?", ["where is AN-10001?", "do you ship to Norway?"]),
        (
            "do you take klarna and is there a student discount?",
            ["do you take klarna", "is there a student discount?"],
        ),
        ("where is AN-10001; can I return it", ["where is AN-10001", "can I return it"]),
        ("how much is shipping, and how long does it take?", ["how much is shipping", "how long does it take?"]),
    ],
)
def test_two_requests_are_split(text: str, parts: list[str]) -> None:
    assert split_requests(text) == parts


@pytest.mark.parametrize(
    "text",
    [
        "do you sell shirts and trousers?",
        "I want to return the shirts and trousers from my order",
        "my order is AN-10001 and my email is anna@example.com",  # "and my …" starts no request
        "black and white",
        "where is my order",
    ],
)
def test_one_request_is_not_split(text: str) -> None:
    assert split_requests(text) == [text]


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("how much is shipping? how much?", ["how much is shipping? how much?"]),
        ("how much is shipping? and how much?", ["how much is shipping? and how much?"]),
        ("do you ship to Norway? thanks!", ["do you ship to Norway? thanks!"]),
        (
            "how much is shipping to Norway? how much? and can I pay with klarna?",
            ["how much is shipping to Norway? how much?", "can I pay with klarna?"],
        ),
    ],
)
def test_fragments_too_short_to_be_requests_join_the_part_before(text: str, parts: list[str]) -> None:
    assert split_requests(text) == parts


def test_facts_in_sentences_of_their_own_are_parts() -> None:
    """Splitting does not decide what a part is: facts become parts, the engine attaches them."""
    assert split_requests("my order is AN-10001. my email is anna@example.com") == [
        "my order is AN-10001.",
        "my email is anna@example.com",
    ]


def test_at_most_max_parts_the_rest_stays_together() -> None:
    text = "where is my order? can I return it? do you ship to Norway? is there a student discount?"
    parts = split_requests(text)
    assert len(parts) == MAX_PARTS == 3
    assert parts == ["where is my order?", "can I return it?", "do you ship to Norway? is there a student discount?"]


# -- PendingRequest --------------------------------------------------------------------------------


def test_pending_request_round_trips_through_json() -> None:
    text = "où est AN-10001 pour anna@example.com"
    parse = Parse(
        text,
        IntentScore("order_status", 0.82),
        (
            Entity("order_number", "AN-10001", 7, 15, "regex", "AN-10001", 1.0),
            Entity("email", "anna@example.com", 21, 37, "regex", "anna@example.com", 0.9, role="login", group="1"),
        ),
        (IntentScore("order_status", 0.82), IntentScore("inform", 0.1)),
        abstained=False,
        fallback_reason=None,
        language="fr",
    )
    pending = PendingRequest(text, parse, np.array([0.1234567, -0.5, 2.0], dtype=np.float32))

    back = PendingRequest.from_json(json.loads(json.dumps(pending.to_json())))

    assert back.text == text
    assert back.parse == parse
    assert back.parse.language == "fr"
    assert back.parse.entities[1].role == "login"
    assert back.embedding is not None
    assert back.embedding.dtype == np.float32
    np.testing.assert_allclose(back.embedding, [0.123457, -0.5, 2.0], atol=1e-6)


def test_pending_request_keeps_an_abstention_and_no_embedding() -> None:
    ranking = (IntentScore("nlu_fallback", 0.4), IntentScore("faq", 0.3))
    parse = Parse("blorp?", ranking[0], (), ranking, abstained=True, fallback_reason="out_of_scope")

    back = PendingRequest.from_json(json.loads(json.dumps(PendingRequest("blorp?", parse, None).to_json())))

    assert back.parse == parse
    assert back.embedding is None


# -- the engine ------------------------------------------------------------------------------------

DOMAIN = """
slots:
  order_number: {type: text, mappings: [{type: from_entity, entity: order_number}]}
  email: {type: text, mappings: [{type: from_entity, entity: email}]}
  shop: {type: text, mappings: [{type: from_entity, entity: shop}]}
  requested_slot: {type: any, mappings: [{type: custom}]}
forms:
  cancel_form:
    required_slots: [order_number, email]
rules:
- rule: cancel
  steps: [{intent: cancel_order}, {action: cancel_form}, {active_loop: cancel_form}]
- rule: submit cancel
  condition: [{active_loop: cancel_form}]
  steps:
  - action: cancel_form
  - active_loop: null
  - slot_was_set: [{requested_slot: null}]
  - action: action_cancel_order
- rule: order status
  steps: [{intent: order_status}, {action: action_order_status}]
- rule: order facts
  steps: [{intent: inform, entities: [order_number]}, {action: action_order_status}]
- rule: hours
  steps: [{intent: ask_hours}, {action: action_hours}]
- rule: greet
  steps: [{intent: greet}, {action: utter_greet}]
responses:
  utter_greet: [{text: "HELLO"}]
  utter_ask_order_number: [{text: "ASK order_number"}]
  utter_ask_email: [{text: "ASK email"}]
  utter_request_queued: [{text: "QUEUED {request}"}]
  utter_request_resumed: [{text: "RESUMED {request}"}]
  utter_order_status: [{text: "STATUS {order_number}"}]
  utter_cancelled: [{text: "CANCELLED {order_number} for {email}"}]
  utter_hours: [{text: "HOURS {shop}"}]
  utter_default: [{text: "DEFAULT"}]
  utter_ask_rephrase: [{text: "REPHRASE"}]
"""


def build_domain(text: str) -> Domain:
    data, problems = load_yaml(text, "domain.yml")
    assert problems == []
    assert isinstance(data, LineDict)
    domain = Domain()
    for key, value in data.items():
        assert parse_domain_section(key, value, "domain.yml", data.key_lines[key], domain) == []
    return domain


class FakeRunner:
    """Answers from the slots, like the reference actions, and records what each action saw."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def actions(self) -> set[str]:
        return {"action_order_status", "action_cancel_order", "action_hours"}

    def run(self, name: str, sender_id: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionResult:
        self.calls.append((name, tracker))
        slots = tracker["slots"]
        if name == "action_order_status":
            return ActionResult([], [{"response": "utter_order_status", "order_number": slots.get("order_number")}])
        if name == "action_cancel_order":
            return ActionResult([], [{"response": "utter_cancelled"}])
        if name == "action_hours":
            return ActionResult([], [{"response": "utter_hours", "shop": slots.get("shop") or "all shops"}])
        raise AssertionError(name)


@dataclass(frozen=True)
class FakeEntry:
    id: str


@dataclass(frozen=True)
class FakeHit:
    entry: FakeEntry


@dataclass
class FakeOutcome:
    decision: str
    replies: Sequence[Reply]
    hits: tuple[FakeHit, ...] = ()


@dataclass
class FakeKnowledge:
    """A knowledge base whose entries are found by a keyword in the question."""

    keywords: dict[str, str] = field(
        default_factory=lambda: {
            "klarna": "payment-methods",
            "student": "student-discount",
            "shipping": "shipping",
            "how long": "shipping",
            "norway": "shipping-countries",
            "address": "shop-address",
            "return": "returns",
        }
    )
    asked: list[KnowledgeQuery] = field(default_factory=list)

    def __call__(self, query: KnowledgeQuery) -> FakeOutcome:
        self.asked.append(query)
        found = [entry for word, entry in self.keywords.items() if word in query.text.lower()]
        if not found:
            return FakeOutcome("unknown", [Reply("KB unknown", kind="knowledge")])
        source = Source(found[0], found[0], f"{found[0]}.md")
        return FakeOutcome(
            "answer",
            [Reply(f"KB {found[0]}", sources=(source,), kind="knowledge")],
            tuple(FakeHit(FakeEntry(e)) for e in found),
        )

    def query(self, text: str) -> KnowledgeQuery:
        return next(q for q in self.asked if q.text == text)


@pytest.fixture()
def knowledge() -> FakeKnowledge:
    return FakeKnowledge()


@pytest.fixture()
def engine(knowledge: FakeKnowledge) -> DialogueEngine:
    domain = build_domain(DOMAIN)
    return DialogueEngine(
        domain,
        ResponseRenderer(domain.responses, seed=0),
        FakeRunner(),
        intents=["cancel_order", "order_status", "inform", "ask_hours", "faq", "greet"],
        entities=["order_number", "email", "shop", "country"],
        knowledge=knowledge,
    )


def parse(intent: str, text: str, **entities: str) -> Parse:
    """A parse whose entities sit where their values are in the text (the engine masks them)."""
    found = []
    for name, value in entities.items():
        start = text.lower().find(value.lower())
        assert start >= 0, f"{value!r} is not in {text!r}"
        found.append(Entity(name, value, start, start + len(value), "test", text[start : start + len(value)]))
    score = IntentScore(intent, 0.9)
    return Parse(text, score, tuple(found), (score, IntentScore("greet", 0.02)))


def part(intent: str, text: str, embedding: Sequence[float] | None = None, **entities: str) -> Turn:
    vector = None if embedding is None else np.asarray(embedding, dtype=np.float32)
    return Turn(parse(intent, text, **entities), vector)


def say(engine: DialogueEngine, state: ConversationState, whole: Parse, *parts: Turn) -> list[str]:
    return [r.text for r in engine.handle(state, Turn(whole), parts)]


def reload(state: ConversationState) -> ConversationState:
    """The state as the tracker store gives it back on the next message."""
    return ConversationState.from_json(json.loads(json.dumps(state.to_json())))


def test_two_requests_without_a_form_are_answered_in_order(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    text = "where is AN-10001? also do you ship to Norway?"
    replies = say(
        engine,
        state,
        parse("order_status", text, order_number="AN-10001", country="Norway"),
        part("inform", "where is AN-10001?", order_number="AN-10001"),
        part("faq", "do you ship to Norway?", country="Norway"),
    )
    assert replies == ["STATUS AN-10001", "RESUMED do you ship to Norway?", "KB shipping-countries"]
    assert state.pending_requests == []
    assert state.active_loop is None


def test_second_request_waits_behind_a_form_and_is_answered_when_it_is_done(
    engine: DialogueEngine, knowledge: FakeKnowledge
) -> None:
    state = ConversationState("u1")
    text = "cancel AN-10004 and also how long does shipping take?"
    replies = say(
        engine,
        state,
        parse("cancel_order", text, order_number="AN-10004"),
        part("cancel_order", "cancel AN-10004", order_number="AN-10004"),
        part("faq", "how long does shipping take?", embedding=[0.25, -0.5, 1.0]),
    )
    assert replies == ["ASK email", "QUEUED how long does shipping take?"]
    assert state.active_loop == "cancel_form"
    assert [p["text"] for p in state.pending_requests] == ["how long does shipping take?"]
    assert knowledge.asked == []  # not answered yet

    state = reload(state)
    replies = say(engine, state, parse("inform", "ben@example.com", email="ben@example.com"))

    assert replies == [
        "CANCELLED AN-10004 for ben@example.com",
        "RESUMED how long does shipping take?",
        "KB shipping",
    ]
    assert state.pending_requests == []
    query = knowledge.query("how long does shipping take?")
    assert query.embedding is not None
    np.testing.assert_allclose(query.embedding, [0.25, -0.5, 1.0])


def test_queued_task_runs_with_its_own_entities_after_the_form(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    text = "cancel AN-10004 and also what are your london opening hours?"
    say(
        engine,
        state,
        parse("cancel_order", text, order_number="AN-10004", shop="london"),
        part("cancel_order", "cancel AN-10004", order_number="AN-10004"),
        part("ask_hours", "what are your london opening hours?", shop="london"),
    )
    assert state.slots.get("shop") is None  # the waiting request has not been read yet

    replies = say(engine, state, parse("inform", "ben@example.com", email="ben@example.com"))

    assert replies[-2:] == ["RESUMED what are your london opening hours?", "HOURS london"]
    runner = engine.runner
    assert isinstance(runner, FakeRunner)
    name, tracker = runner.calls[-1]
    assert name == "action_hours"
    assert tracker["latest_message"]["text"] == "what are your london opening hours?"


def test_a_message_mid_form_is_not_split(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    say(engine, state, parse("cancel_order", "cancel AN-10004", order_number="AN-10004"))
    text = "do you take klarna and is there a student discount?"
    replies = say(
        engine,
        state,
        parse("faq", text),
        part("faq", "do you take klarna"),
        part("faq", "is there a student discount?"),
    )
    assert replies == ["KB payment-methods", "ASK email"]  # the whole message, as a digression
    assert state.pending_requests == []
    assert state.active_loop == "cancel_form"


def test_facts_in_a_later_part_go_with_the_request_before_them(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    text = "cancel AN-10004. my email is ben@example.com. also what are your london opening hours?"
    replies = say(
        engine,
        state,
        parse("cancel_order", text, order_number="AN-10004", email="ben@example.com", shop="london"),
        part("cancel_order", "cancel AN-10004.", order_number="AN-10004"),
        part("inform", "my email is ben@example.com.", email="ben@example.com"),
        part("ask_hours", "what are your london opening hours?", shop="london"),
    )
    assert replies == [
        "CANCELLED AN-10004 for ben@example.com",
        "RESUMED what are your london opening hours?",
        "HOURS london",
    ]


def test_facts_after_a_waiting_request_go_with_it_not_with_the_first(
    engine: DialogueEngine, knowledge: FakeKnowledge
) -> None:
    state = ConversationState("u1")
    text = "cancel AN-10004. also what's the address of the paris shop? this saturday."
    replies = say(
        engine,
        state,
        parse("cancel_order", text, order_number="AN-10004", shop="paris", date="saturday"),
        part("cancel_order", "cancel AN-10004.", order_number="AN-10004"),
        part("faq", "what's the address of the paris shop?", shop="paris"),
        part("inform", "this saturday.", date="saturday"),
    )
    assert replies == ["ASK email", "QUEUED what's the address of the paris shop?"]

    say(engine, state, parse("inform", "ben@example.com", email="ben@example.com"))

    assert knowledge.query("what's the address of the paris shop?").entities == {
        "shop": frozenset({"paris"}),
        "date": frozenset({"saturday"}),
    }


def test_short_facts_after_a_request_are_not_a_request(engine: DialogueEngine) -> None:
    """A later part such as "email ben@example.com" has one word besides its entity: facts, whatever its intent."""
    state = ConversationState("u1")
    text = "cancel AN-10004? email ben@example.com"
    replies = say(
        engine,
        state,
        parse("cancel_order", text, order_number="AN-10004", email="ben@example.com"),
        part("cancel_order", "cancel AN-10004?", order_number="AN-10004"),
        part("ask_hours", "email ben@example.com", email="ben@example.com"),
    )
    assert replies == ["CANCELLED AN-10004 for ben@example.com"]


def test_facts_before_the_first_request_go_with_it(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    text = "my email is ben@example.com. I want to cancel order AN-10004 and what are your opening hours?"
    replies = say(
        engine,
        state,
        parse("cancel_order", text, email="ben@example.com", order_number="AN-10004"),
        part("inform", "my email is ben@example.com.", email="ben@example.com"),
        part("cancel_order", "I want to cancel order AN-10004", order_number="AN-10004"),
        part("ask_hours", "what are your opening hours?"),
    )
    assert replies == [
        "CANCELLED AN-10004 for ben@example.com",
        "RESUMED what are your opening hours?",
        "HOURS all shops",
    ]


@pytest.mark.parametrize(
    ("opening", "expected"),
    [
        (part("greet", "hi."), ["ASK email", "QUEUED what are your opening hours?"]),
        (
            part("inform", "my email is ben@example.com.", email="ben@example.com"),
            ["CANCELLED AN-10004 for ben@example.com", "RESUMED what are your opening hours?", "HOURS all shops"],
        ),
    ],
    ids=["greeting", "facts"],
)
def test_a_short_first_request_after_a_greeting_or_facts_is_a_request(
    engine: DialogueEngine, opening: Turn, expected: list[str]
) -> None:
    state = ConversationState("u1")
    text = f"{opening.parse.text} cancel AN-10004 and what are your opening hours?"
    facts = {e.entity: str(e.value) for e in opening.parse.entities}
    replies = say(
        engine,
        state,
        parse("cancel_order", text, order_number="AN-10004", **facts),
        opening,
        part("cancel_order", "cancel AN-10004", order_number="AN-10004"),
        part("ask_hours", "what are your opening hours?"),
    )
    assert replies == expected


def test_parts_that_only_give_facts_leave_the_message_whole(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    text = "my order is AN-10001. my email is anna@example.com"
    replies = say(
        engine,
        state,
        parse("inform", text, order_number="AN-10001", email="anna@example.com"),
        part("inform", "my order is AN-10001.", order_number="AN-10001"),
        part("inform", "my email is anna@example.com", email="anna@example.com"),
    )
    assert replies == ["STATUS AN-10001"]
    assert state.slots["email"] == "anna@example.com"
    assert state.pending_requests == []


def test_greetings_and_thanks_are_not_requests(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    replies = say(
        engine,
        state,
        parse("order_status", "hello there. where is AN-10001?", order_number="AN-10001"),
        part("greet", "hello there."),
        part("order_status", "where is AN-10001?", order_number="AN-10001"),
    )
    assert replies == ["STATUS AN-10001"]


def test_the_same_request_twice_is_handled_once(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    text = "where is AN-10001? where is my order AN-10001?"
    replies = say(
        engine,
        state,
        parse("order_status", text, order_number="AN-10001"),
        part("order_status", "where is AN-10001?", order_number="AN-10001"),
        part("order_status", "where is my order AN-10001?", order_number="AN-10001"),
    )
    assert replies == ["STATUS AN-10001"]


def test_knowledge_questions_with_answers_of_their_own_are_split(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    text = "do you take klarna and is there a student discount?"
    replies = say(
        engine,
        state,
        parse("faq", text),
        part("faq", "do you take klarna"),
        part("faq", "is there a student discount?"),
    )
    assert replies == ["KB payment-methods", "RESUMED is there a student discount?", "KB student-discount"]


def test_knowledge_questions_one_entry_answers_are_not_split(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    text = "how much is shipping, and how long does it take?"
    replies = say(
        engine,
        state,
        parse("faq", text),
        part("faq", "how much is shipping"),
        part("faq", "how long does it take?"),
    )
    assert replies == ["KB shipping"]


def test_a_later_part_inherits_the_shop_named_before_it(engine: DialogueEngine, knowledge: FakeKnowledge) -> None:
    state = ConversationState("u1")
    text = "is the paris shop open on sunday? and what's the exact address?"
    replies = say(
        engine,
        state,
        parse("ask_hours", text, shop="paris"),
        part("ask_hours", "is the paris shop open on sunday?", shop="paris"),
        part("faq", "what's the exact address?"),
    )
    assert replies == ["HOURS paris", "RESUMED what's the exact address?", "KB shop-address"]
    assert knowledge.query("what's the exact address?").entities == {"shop": frozenset({"paris"})}


def test_a_later_part_keeps_the_shop_it_names(engine: DialogueEngine, knowledge: FakeKnowledge) -> None:
    state = ConversationState("u1")
    text = "when does berlin open and what's the address of the paris shop?"
    say(
        engine,
        state,
        parse("ask_hours", text, shop="berlin"),
        part("ask_hours", "when does berlin open", shop="berlin"),
        part("faq", "what's the address of the paris shop?", shop="paris"),
    )
    assert knowledge.query("what's the address of the paris shop?").entities == {"shop": frozenset({"paris"})}


def test_a_later_part_inherits_the_country_but_not_the_order_number(
    engine: DialogueEngine, knowledge: FakeKnowledge
) -> None:
    state = ConversationState("u1")
    text = "has AN-10001 reached Norway? also how long does shipping take?"
    say(
        engine,
        state,
        parse("order_status", text, order_number="AN-10001", country="Norway"),
        part("order_status", "has AN-10001 reached Norway?", order_number="AN-10001", country="Norway"),
        part("faq", "how long does shipping take?"),
    )
    assert knowledge.query("how long does shipping take?").entities == {"country": frozenset({"norway"})}


def test_a_later_part_pointing_back_inherits_everything(engine: DialogueEngine, knowledge: FakeKnowledge) -> None:
    state = ConversationState("u1")
    text = "is berlin open on saturday? and is the shipping desk open there?"
    say(
        engine,
        state,
        parse("ask_hours", text, shop="berlin", date="saturday"),
        part("ask_hours", "is berlin open on saturday?", shop="berlin", date="saturday"),
        part("faq", "is the shipping desk open there?"),
    )
    assert knowledge.query("is the shipping desk open there?").entities == {
        "shop": frozenset({"berlin"}),
        "date": frozenset({"saturday"}),
    }


def test_a_later_part_not_pointing_back_inherits_only_shop_country_or_product(
    engine: DialogueEngine, knowledge: FakeKnowledge
) -> None:
    state = ConversationState("u1")
    text = "is berlin open on saturday? and how long does shipping take?"
    say(
        engine,
        state,
        parse("ask_hours", text, shop="berlin", date="saturday"),
        part("ask_hours", "is berlin open on saturday?", shop="berlin", date="saturday"),
        part("faq", "how long does shipping take?"),
    )
    assert knowledge.query("how long does shipping take?").entities == {"shop": frozenset({"berlin"})}


def test_a_question_pointing_back_to_an_order_is_answered_not_the_order_rule_again(
    engine: DialogueEngine, knowledge: FakeKnowledge
) -> None:
    state = ConversationState("u1")
    text = "where is AN-10001? and can I still return that one?"
    replies = say(
        engine,
        state,
        parse("order_status", text, order_number="AN-10001"),
        part("order_status", "where is AN-10001?", order_number="AN-10001"),
        part("faq", "can I still return that one?"),
    )
    assert replies == ["STATUS AN-10001", "RESUMED can I still return that one?", "KB returns"]
    assert knowledge.query("can I still return that one?").entities == {"order_number": frozenset({"an-10001"})}


# -- issue 12: "+", conditions, facts that go with the request after them ------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        (
            "is the London store open on sunday + do you deliver to canada",
            ["is the London store open on sunday", "do you deliver to canada"],
        ),
        ("has AN-10014 shipped yet? if not, please cancel it", ["has AN-10014 shipped yet?", "please cancel it"]),
        (
            "where is AN-10013? and if it doesn't fit, what does returning cost?",
            ["where is AN-10013?", "what does returning cost?"],
        ),
        ("where is it? if not, cancel", ["where is it?", "if not, cancel"]),  # too little left without it
        (
            "je voudrais annuler ma commande AN-10005 et connaître les horaires de Paris",
            ["je voudrais annuler ma commande AN-10005", "connaître les horaires de Paris"],
        ),
        ("ich möchte die Jacke und die Hose zurückgeben", ["ich möchte die Jacke und die Hose zurückgeben"]),
    ],
)
def test_plus_splits_and_a_later_part_loses_its_condition(text: str, parts: list[str]) -> None:
    assert split_requests(text) == parts


def test_facts_before_a_request_that_points_back_are_that_request(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    text = "I placed an order earlier today (AN-10016). Would it be possible to cancel it?"
    replies = say(
        engine,
        state,
        parse("cancel_order", text, order_number="AN-10016"),
        part("inform", "I placed an order earlier today (AN-10016).", order_number="AN-10016"),
        part("faq", "Would it be possible to cancel it?"),
    )
    assert replies == ["ASK email"]  # one request: the cancellation of AN-10016
    assert state.active_loop == "cancel_form"
    assert state.slots["order_number"] == "AN-10016"
    assert state.pending_requests == []


def test_an_email_at_the_end_goes_with_every_request(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    text = "has AN-10014 shipped yet? please cancel it. grace@example.com"
    replies = say(
        engine,
        state,
        parse("order_status", text, order_number="AN-10014", email="grace@example.com"),
        part("order_status", "has AN-10014 shipped yet?", order_number="AN-10014"),
        part("cancel_order", "please cancel it."),
        part("inform", "grace@example.com", email="grace@example.com"),
    )
    assert replies == ["STATUS AN-10014", "RESUMED please cancel it.", "CANCELLED AN-10014 for grace@example.com"]

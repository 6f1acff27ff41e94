"""The engine's use of context: rules with `entities:`, facts outside a task, "why?", the language
notice and the last stage of the two-stage fallback."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.dialogue.action_runner import ActionResult
from bot.dialogue.engine import DialogueEngine, Turn
from bot.dialogue.explain import Said, previous_turn, reason_sentence
from bot.dialogue.state import ConversationState, event
from bot.domain import Domain, Rule, parse_domain_section
from bot.nlu.language import FakeLanguageDetector
from bot.responses import ResponseRenderer
from bot.types import FALLBACK_INTENT, Entity, IntentScore, KnowledgeQuery, Parse, Reply, Source
from bot.yamlfile import LineDict, load_yaml


def build_domain(text: str) -> Domain:
    data, problems = load_yaml(text, "domain.yml")
    assert problems == []
    assert isinstance(data, LineDict)
    domain = Domain()
    for key, value in data.items():
        assert parse_domain_section(key, value, "domain.yml", data.key_lines[key], domain) == []
    return domain


# -- rules with `entities:` ------------------------------------------------------------------------

RULES = """
rules:
- rule: cancel
  steps: [{intent: cancel_order}, {action: cancel_order_form}, {active_loop: cancel_order_form}]
- rule: cancel with a booking reference
  steps:
  - intent: cancel_order
    entities: [appointment_reference]
  - action: cancel_appointment_form
  - active_loop: cancel_appointment_form
- rule: cancel with a booking reference and an email
  steps:
  - intent: cancel_order
    entities: [{appointment_reference: FT-1}, email]
  - action: action_cancel_at_once
- rule: an order number alone
  steps:
  - intent: inform
    entities: [order_number]
  - action: action_order_status
- rule: hours follow-up
  steps: [{action: action_hours}, {intent: inform}, {action: action_hours}]
- rule: submit cancel
  condition: [{active_loop: cancel_order_form}]
  steps:
  - action: cancel_order_form
  - active_loop: null
  - action: action_cancel_order
"""


@pytest.fixture()
def rules() -> Domain:
    return build_domain(RULES)


def test_entities_of_the_intent_step_are_read(rules: Domain) -> None:
    by_name = {r.name: r for r in rules.rules}
    assert by_name["cancel"].entities == ()
    assert by_name["cancel with a booking reference"].entities == ("appointment_reference",)
    assert by_name["cancel with a booking reference and an email"].entities == ("appointment_reference", "email")
    assert by_name["an order number alone"] == Rule(
        "an order number alone",
        "inform",
        ("action_order_status",),
        file="domain.yml",
        line=RULES.splitlines().index("- rule: an order number alone") + 1,
        entities=("order_number",),
    )


@pytest.mark.parametrize(
    ("intent", "previous", "entities", "rule"),
    [
        ("cancel_order", None, [], "cancel"),
        ("cancel_order", None, ["order_number"], "cancel"),
        ("cancel_order", None, ["appointment_reference"], "cancel with a booking reference"),
        ("cancel_order", None, ["email", "appointment_reference"], "cancel with a booking reference and an email"),
        ("cancel_order", None, ["email"], "cancel"),
        ("inform", None, ["order_number", "email"], "an order number alone"),
        ("inform", None, ["email"], None),
        ("inform", None, [], None),
        ("inform", "action_hours", [], "hours follow-up"),
        ("inform", "action_hours", ["order_number"], "hours follow-up"),
        ("inform", "action_other", ["order_number"], "an order number alone"),
    ],
)
def test_action_for_intent_picks_the_rule_asking_for_most_entities(
    rules: Domain, intent: str, previous: str | None, entities: list[str], rule: str | None
) -> None:
    found = rules.action_for_intent(intent, previous, entities)
    assert (found.name if found else None) == rule


def test_rule_activating_a_form_ignores_rules_with_entities(rules: Domain) -> None:
    start = rules.rule_activating("cancel_appointment_form")
    assert start is None
    order = rules.rule_activating("cancel_order_form")
    assert order is not None and order.name == "cancel"


def test_submit_rules_are_found_by_their_form_only(rules: Domain) -> None:
    assert rules.submit_actions("cancel_order_form") == ("action_cancel_order",)
    assert rules.submit_actions("cancel_appointment_form") == ()
    assert [r.name for r in rules.rules if r.submits_form] == ["submit cancel"]


# -- the engine ------------------------------------------------------------------------------------

DOMAIN = """
intent_titles:
  start_return: Return an item
  ask_hours: Opening hours
slots:
  order_number: {type: text, mappings: [{type: from_entity, entity: order_number}]}
  email: {type: text, mappings: [{type: from_entity, entity: email}]}
  shop: {type: text, mappings: [{type: from_entity, entity: shop}]}
  requested_slot: {type: any, mappings: [{type: custom}]}
forms:
  return_form:
    required_slots: [order_number, email]
  appointment_form:
    required_slots: [shop]
rules:
- rule: start return
  steps: [{intent: start_return}, {action: return_form}, {active_loop: return_form}]
- rule: submit return
  condition: [{active_loop: return_form}]
  steps:
  - action: return_form
  - active_loop: null
  - slot_was_set: [{requested_slot: null}]
  - action: action_submit_return
- rule: book
  steps: [{intent: book_appointment}, {action: appointment_form}, {active_loop: appointment_form}]
- rule: submit booking
  condition: [{active_loop: appointment_form}]
  steps:
  - action: appointment_form
  - active_loop: null
  - action: action_book
- rule: an order number alone is about its status
  steps:
  - intent: inform
    entities: [order_number]
  - action: action_order_status
- rule: hours
  steps: [{intent: ask_hours}, {action: action_hours}]
- rule: greet
  steps: [{intent: greet}, {action: utter_greet}]
responses:
  utter_greet: [{text: "HELLO"}]
  utter_ask_order_number: [{text: "ASK order_number"}]
  utter_ask_email: [{text: "ASK email"}]
  utter_ask_shop: [{text: "ASK shop"}]
  utter_form_stopped: [{text: "STOPPED"}]
  utter_form_reminder: [{text: "BACK TO IT"}]
  utter_order_status: [{text: "STATUS {order_number}"}]
  utter_return_created: [{text: "RETURN {order_number} for {email}"}]
  utter_return_created_why: [{text: "WHY RETURN {order_number} {days}"}]
  utter_booked: [{text: "BOOKED {shop}"}]
  utter_hours: [{text: "HOURS {shop} close {closes}"}]
  utter_hours_why: [{text: "WHY HOURS {shop} close {closes}"}]
  utter_why_knowledge: [{text: "BECAUSE {reason}"}]
  utter_why_default: [{text: "WHY DEFAULT"}]
  utter_ask_affirmation: [{text: "DID YOU MEAN"}]
  utter_ask_rephrase: [{text: "REPHRASE"}]
  utter_out_of_scope: [{text: "OUT OF SCOPE"}]
  utter_default: [{text: "DEFAULT"}]
  utter_default_again: [{text: "DEFAULT AGAIN"}]
  utter_language_notice: [{text: "ENGLISH ONLY"}]
  utter_language_notice_fr: [{text: "ANGLAIS SEULEMENT"}]
"""


class FakeRunner:
    """Answers from the slots like the reference actions; records the actions run."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def actions(self) -> set[str]:
        return {"action_order_status", "action_submit_return", "action_book", "action_hours"}

    def run(self, name: str, sender_id: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionResult:
        self.ran.append(name)
        slots = tracker["slots"]
        if name == "action_order_status":
            return ActionResult([], [{"response": "utter_order_status"}])
        if name == "action_submit_return":
            return ActionResult([], [{"response": "utter_return_created", "days": 30}])
        if name == "action_book":
            return ActionResult([], [{"response": "utter_booked"}])
        if name == "action_hours":
            return ActionResult(
                [], [{"response": "utter_hours", "shop": slots.get("shop") or "all", "closes": "18:00"}]
            )
        raise AssertionError(name)


@dataclass
class FakeOutcome:
    decision: str
    replies: Sequence[Reply]


@dataclass
class FakeKnowledge:
    """Answers from a table of question → answer text; anything else is unknown."""

    answers: Mapping[str, str] = field(default_factory=dict)
    asked: list[KnowledgeQuery] = field(default_factory=list)

    def __call__(self, query: KnowledgeQuery) -> FakeOutcome:
        self.asked.append(query)
        text = self.answers.get(query.text)
        if text is None:
            return FakeOutcome("unknown", [Reply("KB UNKNOWN", kind="knowledge")])
        source = Source("care-wool", "Washing wool", "care.md")
        return FakeOutcome("answer", [Reply(text, sources=(source,), kind="knowledge")])


WOOL = (
    "Wash wool by hand in cold water. Heat and rubbing together make wool felt and shrink, "
    "so never use the dryer. _Source: Washing wool_"
)


@pytest.fixture()
def knowledge() -> FakeKnowledge:
    return FakeKnowledge({"how do I wash wool?": WOOL})


@pytest.fixture()
def engine(knowledge: FakeKnowledge) -> DialogueEngine:
    domain = build_domain(DOMAIN)
    return DialogueEngine(
        domain,
        ResponseRenderer(domain.responses, seed=0),
        FakeRunner(),
        intents=["start_return", "book_appointment", "inform", "ask_hours", "greet", "stop", "ask_why", "faq"],
        entities=["order_number", "email", "shop"],
        knowledge=knowledge,
    )


def parse(
    intent: str,
    text: str = "",
    *,
    ranking: Sequence[tuple[str, float]] = (),
    language: str | None = None,
    **entities: str,
) -> Parse:
    text = text or intent
    found = []
    for name, value in entities.items():
        start = max(text.find(value), 0)
        found.append(Entity(name, value, start, start + len(value), "test", value))
    score = IntentScore(intent, 0.9)
    scores = (score, *(IntentScore(n, c) for n, c in ranking))
    return Parse(text, score, tuple(found), scores, language=language)


def unsure(text: str = "blorp", *, language: str | None = None, reason: str = "ambiguous") -> Parse:
    ranking = (IntentScore(FALLBACK_INTENT, 0.5), IntentScore("start_return", 0.4), IntentScore("ask_hours", 0.35))
    return Parse(text, ranking[0], (), ranking, abstained=True, fallback_reason=reason, language=language)


def say(engine: DialogueEngine, state: ConversationState, p: Parse) -> list[str]:
    return [r.text for r in engine.handle(state, Turn(p))]


def ran(engine: DialogueEngine) -> list[str]:
    runner = engine.runner
    assert isinstance(runner, FakeRunner)
    return runner.ran


# -- facts outside a task --------------------------------------------------------------------------


def test_an_order_number_alone_follows_its_rule(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    assert say(engine, state, parse("inform", "AN-10001", order_number="AN-10001")) == ["STATUS AN-10001"]
    assert ran(engine) == ["action_order_status"]


def test_facts_without_a_rule_get_the_default(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    assert say(engine, state, parse("inform", "anna@example.com", email="anna@example.com")) == ["DEFAULT"]


def test_facts_continue_the_last_task(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    say(engine, state, parse("start_return", "I want to return AN-10001", order_number="AN-10001"))
    assert say(engine, state, parse("inform", "anna@example.com", email="anna@example.com")) == [
        "RETURN AN-10001 for anna@example.com"
    ]
    assert state.active_loop is None

    replies = say(engine, state, parse("inform", "and AN-10002 too", order_number="AN-10002"))

    assert replies == ["RETURN AN-10002 for anna@example.com"]  # a second return, not the order's status
    assert ran(engine) == ["action_submit_return", "action_submit_return"]


def test_facts_that_fill_no_question_of_the_last_task_follow_their_rule(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    say(engine, state, parse("book_appointment", "book a fitting in berlin", shop="berlin"))
    assert ran(engine) == ["action_book"]

    assert say(engine, state, parse("inform", "AN-10001", order_number="AN-10001")) == ["STATUS AN-10001"]


def test_a_stopped_task_is_not_continued(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    assert say(engine, state, parse("start_return")) == ["ASK order_number"]
    assert say(engine, state, parse("stop")) == ["STOPPED"]
    say(engine, state, parse("greet"))

    assert say(engine, state, parse("inform", "AN-10001", order_number="AN-10001")) == ["STATUS AN-10001"]
    assert state.active_loop is None


def test_facts_start_the_task_the_classifier_ranks_next(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    facts = parse("inform", "AN-10001", ranking=[("start_return", 0.3)], order_number="AN-10001")
    assert say(engine, state, facts) == ["ASK email"]
    assert state.active_loop == "return_form"


def test_facts_ignore_a_task_ranked_below_the_hint(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    facts = parse("inform", "AN-10001", ranking=[("start_return", 0.1)], order_number="AN-10001")
    assert say(engine, state, facts) == ["STATUS AN-10001"]


@pytest.mark.parametrize("intent", ["faq", "out_of_scope", FALLBACK_INTENT])
def test_facts_with_a_rule_win_over_a_question_or_a_fallback(
    engine: DialogueEngine, knowledge: FakeKnowledge, intent: str
) -> None:
    state = ConversationState("u1")
    text = "what happened to my order AN-10008"
    assert say(engine, state, parse(intent, text, order_number="AN-10008")) == ["STATUS AN-10008"]
    assert knowledge.asked == []


# -- "why?" ------------------------------------------------------------------------------------------


def test_why_renders_the_companion_with_the_values_of_the_previous_response(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    assert say(engine, state, parse("ask_hours", "when does berlin close", shop="berlin")) == [
        "HOURS berlin close 18:00"
    ]
    state.slots["shop"] = "paris"  # the values come from what was said, not from today's slots

    assert say(engine, state, parse("ask_why", "why?")) == ["WHY HOURS berlin close 18:00"]


def test_why_companion_uses_values_the_response_did_not_show(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    say(engine, state, parse("start_return", "return AN-10001", order_number="AN-10001"))
    say(engine, state, parse("inform", "anna@example.com", email="anna@example.com"))

    assert say(engine, state, parse("ask_why", "why?")) == ["WHY RETURN AN-10001 30"]


def test_why_after_a_knowledge_answer_gives_its_reason(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    assert say(engine, state, parse("faq", "how do I wash wool?")) == [WOOL]

    assert say(engine, state, parse("ask_why", "why?")) == [
        "BECAUSE Heat and rubbing together make wool felt and shrink, so never use the dryer."
    ]


def test_why_without_anything_to_explain(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    assert say(engine, state, parse("ask_why", "why?")) == ["WHY DEFAULT"]
    say(engine, state, parse("greet"))
    assert say(engine, state, parse("ask_why", "why?")) == ["WHY DEFAULT"]


def test_why_is_about_the_previous_turn_only(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    say(engine, state, parse("ask_hours"))
    say(engine, state, parse("greet"))
    assert say(engine, state, parse("ask_why", "why?")) == ["WHY DEFAULT"]


def test_why_in_a_form_explains_then_asks_again(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    say(engine, state, parse("ask_hours"))
    say(engine, state, parse("start_return"))
    assert say(engine, state, parse("ask_why", "why?")) == ["WHY DEFAULT", "BACK TO IT", "ASK order_number"]
    assert state.active_loop == "return_form"


def test_previous_turn_lists_what_the_bot_said_between_the_last_two_messages() -> None:
    events = [
        event("user", text="one"),
        event("bot", text="old", metadata={"response": "utter_old"}),
        event("user", text="two"),
        event("action", name="action_hours"),
        event(
            "bot", text="HOURS", metadata={"response": "utter_hours", "values": {"shop": "berlin"}, "kind": "action"}
        ),
        event("bot", text="Wash by hand.", metadata={"kind": "knowledge"}),
        event("user", text="why?"),
    ]
    assert previous_turn(events) == [
        Said("utter_hours", {"shop": "berlin"}, "action", "HOURS"),
        Said("", {}, "knowledge", "Wash by hand."),
    ]
    assert previous_turn(events[:2]) == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (WOOL, "Heat and rubbing together make wool felt and shrink, so never use the dryer."),
        (
            "Returns are free. You have 30 days, because **sale items** are final only after that date.",
            "You have 30 days, because sale items are final only after that date.",
        ),
        (
            "- We ship to Norway.\n- Customs fees apply since Norway is outside the EU, which means duties.",
            "Customs fees apply since Norway is outside the EU, which means duties.",
        ),
        ("We are open from 10:00 to 19:00 on weekdays.", None),
        ("_Source: because it is so_", None),
    ],
)
def test_reason_sentence_picks_the_most_explaining_sentence(text: str, reason: str | None) -> None:
    assert reason_sentence(text) == reason


def test_reason_sentence_removes_link_markup() -> None:
    text = "Use [the care guide](https://example.com/care) because heat makes wool shrink."
    assert reason_sentence(text) == "Use the care guide because heat makes wool shrink."


def test_reason_sentence_is_cut_at_max_chars() -> None:
    text = "Because " + "wool " * 100 + "shrinks."
    reason = reason_sentence(text, max_chars=40)
    assert reason is not None
    assert len(reason) <= 40
    assert reason.startswith("Because wool") and reason.endswith("…")


# -- the language notice ---------------------------------------------------------------------------

DETECT = FakeLanguageDetector()


def language_of(text: str) -> str | None:
    found = DETECT.detect(text)
    return found[0] if found else None


def test_a_message_in_another_language_gets_the_notice_in_it_and_no_fallback(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    text = "bonjour, je ne trouve rien"
    assert language_of(text) == "fr"

    assert say(engine, state, unsure(text, language=language_of(text))) == ["ANGLAIS SEULEMENT"]


@pytest.mark.parametrize("reason", ["ambiguous", "out_of_scope"])
def test_no_fallback_response_after_the_notice(engine: DialogueEngine, reason: str) -> None:
    state = ConversationState("u1")
    replies = engine.handle(state, Turn(unsure("bonjour, blorp", language="fr", reason=reason)))
    assert [r.response for r in replies] == ["utter_language_notice_fr"]


def test_the_notice_is_given_once_and_a_task_is_still_handled(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    text = "bonjour, où est ma commande AN-10001"
    first = parse("inform", text, language=language_of(text), order_number="AN-10001")
    assert say(engine, state, first) == ["ANGLAIS SEULEMENT", "STATUS AN-10001"]

    again = parse("inform", "et ma commande AN-10002", language="fr", order_number="AN-10002")
    assert say(engine, state, again) == ["STATUS AN-10002"]


def test_a_language_without_its_own_notice_gets_the_general_one(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    text = "wann ist Berlin geöffnet"
    assert language_of(text) == "de"
    replies = say(engine, state, parse("ask_hours", text, language=language_of(text), shop="Berlin"))
    assert replies == ["ENGLISH ONLY", "HOURS Berlin close 18:00"]


def test_the_languages_the_bot_speaks_get_no_notice(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    assert say(engine, state, parse("greet", "hello", language="en")) == ["HELLO"]
    assert language_of("hello, where is my order") is None
    assert say(engine, state, parse("greet", "hello")) == ["HELLO"]


def test_a_later_message_in_that_language_is_not_met_with_silence(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    assert say(engine, state, unsure("bonjour, blorp", language="fr")) == ["ANGLAIS SEULEMENT"]

    assert say(engine, state, unsure("commande blorp", language="fr")) != []


# -- the two-stage fallback ------------------------------------------------------------------------


def test_the_last_stage_of_the_fallback_is_default_again(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    replies = [say(engine, state, unsure()) for _ in range(4)]
    assert replies == [["DID YOU MEAN"], ["REPHRASE"], ["DEFAULT AGAIN"], ["DID YOU MEAN"]]
    assert state.fallback_count == 1


def test_the_first_stage_of_the_fallback_offers_the_top_two_intents(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    [reply] = engine.handle(state, Turn(unsure()))
    assert [(b.title, b.payload) for b in reply.buttons] == [
        ("Return an item", "/start_return"),
        ("Opening hours", "/ask_hours"),
    ]


def test_an_out_of_scope_message_gets_the_out_of_scope_answer_first(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    replies = [say(engine, state, unsure(reason="out_of_scope")) for _ in range(3)]
    assert replies == [["OUT OF SCOPE"], ["REPHRASE"], ["DEFAULT AGAIN"]]


def test_an_understood_message_resets_the_fallback(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    say(engine, state, unsure())
    say(engine, state, unsure())
    say(engine, state, parse("greet"))
    assert say(engine, state, unsure()) == ["DID YOU MEAN"]

"""Issue 12, the policy: follow-ups pointing back at the task just answered, a "yes" that names a task,
a protest after a refusal, and a question about a rule that names a task ("can I return it once …?")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from bot.dialogue.action_runner import ActionResult
from bot.dialogue.engine import DialogueEngine, Turn
from bot.dialogue.state import ConversationState
from bot.domain import Domain, parse_domain_section
from bot.responses import ResponseRenderer
from bot.types import Entity, IntentScore, KnowledgeQuery, Parse, Reply, Source
from bot.yamlfile import LineDict, load_yaml

DOMAIN = """
slots:
  order_number: {type: text, mappings: [{type: from_entity, entity: order_number}]}
  email: {type: text, mappings: [{type: from_entity, entity: email}]}
  requested_slot: {type: any, mappings: [{type: custom}]}
forms:
  status_form:
    required_slots: [order_number, email]
  cancel_form:
    required_slots: [order_number, email]
rules:
- rule: status
  steps: [{intent: order_status}, {action: status_form}, {active_loop: status_form}]
- rule: cancel
  steps: [{intent: cancel_order}, {action: cancel_form}, {active_loop: cancel_form}]
- rule: return
  steps: [{intent: start_return}, {action: cancel_form}, {active_loop: cancel_form}]
- rule: submit status
  condition: [{active_loop: status_form}]
  steps: [{action: status_form}, {active_loop: null}, {slot_was_set: [{requested_slot: null}]}, {action: action_status}]
- rule: submit cancel
  condition: [{active_loop: cancel_form}]
  steps: [{action: cancel_form}, {active_loop: null}, {slot_was_set: [{requested_slot: null}]}, {action: action_cancel}]
- rule: a question about the order just shown
  steps: [{action: action_status}, {intent: nlu_fallback}, {action: status_form}, {active_loop: status_form}]
- rule: refusal
  steps: [{intent: refuse_me}, {action: action_refuse}]
responses:
  utter_ask_order_number: [{text: "ASK order_number"}]
  utter_ask_email: [{text: "ASK email"}]
  utter_status: [{text: "STATUS {order_number}"}]
  utter_cancelled: [{text: "CANCELLED {order_number}"}]
  utter_refused: [{text: "REFUSED {order_number}"}]
  utter_refused_why: [{text: "BECAUSE {order_number} is late"}]
  utter_deny: [{text: "DENIED"}]
  utter_out_of_scope: [{text: "OUT OF SCOPE"}]
  utter_ask_rephrase: [{text: "REPHRASE"}]
  utter_default: [{text: "DEFAULT"}]
  utter_why_default: [{text: "WHY DEFAULT"}]
"""


def build_domain(text: str) -> Domain:
    data, problems = load_yaml(text, "domain.yml")
    assert problems == [] and isinstance(data, LineDict)
    domain = Domain()
    for key, value in data.items():
        assert parse_domain_section(key, value, "domain.yml", data.key_lines[key], domain) == []
    return domain


class FakeRunner:
    def actions(self) -> set[str]:
        return {"action_status", "action_cancel", "action_refuse"}

    def run(self, name: str, sender_id: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionResult:
        number = tracker["slots"].get("order_number")
        reset = [{"event": "slot", "name": s, "value": None} for s in ("order_number", "email")]
        if name == "action_status":
            return ActionResult(reset, [{"response": "utter_status", "order_number": number}])
        if name == "action_cancel":
            return ActionResult(reset, [{"response": "utter_cancelled", "order_number": number}])
        if name == "action_refuse":
            return ActionResult([], [{"response": "utter_refused", "order_number": "AN-1"}])
        raise AssertionError(name)


@dataclass
class FakeOutcome:
    decision: str
    replies: list[Reply]
    hits: tuple[Any, ...] = ()


class FakeKnowledge:
    """Answers only questions about washing."""

    def __call__(self, query: KnowledgeQuery) -> FakeOutcome:
        if "wash" in query.text.lower():
            return FakeOutcome("answer", [Reply("KB washing", sources=(Source("w", "w", "w.md"),), kind="knowledge")])
        return FakeOutcome("unknown", [Reply("KB unknown", kind="knowledge")])


@pytest.fixture()
def engine() -> DialogueEngine:
    domain = build_domain(DOMAIN)
    return DialogueEngine(
        domain,
        ResponseRenderer(domain.responses, seed=0),
        FakeRunner(),
        intents=["order_status", "cancel_order", "start_return", "refuse_me", "affirm", "deny", "nlu_fallback"],
        entities=["order_number", "email"],
        knowledge=FakeKnowledge(),
    )


def parse(intent: str, text: str, *ranking: tuple[str, float], **entities: str) -> Parse:
    found = []
    for name, value in entities.items():
        start = text.find(value)
        found.append(Entity(name, value, start, start + len(value), "test", value))
    score = IntentScore(intent, 0.6)
    reason = "out_of_scope" if intent == "nlu_fallback" else None
    return Parse(text, score, tuple(found), (score, *(IntentScore(n, c) for n, c in ranking)), fallback_reason=reason)


def say(engine: DialogueEngine, state: ConversationState, message: Parse) -> list[str]:
    return [r.text for r in engine.handle(state, Turn(message))]


def shown(engine: DialogueEngine) -> ConversationState:
    state = ConversationState("u1")
    text = "where is AN-10007? david@example.com"
    assert say(engine, state, parse("order_status", text, order_number="AN-10007", email="david@example.com")) == [
        "STATUS AN-10007"
    ]
    return state


def test_an_unplaced_question_pointing_back_is_answered_from_the_order(engine: DialogueEngine) -> None:
    state = shown(engine)
    state.slots.update(order_number="AN-10007", email="david@example.com")  # the shop reuses the verified order
    assert say(engine, state, parse("nlu_fallback", "great, so it comes today?")) == ["STATUS AN-10007"]


def test_a_question_that_does_not_point_back_is_not(engine: DialogueEngine) -> None:
    state = shown(engine)
    assert say(engine, state, parse("nlu_fallback", "what's the driver's mobile number?")) == ["OUT OF SCOPE"]


def test_a_yes_naming_a_task_starts_it(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    message = parse("deny", "hmm actually yes, cancel it after all", ("cancel_order", 0.3))
    assert say(engine, state, message) == ["ASK order_number"]
    assert state.active_loop == "cancel_form"


@pytest.mark.parametrize("text", ["no thanks, don't cancel it", "no"])
def test_a_no_is_still_a_no(engine: DialogueEngine, text: str) -> None:
    state = ConversationState("u1")
    assert say(engine, state, parse("deny", text, ("cancel_order", 0.3))) == ["DENIED"]
    assert state.active_loop is None


def test_a_protest_after_a_refusal_gets_the_reason(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    assert say(engine, state, parse("refuse_me", "refuse me")) == ["REFUSED AN-1"]
    assert say(engine, state, parse("nlu_fallback", "how come, it's only one day late!")) == ["BECAUSE AN-1 is late"]


def test_why_after_a_fallback_explains_the_refusal_before_it(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    say(engine, state, parse("refuse_me", "refuse me"))
    state.fallback_count = 0
    assert say(engine, state, parse("nlu_fallback", "blah blah " * 10)) == ["OUT OF SCOPE"]  # too long to protest
    assert say(engine, state, parse("ask_why", "why?")) == ["BECAUSE AN-1 is late"]


def test_a_question_about_a_rule_goes_to_the_knowledge_base(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    assert say(engine, state, parse("start_return", "can I still return it once I've washed it?")) == ["KB washing"]
    assert state.active_loop is None
    text = "can I return AN-10002 once I've washed it?"
    assert say(engine, state, parse("start_return", text, order_number="AN-10002")) == ["ASK email"]

"""The dialogue engine on parsed messages: rules, forms, digressions, fallback, action errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.dialogue.action_runner import ActionResult
from bot.dialogue.engine import DialogueEngine, Turn
from bot.dialogue.state import ConversationState
from bot.errors import ActionError
from bot.intents_loader import load_intents
from bot.responses import ResponseRenderer
from bot.types import FALLBACK_INTENT, Entity, IntentScore, Parse, Reply

DOMAIN = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - hello
    - hey
- intent: start_return
  examples: |
    - return my coat
    - I want to send this back
    - refund please
- intent: inform
  examples: |
    - AN-12345
    - it is jo@example.com
    - Berlin
- intent: stop
  examples: |
    - stop
    - never mind
    - forget it
- intent: ask_hours
  examples: |
    - when do you open
    - opening hours
    - are you open now
- intent: book_appointment
  examples: |
    - book a fitting
    - I'd like an appointment
    - can I come in for a fitting
intent_titles:
  start_return: Return an item
  ask_hours: Opening hours
slots:
  order_number:
    type: text
    mappings: [{type: from_entity, entity: order_number}]
  email:
    type: text
    mappings: [{type: from_entity, entity: email}]
  shop:
    type: text
    mappings: [{type: from_entity, entity: shop}]
  requested_slot: {type: any, mappings: [{type: custom}]}
forms:
  return_form:
    required_slots: [order_number, email]
  appointment_form:
    required_slots: [shop]
rules:
- rule: greet
  steps: [{intent: greet}, {action: utter_greet}]
- rule: hours
  steps: [{intent: ask_hours}, {action: action_hours}]
- rule: hours follow-up
  steps: [{action: action_hours}, {intent: inform}, {action: action_hours}]
- rule: start return
  steps: [{intent: start_return}, {action: return_form}, {active_loop: return_form}]
- rule: book
  steps: [{intent: book_appointment}, {action: appointment_form}, {active_loop: appointment_form}]
- rule: submit return
  condition: [{active_loop: return_form}]
  steps:
  - action: return_form
  - active_loop: null
  - slot_was_set: [{requested_slot: null}]
  - action: action_submit_return
responses:
  utter_greet: [{text: "Hello!"}]
  utter_ask_order_number: [{text: "What is your order number?"}]
  utter_ask_email: [{text: "Which email did you use?"}]
  utter_ask_shop: [{text: "Which shop?"}]
  utter_switch_task: [{text: "No problem, let's do that instead."}]
  utter_form_reminder: [{text: "Back to your return."}]
  utter_form_stopped: [{text: "Stopped."}]
  utter_ask_affirmation: [{text: "Did you mean one of these?"}]
  utter_ask_rephrase: [{text: "Could you rephrase?"}]
  utter_default:
  - text: "Sorry, I can't help. A person can."
    buttons: [{title: Talk to a person, payload: /human_handoff}]
  utter_internal_error: [{text: "Sorry, something broke."}]
  utter_conversation_paused: [{text: "A person will answer."}]
  utter_return_created: [{text: "Return {rma} created for {order_number}."}]
  utter_hours: [{text: "Hours for {shop}."}]
"""


class FakeRunner:
    """Records calls; behaves like our reference actions for the pieces under test."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail: set[str] = set()

    def actions(self) -> set[str]:
        return {"action_hours", "action_submit_return", "validate_return_form"}

    def run(self, name: str, sender_id: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionResult:
        self.calls.append((name, tracker))
        if name in self.fail:
            raise ActionError(f"{name} exploded")
        if name == "action_hours":
            return ActionResult([], [{"response": "utter_hours", "shop": tracker["slots"].get("shop") or "all shops"}])
        if name == "validate_return_form":
            events = []
            for e in reversed(tracker["events"]):
                if e["event"] != "slot":
                    break
                if e["name"] == "order_number" and e["value"] == "AN-00000":
                    events.append({"event": "slot", "name": "order_number", "value": None})
            return ActionResult(events, [{"text": "That order number doesn't look right."}] if events else [])
        if name == "action_submit_return":
            return ActionResult(
                [{"event": "slot", "name": "rma", "value": "RMA-1"}],
                [{"response": "utter_return_created", "rma": "RMA-1"}],
            )
        raise AssertionError(name)


class FakeKnowledge:
    def __init__(self, decision: str = "answer") -> None:
        self.decision_value = decision
        self.asked: list[str] = []

    def __call__(self, query: Any) -> Any:
        text = query.text
        self.asked.append(text)
        outer = self

        class Outcome:
            decision = outer.decision_value
            replies = [Reply(f"KB answer to: {text}", kind="knowledge")]

        return Outcome()


@pytest.fixture()
def engine(tmp_path: Path) -> DialogueEngine:
    folder = tmp_path / "intents"
    folder.mkdir()
    (folder / "domain.yml").write_text(DOMAIN)
    project = load_intents(folder, root=tmp_path)
    assert project.errors == []
    return DialogueEngine(
        project.domain,
        ResponseRenderer(project.domain.responses, seed=0),
        FakeRunner(),
        intents=project.data.intents,
        entities=["order_number", "email", "shop"],
        knowledge=FakeKnowledge(),
    )


def parse(intent: str, text: str = "", confidence: float = 0.9, **entities: str) -> Parse:
    score = IntentScore(intent, confidence)
    ents = tuple(Entity(k, v, 0, len(v), "test", v) for k, v in entities.items())
    return Parse(text or intent, score, ents, (score, IntentScore("greet", 0.05)))


def say(engine: DialogueEngine, state: ConversationState, p: Parse) -> list[str]:
    return [r.text for r in engine.handle(state, Turn(p))]


def test_rule_to_response(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    assert say(engine, state, parse("greet")) == ["Hello!"]
    assert [e["event"] for e in state.events] == ["user", "action", "bot", "action"]


def test_form_happy_path_and_submit(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    assert say(engine, state, parse("start_return")) == ["What is your order number?"]
    assert state.active_loop == "return_form"
    assert say(engine, state, parse("inform", order_number="AN-12345")) == ["Which email did you use?"]
    assert say(engine, state, parse("inform", email="jo@example.com")) == ["Return RMA-1 created for AN-12345."]
    assert state.active_loop is None
    assert state.slots["rma"] == "RMA-1"


def test_form_prefilled_from_the_activating_message(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    assert say(engine, state, parse("start_return", order_number="AN-12345")) == ["Which email did you use?"]


def test_validation_rejects_and_asks_again(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    say(engine, state, parse("start_return"))
    assert say(engine, state, parse("inform", order_number="AN-00000")) == [
        "That order number doesn't look right.",
        "What is your order number?",
    ]
    assert state.slots["order_number"] is None


def test_digression_answers_then_resumes(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    say(engine, state, parse("start_return"))
    replies = say(engine, state, parse("faq", "do you ship to Norway?"))
    assert replies == ["KB answer to: do you ship to Norway?", "Back to your return.", "What is your order number?"]
    assert state.active_loop == "return_form"


def test_task_digression_mid_form_runs_and_resumes(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    say(engine, state, parse("start_return"))
    assert say(engine, state, parse("ask_hours")) == [
        "Hours for all shops.",
        "Back to your return.",
        "What is your order number?",
    ]


def test_another_task_mid_form_switches_and_says_so(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    say(engine, state, parse("start_return"))
    assert say(engine, state, parse("book_appointment")) == ["No problem, let's do that instead.", "Which shop?"]
    assert state.active_loop == "appointment_form"
    assert state.slots.get("requested_slot") == "shop"


def test_stop_leaves_the_form(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    say(engine, state, parse("start_return"))
    assert say(engine, state, parse("stop")) == ["Stopped."]
    assert state.active_loop is None
    assert state.slots.get("requested_slot") is None


def test_follow_up_rule_reuses_previous_action(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    assert say(engine, state, parse("ask_hours", shop="berlin")) == ["Hours for berlin."]
    assert say(engine, state, parse("inform", "and in London?", shop="london")) == ["Hours for london."]


def test_two_stage_fallback(engine: DialogueEngine) -> None:
    engine.knowledge = FakeKnowledge("unknown")
    state = ConversationState("u1")
    ranking = (IntentScore(FALLBACK_INTENT, 0.5), IntentScore("start_return", 0.4), IntentScore("ask_hours", 0.35))
    unsure = Parse("blorp", ranking[0], (), ranking, abstained=True)
    first = engine.handle(state, Turn(unsure))
    assert [r.text for r in first] == ["Did you mean one of these?"]
    assert [(b.title, b.payload) for b in first[0].buttons] == [
        ("Return an item", "/start_return"),
        ("Opening hours", "/ask_hours"),
    ]
    assert say(engine, state, unsure) == ["Could you rephrase?"]
    third = engine.handle(state, Turn(unsure))
    assert third[0].text == "Sorry, I can't help. A person can."
    assert third[0].buttons[0].payload == "/human_handoff"


def test_abstention_goes_to_knowledge_first(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    ranking = (IntentScore(FALLBACK_INTENT, 0.5), IntentScore("greet", 0.4))
    assert say(engine, state, Parse("how do I wash wool", ranking[0], (), ranking, True)) == [
        "KB answer to: how do I wash wool"
    ]


def test_action_error_is_polite_and_keeps_the_form(engine: DialogueEngine) -> None:
    runner = engine.runner
    assert isinstance(runner, FakeRunner)
    runner.fail.add("validate_return_form")
    state = ConversationState("u1")
    say(engine, state, parse("start_return"))
    assert say(engine, state, parse("inform", order_number="AN-12345")) == [
        "Sorry, something broke.",
        "What is your order number?",
    ]
    assert state.active_loop == "return_form"


def test_paused_conversation_stays_quiet(engine: DialogueEngine) -> None:
    state = ConversationState("u1", paused=True)
    assert say(engine, state, parse("greet")) == ["A person will answer."]


def test_tracker_sent_to_actions_has_rasa_shape(engine: DialogueEngine) -> None:
    state = ConversationState("u1")
    say(engine, state, parse("ask_hours", "hours in berlin", shop="berlin"))
    runner = engine.runner
    assert isinstance(runner, FakeRunner)
    name, tracker = runner.calls[-1]
    assert name == "action_hours"
    assert tracker["latest_message"]["intent"] == {"name": "ask_hours", "confidence": 0.9}
    assert tracker["slots"]["shop"] == "berlin"
    assert set(tracker) >= {
        "sender_id",
        "slots",
        "latest_message",
        "events",
        "paused",
        "active_loop",
        "latest_action_name",
    }

"""Forms: filling a form's slots from each message (slot mappings), validating, asking, submitting.

While a form is active every message is read for its slots. The entities of an `inform`, `affirm`,
`deny`, `faq` or fallback message answer any of the form's questions (corrections such as "actually
make it London instead"); free text only ever answers the question asked. Anything else is a
digression for the policy (`Policy.digress`), after which the form asks its question again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot import intent_names
from bot.dialogue.action_runner import ActionResult
from bot.dialogue.events import apply_events, parse_events, requested_slot
from bot.dialogue.memory import MEMORY_INTENTS
from bot.dialogue.state import ConversationState, event
from bot.dialogue.turn import Turn
from bot.errors import ActionError
from bot.types import Parse

if TYPE_CHECKING:
    from bot.dialogue.engine import DialogueEngine

log = logging.getLogger("bot.dialogue.engine")

CORRECTION_INTENTS = frozenset(
    {*intent_names.FORM_FILLING, intent_names.FALLBACK, intent_names.FAQ, intent_names.OUT_OF_SCOPE}
)
"""In a form, the entities of a message with one of these intents are read as answers (corrections)."""


class FormLoop:
    def __init__(self, engine: DialogueEngine) -> None:
        self.engine = engine
        self.domain = engine.domain

    # -- slot mappings ---------------------------------------------------------------------------
    def mapping_values(
        self,
        slot: str,
        turn: Turn,
        form: str | None,
        requested: str | None,
        *,
        as_inform: bool = False,
        entities_only: bool = False,
    ) -> list[Any]:
        """Values the slot's mappings give for this message (first matching mapping wins).
        `as_inform` reads the message as if its intent were `inform`; `entities_only` skips the
        `from_text` and `from_intent` mappings."""
        parse = turn.parse
        intent = intent_names.INFORM if as_inform else parse.intent.name
        for mapping in self.domain.mappings(slot):
            if not mapping.applies(form, requested) or not mapping.listens_to(intent):
                continue
            asked = bool(mapping.conditions) or requested == slot
            if mapping.type == "from_entity":
                for entity in parse.entities:
                    if entity.entity == mapping.entity and (not mapping.role or entity.role == mapping.role):
                        return [entity.value]
            elif entities_only:
                continue
            elif mapping.type == "from_text" and asked:
                if intent != intent_names.STOP and not parse.text.startswith("/"):
                    return [parse.text]
            elif mapping.type == "from_intent" and asked and mapping.intents:
                return [mapping.value]
        return []

    def listens_everywhere(self, slot: str) -> bool:
        """A slot with an unconditional from_entity mapping is set from every message."""
        mappings = self.domain.mappings(slot)
        return not any(m.conditions for m in mappings) and any(m.type == "from_entity" for m in mappings)

    def extract_global_slots(self, state: ConversationState, turn: Turn) -> None:
        """Slots whose mappings have no conditions are set from every message."""
        for slot in self.domain.slots:
            if not self.listens_everywhere(slot):
                continue
            values = self.mapping_values(slot, turn, None, None)
            if values:
                turn.extracted[slot] = values[0]
                state.set_slot(slot, values[0])

    def required_slots(self, form: str) -> list[str]:
        return self.domain.required_slots(form)

    def has_entity_for(self, slot: str, parse: Parse) -> bool:
        """Does the message carry an entity that one of the slot's from_entity mappings reads?"""
        wanted = {m.entity for m in self.domain.mappings(slot) if m.type == "from_entity"}
        return any(e.entity in wanted for e in parse.entities)

    def candidates(
        self, turn: Turn, form: str, requested: Any, *, relaxed: bool, free_text: bool = True
    ) -> dict[str, Any]:
        """Slot values for the form's required slots from this message. `relaxed` reads the message as
        an answer (`inform`) whatever its intent: for replies the classifier took for a question, such
        as "cashmere sweater" or "31st of February", and for corrections of an earlier answer such as
        "actually make it London instead" (free text still only fills the slot being asked)."""
        found: dict[str, Any] = {}
        corrective = relaxed or turn.parse.intent.name in CORRECTION_INTENTS  # "no wait, wednesday"
        for slot in self.required_slots(form):
            values = self.mapping_values(slot, turn, form, requested, as_inform=corrective, entities_only=True)
            if values:
                found[slot] = values[0]
        if not found and free_text and isinstance(requested, str):  # the whole text answers the question asked
            values = self.mapping_values(requested, turn, form, requested, as_inform=relaxed)
            if values:
                found[requested] = values[0]
        return found

    # -- the loop --------------------------------------------------------------------------------
    def activate(self, state: ConversationState, turn: Turn, form: str) -> None:
        state.active_loop = form
        state.run_action(form)
        state.add(event("active_loop", name=form))
        found = {k: v for k, v in turn.extracted.items() if k in self.required_slots(form)}
        for slot in self.required_slots(form):
            if slot in found:
                continue
            values = self.mapping_values(slot, turn, form, None)
            if values and any(m.type == "from_entity" for m in self.domain.mappings(slot)):
                found[slot] = values[0]
        self.step(state, turn, form, found, activating=True)

    def turn(self, state: ConversationState, turn: Turn) -> None:
        """A message while a form is active."""
        form = state.active_loop
        assert form is not None
        parse = turn.parse
        requested = state.slots.get("requested_slot")
        if parse.intent.name == intent_names.STOP:
            self.deactivate(state)
            self.engine.speech.utter(state, turn, "utter_form_stopped")
            return
        found = self.candidates(turn, form, requested, relaxed=False)
        if parse.intent.name == intent_names.FAQ and all(state.slots.get(k) == v for k, v in found.items()):
            found = {}  # a question naming what is already chosen ("do you do alterations in london?")
        if not found and isinstance(requested, str) and self.has_entity_for(requested, parse):
            found = self.candidates(turn, form, requested, relaxed=True)  # "cashmere sweater"
        if not found and self.is_digression(parse):
            outcome = None
            if parse.intent.name in (intent_names.FAQ, intent_names.FALLBACK, intent_names.OUT_OF_SCOPE):
                outcome = self.engine.knowledge_context.ask(turn, record=False)
                if outcome is None or outcome.decision != "answer":
                    # not a confident knowledge question: most likely an answer to our question
                    found = self.candidates(turn, form, requested, relaxed=True)
            elif parse.intent.name in intent_names.PRODUCTS:  # "the gold hoop earrings" when asked which item
                found = self.candidates(turn, form, requested, relaxed=True)
            elif parse.intent.name in MEMORY_INTENTS:  # "actually make it London" read as "remember London"
                found = self.candidates(turn, form, requested, relaxed=True, free_text=False)
            if not found:
                self.engine.policy.digress(state, turn, form, requested, outcome)
                return
        for slot in self.domain.slots:  # other slots that listen to every message
            if slot in found or not self.listens_everywhere(slot):
                continue
            values = self.mapping_values(slot, turn, None, None)
            if values:
                state.set_slot(slot, values[0])
        self.step(state, turn, form, found)

    def is_digression(self, parse: Parse) -> bool:
        intent = parse.intent.name
        if intent in intent_names.FORM_FILLING:
            return False
        if intent == intent_names.FALLBACK:
            return self.engine.knowledge_context.answerer is not None
        return True

    def deactivate(self, state: ConversationState) -> None:
        state.active_loop = None
        state.add(event("active_loop", name=None))
        if state.slots.get("requested_slot") is not None:
            state.set_slot("requested_slot", None)

    def step(
        self, state: ConversationState, turn: Turn, form: str, found: dict[str, Any], *, activating: bool = False
    ) -> None:
        """Set the candidates, validate (on every turn with candidates, and when the form starts, so a
        validator can use the conversation's context), then ask the next question or submit."""
        for slot, value in found.items():
            state.set_slot(slot, value)
        requested: Any = ...
        if found or activating:
            requested = self.validate(state, turn, form, found)
        if state.active_loop != form:
            return  # validation ended the form
        if requested is ...:
            requested = next((s for s in self.required_slots(form) if state.slots.get(s) is None), None)
        if requested is None:
            self.deactivate(state)
            for action in self.domain.submit_actions(form):
                self.engine.run_action(state, turn, action)
            return
        if state.slots.get("requested_slot") != requested:
            state.set_slot("requested_slot", requested)
        self.ask(state, turn, form, str(requested))

    def validate(self, state: ConversationState, turn: Turn, form: str, found: dict[str, Any]) -> Any:
        """Run `validate_<form>` when the action runner has it; the `requested_slot` it set (or ...)."""
        engine = self.engine
        validator = f"validate_{form}"
        if engine.runner is None or validator not in engine.runner_actions():
            return ...
        try:
            result = engine.runner.run(
                validator, state.sender_id, state.as_tracker(input_channel=turn.input_channel), engine.domain_dict
            )
        except ActionError:
            log.exception("validation %s failed", validator)
            engine.speech.utter(state, turn, "utter_internal_error")
            result = ActionResult(events=[{"event": "slot", "name": s, "value": None} for s in found])
        events = parse_events(result.events)
        apply_events(state, events)
        engine.speech.action_messages(state, turn, result.responses)
        return requested_slot(events)

    def ask(self, state: ConversationState, turn: Turn, form: str, slot: str) -> None:
        engine = self.engine
        actions = engine.runner_actions()
        for name in (f"action_ask_{form}_{slot}", f"action_ask_{slot}"):
            if name in actions:
                engine.run_action(state, turn, name)
                return
        for name in (f"utter_ask_{form}_{slot}", f"utter_ask_{slot}"):
            if engine.renderer.has(name):
                engine.speech.utter(state, turn, name)
                return
        log.warning("form %s has no question for slot %s", form, slot)
        engine.speech.utter(state, turn, "utter_ask_rephrase")

"""The dialogue policy: decides what the bot does with one parsed message.

Order of precedence, Rasa-style: a paused conversation stays quiet; an active form continues unless
the customer digresses ("stop" leaves it); rules map intents to actions, responses and forms; the
knowledge base answers `faq` questions and messages the classifier abstains on; otherwise the
two-stage fallback clarifies, asks to rephrase, then offers a human.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from bot.dialogue.action_runner import ActionRejected, ActionResult, ActionRunner
from bot.dialogue.state import ConversationState, event
from bot.domain import Domain, Rule
from bot.errors import ActionError, TemplateError
from bot.responses import ResponseRenderer
from bot.types import FALLBACK_INTENT, Button, Parse, Reply

log = logging.getLogger(__name__)

FAQ_INTENT = "faq"
FORM_FILLING_INTENTS = frozenset({"inform", "affirm", "deny"})
_STANDARD_MESSAGE_KEYS = {"text", "buttons", "elements", "custom", "template", "response", "image", "attachment"}


class KnowledgeOutcome(Protocol):
    @property
    def decision(self) -> str: ...  # "answer" | "suggest" | "unknown"

    @property
    def replies(self) -> Sequence[Reply]: ...


KnowledgeAnswerer = Callable[[np.ndarray | None, str, bool], KnowledgeOutcome | None]
"""(embedding, text, record_unanswered) -> outcome; None when no knowledge base is loaded."""


@dataclass
class Turn:
    parse: Parse
    embedding: np.ndarray | None = None
    input_channel: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    replies: list[Reply] = field(default_factory=list)
    extracted: dict[str, Any] = field(default_factory=dict)  # slots set from this message


class DialogueEngine:
    def __init__(
        self,
        domain: Domain,
        renderer: ResponseRenderer,
        runner: ActionRunner | None,
        *,
        intents: Sequence[str],
        entities: Sequence[str],
        knowledge: KnowledgeAnswerer | None = None,
    ) -> None:
        self.domain = domain
        self.renderer = renderer
        self.runner = runner
        self.knowledge = knowledge
        self.intents = list(intents)
        self.entities = list(entities)
        self._domain_dict = domain.as_rasa_dict(self.intents, self.entities)

    # -- public ----------------------------------------------------------------------------------
    def handle(self, state: ConversationState, turn: Turn) -> list[Reply]:
        parse = turn.parse
        parse_data = parse.as_dict()
        state.latest_message = {**parse_data, "message_id": uuid.uuid4().hex, "metadata": dict(turn.metadata)}
        state.add(
            event(
                "user",
                text=parse.text,
                parse_data=parse_data,
                input_channel=turn.input_channel,
                message_id=state.latest_message["message_id"],
                metadata=dict(turn.metadata),
            )
        )
        if state.paused:
            self.utter(state, turn, "utter_conversation_paused")
            return turn.replies
        if state.active_loop:
            self._form_turn(state, turn)
        else:
            self._extract_global_slots(state, turn)
            self._free_turn(state, turn)
        state.add(event("action", name="action_listen", policy=None, confidence=None))
        return turn.replies

    def utter(self, state: ConversationState, turn: Turn, name: str, values: Mapping[str, Any] | None = None) -> bool:
        try:
            reply = self.renderer.render(name, state.slots, values, channel=turn.input_channel)
        except TemplateError:
            log.exception("response %s failed to render", name)
            reply = None
        if reply is None:
            log.warning("response %s is not defined", name)
            return False
        state.run_action(name)
        self.emit(state, turn, reply)
        return True

    def emit(self, state: ConversationState, turn: Turn, reply: Reply) -> None:
        reply = replace(reply, id=reply.id or uuid.uuid4().hex[:16])
        turn.replies.append(reply)
        state.add(event("bot", text=reply.text, data=_reply_data(reply), metadata={"kind": reply.kind}))

    # -- free turns ------------------------------------------------------------------------------
    def _free_turn(self, state: ConversationState, turn: Turn) -> None:
        parse = turn.parse
        intent = parse.intent.name
        if intent == FALLBACK_INTENT:
            outcome = self._ask_knowledge(turn, record=True)
            if outcome is not None and outcome.decision in ("answer", "suggest"):
                state.fallback_count = 0
                self._emit_knowledge(state, turn, outcome)
                return
            self._two_stage_fallback(state, turn)
            return
        state.fallback_count = 0
        if intent == FAQ_INTENT:
            outcome = self._ask_knowledge(turn, record=True)
            if outcome is not None:
                self._emit_knowledge(state, turn, outcome)
            else:
                self.utter(state, turn, "utter_default")
            return
        rule = self.domain.action_for_intent(intent, state.latest_action_name)
        if rule is not None:
            self._run_rule(state, turn, rule)
            return
        if intent == "out_of_scope":
            outcome = self._ask_knowledge(turn, record=True)
            if outcome is not None and outcome.decision == "answer":
                self._emit_knowledge(state, turn, outcome)
                return
        if not self.utter(state, turn, f"utter_{intent}"):
            self.utter(state, turn, "utter_default")

    def _two_stage_fallback(self, state: ConversationState, turn: Turn) -> None:
        """Rasa's two-stage fallback: clarify (top two intents as buttons), ask to rephrase, then offer a
        human. A message that is simply out of scope (not torn between two intents) gets the
        out-of-scope answer first instead of a confusing "did you mean"."""
        state.fallback_count += 1
        out_of_scope = turn.parse.fallback_reason == "out_of_scope"
        if state.fallback_count == 1 and out_of_scope and self.utter(state, turn, "utter_out_of_scope"):
            return
        if state.fallback_count == 1 and self._ask_affirmation(state, turn):
            return
        if state.fallback_count <= 2:
            state.fallback_count = 2
            self.utter(state, turn, "utter_ask_rephrase")
            return
        state.fallback_count = 0
        self.utter(state, turn, "utter_default")

    def _ask_affirmation(self, state: ConversationState, turn: Turn) -> bool:
        candidates = [
            s.name
            for s in turn.parse.intent_ranking
            if s.name in self.domain.intent_titles and s.name != FALLBACK_INTENT
        ][:2]
        if not candidates:
            return False
        buttons = tuple(Button(self.domain.intent_titles[name], f"/{name}") for name in candidates)
        values = {
            "intent_1_title": self.domain.intent_titles[candidates[0]],
            "intent_2_title": self.domain.intent_titles[candidates[-1]],
        }
        reply = self.renderer.render(
            "utter_ask_affirmation", state.slots, values, kind="clarify", channel=turn.input_channel
        )
        if reply is None:
            return False
        state.run_action("action_two_stage_fallback")
        self.emit(state, turn, replace(reply, buttons=buttons + reply.buttons))
        return True

    def _ask_knowledge(self, turn: Turn, *, record: bool) -> KnowledgeOutcome | None:
        if self.knowledge is None:
            return None
        return self.knowledge(turn.embedding, turn.parse.text, record)

    def _emit_knowledge(self, state: ConversationState, turn: Turn, outcome: KnowledgeOutcome) -> None:
        state.run_action(f"action_knowledge_{outcome.decision}")
        for reply in outcome.replies:
            self.emit(state, turn, reply)

    def _run_rule(self, state: ConversationState, turn: Turn, rule: Rule) -> None:
        for action in rule.actions:
            self.run_action(state, turn, action)
        if rule.activates_form:
            self._activate_form(state, turn, rule.activates_form)

    # -- actions ---------------------------------------------------------------------------------
    def run_action(self, state: ConversationState, turn: Turn, name: str, depth: int = 0) -> bool:
        """Run a response, a form, or a custom action. Returns False if it failed or was rejected."""
        if name.startswith("utter_"):
            return self.utter(state, turn, name)
        if name in self.domain.forms:
            self._activate_form(state, turn, name)
            return True
        if self.runner is None:
            log.warning("no action runner configured for %s", name)
            return self.utter(state, turn, f"utter_{name.removeprefix('action_')}")
        try:
            result = self.runner.run(
                name, state.sender_id, state.as_tracker(input_channel=turn.input_channel), self._domain_dict
            )
        except ActionRejected:
            log.info("action %s rejected the call", name)
            return False
        except ActionError:
            log.exception("action %s failed", name)
            self.utter(state, turn, "utter_internal_error")
            return False
        state.run_action(name)
        followup = self._apply_result(state, turn, result)
        if followup and depth < 5:
            return self.run_action(state, turn, followup, depth + 1)
        return True

    def _apply_result(self, state: ConversationState, turn: Turn, result: ActionResult) -> str | None:
        followup: str | None = None
        for item in result.events:
            kind = item.get("event")
            if kind == "slot":
                state.set_slot(str(item.get("name")), item.get("value"))
            elif kind == "active_loop":
                state.active_loop = item.get("name")
                state.add(event("active_loop", name=state.active_loop))
            elif kind == "followup":
                followup = str(item.get("name"))
            elif kind == "pause":
                state.paused = True
                state.add(event("pause"))
            elif kind == "resume":
                state.paused = False
                state.add(event("resume"))
            elif kind == "reset_slots":
                state.slots = {}
                state.add(event("reset_slots"))
            elif kind in ("user", "bot", "action"):
                continue
            else:
                state.add(dict(item))
        for message in result.responses:
            reply = self._render_action_message(state, turn, message)
            if reply is not None:
                self.emit(state, turn, reply)
        return followup

    def _render_action_message(self, state: ConversationState, turn: Turn, message: Mapping[str, Any]) -> Reply | None:
        buttons = tuple(
            Button(str(b.get("title", "")), str(b.get("payload", ""))) for b in message.get("buttons") or []
        )
        name = message.get("response") or message.get("template")
        custom = message.get("custom") or None
        if name:
            values = {k: v for k, v in message.items() if k not in _STANDARD_MESSAGE_KEYS}
            try:
                reply = self.renderer.render(str(name), state.slots, values, channel=turn.input_channel, kind="action")
            except TemplateError:
                log.exception("response %s failed to render", name)
                reply = None
            if reply is None:
                log.warning("action uttered unknown response %s", name)
                return None
            return replace(
                reply,
                buttons=reply.buttons + buttons,
                image=message.get("image") or reply.image,
                custom=custom or reply.custom,
            )
        text = message.get("text") or ""
        if not text and not buttons and not custom and not message.get("image"):
            return None
        return Reply(text=str(text), buttons=buttons, image=message.get("image"), custom=custom, kind="action")

    # -- slots and forms -------------------------------------------------------------------------
    def _mapping_values(
        self, slot: str, turn: Turn, form: str | None, requested: str | None, *, as_inform: bool = False
    ) -> list[Any]:
        """Values the slot's mappings give for this message (first matching mapping wins).
        `as_inform` reads the message as if its intent were `inform`."""
        parse = turn.parse
        intent = "inform" if as_inform else parse.intent.name
        for mapping in self.domain.slots.get(slot, {}).get("mappings") or []:
            conditions = mapping.get("conditions") or []
            if conditions and not any(
                c.get("active_loop") == form and c.get("requested_slot", requested) == requested for c in conditions
            ):
                continue
            mapped_intents = _as_list(mapping.get("intent"))
            excluded = _as_list(mapping.get("not_intent"))
            if mapped_intents and intent not in mapped_intents:
                continue
            if intent in excluded:
                continue
            kind = mapping.get("type")
            if kind == "from_entity":
                for entity in parse.entities:
                    if entity.entity != mapping.get("entity"):
                        continue
                    if mapping.get("role") and entity.role != mapping.get("role"):
                        continue
                    return [entity.value]
            elif kind == "from_text" and (conditions or requested == slot):
                if intent != "stop" and not parse.text.startswith("/"):
                    return [parse.text]
            elif kind == "from_intent" and (conditions or requested == slot) and mapped_intents:
                return [mapping.get("value")]
        return []

    def _extract_global_slots(self, state: ConversationState, turn: Turn) -> None:
        """Slots whose mappings have no conditions are set from every message."""
        for slot, spec in self.domain.slots.items():
            mappings = spec.get("mappings") or []
            if any(m.get("conditions") for m in mappings) or not any(m.get("type") == "from_entity" for m in mappings):
                continue
            values = self._mapping_values(slot, turn, None, None)
            if values:
                turn.extracted[slot] = values[0]
                state.set_slot(slot, values[0])

    def _required_slots(self, form: str) -> list[str]:
        return [str(s) for s in self.domain.forms.get(form, {}).get("required_slots") or []]

    def _activate_form(self, state: ConversationState, turn: Turn, form: str) -> None:
        state.active_loop = form
        state.run_action(form)
        state.add(event("active_loop", name=form))
        candidates = {k: v for k, v in turn.extracted.items() if k in self._required_slots(form)}
        for slot in self._required_slots(form):
            if slot in candidates:
                continue
            values = self._mapping_values(slot, turn, form, None)
            mapping_types = {m.get("type") for m in self.domain.slots.get(slot, {}).get("mappings") or []}
            if values and "from_entity" in mapping_types:
                candidates[slot] = values[0]
        self._form_step(state, turn, form, candidates)

    def _form_turn(self, state: ConversationState, turn: Turn) -> None:
        form = state.active_loop
        assert form is not None
        parse = turn.parse
        requested = state.slots.get("requested_slot")
        if parse.intent.name == "stop":
            self._deactivate(state)
            self.utter(state, turn, "utter_form_stopped")
            return
        candidates = self._form_candidates(turn, form, requested, relaxed=False)
        if not candidates and isinstance(requested, str) and self._has_entity_for(requested, parse):
            candidates = self._form_candidates(turn, form, requested, relaxed=True)  # "cashmere sweater"
        if not candidates and self._is_digression(parse, form):
            outcome = None
            if parse.intent.name in (FAQ_INTENT, FALLBACK_INTENT, "out_of_scope"):
                outcome = self._ask_knowledge(turn, record=False)
                if outcome is None or outcome.decision != "answer":
                    # not a confident knowledge question: most likely an answer to our question
                    candidates = self._form_candidates(turn, form, requested, relaxed=True)
            if not candidates:
                self._digress(state, turn, form, requested, outcome)
                return
        for slot, spec in self.domain.slots.items():  # other slots that listen to every message
            if slot in candidates or any(m.get("conditions") for m in spec.get("mappings") or []):
                continue
            values = self._mapping_values(slot, turn, None, None)
            if values and any(m.get("type") == "from_entity" for m in spec.get("mappings") or []):
                state.set_slot(slot, values[0])
        self._form_step(state, turn, form, candidates)

    def _form_candidates(self, turn: Turn, form: str, requested: Any, *, relaxed: bool) -> dict[str, Any]:
        """Slot values for the form's required slots from this message. `relaxed` reads the message as
        an answer to the requested slot whatever its intent (for replies the classifier took for a
        question, such as "cashmere sweater" or "31st of February")."""
        candidates: dict[str, Any] = {}
        for slot in self._required_slots(form):
            as_inform = relaxed and slot == requested
            values = self._mapping_values(slot, turn, form, requested, as_inform=as_inform)
            if values:
                candidates[slot] = values[0]
        return candidates

    def _has_entity_for(self, slot: str, parse: Parse) -> bool:
        """Does the message carry an entity that one of the slot's from_entity mappings reads?"""
        wanted = {
            m.get("entity")
            for m in self.domain.slots.get(slot, {}).get("mappings") or []
            if m.get("type") == "from_entity"
        }
        return any(e.entity in wanted for e in parse.entities)

    def _is_digression(self, parse: Parse, form: str) -> bool:
        intent = parse.intent.name
        if intent in FORM_FILLING_INTENTS:
            return False
        if intent == FALLBACK_INTENT:
            return self.knowledge is not None
        return True

    def _digress(
        self, state: ConversationState, turn: Turn, form: str, requested: Any, outcome: KnowledgeOutcome | None = None
    ) -> None:
        intent = turn.parse.intent.name
        rule = self.domain.action_for_intent(intent, None)
        if rule is not None and rule.activates_form and rule.activates_form != form:
            self._deactivate(state)  # the customer switched task: say so (when the bot has words for it), start it
            if self.renderer.has("utter_switch_task"):
                self.utter(state, turn, "utter_switch_task")
            self._run_rule(state, turn, rule)
            return
        if rule is not None and rule.activates_form == form:
            pass  # asking for the same thing again: just repeat the question
        elif intent in (FALLBACK_INTENT, FAQ_INTENT, "out_of_scope"):
            outcome = outcome or self._ask_knowledge(turn, record=intent != FALLBACK_INTENT)
            if outcome is not None and (outcome.decision != "unknown" or intent == FAQ_INTENT):
                self._emit_knowledge(state, turn, outcome)
            else:
                self.utter(state, turn, "utter_ask_rephrase")
        elif rule is not None:
            self._run_rule(state, turn, rule)
        elif not self.utter(state, turn, f"utter_{intent}"):
            self.utter(state, turn, "utter_ask_rephrase")
        if state.active_loop == form:
            self.utter(state, turn, "utter_form_reminder")
            if isinstance(requested, str):
                self._ask(state, turn, form, requested)

    def _deactivate(self, state: ConversationState) -> None:
        state.active_loop = None
        state.add(event("active_loop", name=None))
        if state.slots.get("requested_slot") is not None:
            state.set_slot("requested_slot", None)

    def _form_step(self, state: ConversationState, turn: Turn, form: str, candidates: dict[str, Any]) -> None:
        for slot, value in candidates.items():
            state.set_slot(slot, value)
        requested: Any = ...
        validator = f"validate_{form}"
        if self.runner is not None and candidates and validator in self._runner_actions():
            try:
                result = self.runner.run(
                    validator, state.sender_id, state.as_tracker(input_channel=turn.input_channel), self._domain_dict
                )
            except ActionError:
                log.exception("validation %s failed", validator)
                self.utter(state, turn, "utter_internal_error")
                result = ActionResult(events=[{"event": "slot", "name": s, "value": None} for s in candidates])
            for item in result.events:
                if item.get("event") == "slot" and item.get("name") == "requested_slot":
                    requested = item.get("value")
            self._apply_result(state, turn, result)
        if state.active_loop != form:
            return  # validation ended the form
        if requested is ...:
            requested = next((s for s in self._required_slots(form) if state.slots.get(s) is None), None)
        if requested is None:
            self._deactivate(state)
            for action in self.domain.submit_actions(form):
                self.run_action(state, turn, action)
            return
        if state.slots.get("requested_slot") != requested:
            state.set_slot("requested_slot", requested)
        self._ask(state, turn, form, str(requested))

    def _ask(self, state: ConversationState, turn: Turn, form: str, slot: str) -> None:
        actions = self._runner_actions()
        for name in (f"action_ask_{form}_{slot}", f"action_ask_{slot}"):
            if name in actions:
                self.run_action(state, turn, name)
                return
        for name in (f"utter_ask_{form}_{slot}", f"utter_ask_{slot}"):
            if self.renderer.has(name):
                self.utter(state, turn, name)
                return
        log.warning("form %s has no question for slot %s", form, slot)
        self.utter(state, turn, "utter_ask_rephrase")

    def _runner_actions(self) -> set[str]:
        if self.runner is None:
            return set()
        try:
            return self.runner.actions()
        except ActionError:
            log.exception("cannot list actions")
            return set()


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def _reply_data(reply: Reply) -> dict[str, Any]:
    data = reply.as_dict()
    data.pop("text", None)
    return data

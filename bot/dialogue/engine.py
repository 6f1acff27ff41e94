"""The dialogue policy: decides what the bot does with one parsed message.

Order of precedence, Rasa-style: a paused conversation stays quiet; an active form continues unless
the customer digresses ("stop" leaves it); rules map intents to actions, responses and forms; the
knowledge base answers `faq` questions and messages the classifier abstains on; otherwise the
two-stage fallback clarifies, asks to rephrase, then offers a human.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from bot.dialogue.action_runner import ActionRejected, ActionResult, ActionRunner
from bot.dialogue.explain import WHY_SUFFIX, previous_turn, reason_sentence
from bot.dialogue.requests import PendingRequest
from bot.dialogue.state import ConversationState, event
from bot.domain import Domain, Rule
from bot.errors import ActionError, TemplateError
from bot.responses import ResponseRenderer
from bot.types import FALLBACK_INTENT, Button, Entity, IntentScore, KnowledgeQuery, Parse, Reply

log = logging.getLogger(__name__)

FAQ_INTENT = "faq"
FORM_FILLING_INTENTS = frozenset({"inform", "affirm", "deny"})
WHY_INTENT = "ask_why"
NOT_REQUESTS = frozenset(
    {"affirm", "deny", "greet", "thanks", "goodbye", "stop", "ask_why", "out_of_scope", FALLBACK_INTENT}
)
"""Intents that are never a request of their own inside a longer message."""
LANGUAGE_NOTICE = "utter_language_notice"
QUIET_RESPONSES = frozenset(
    {"utter_default", "utter_default_again", "utter_ask_rephrase", "utter_out_of_scope", "utter_ask_affirmation"}
)
"""Fallback responses left out after a language notice (it already said what the bot can do)."""
_FOLLOW_UP_INTENTS = frozenset({"inform", "faq", "nlu_fallback", "out_of_scope"})
CORRECTION_INTENTS = frozenset({"inform", "affirm", "deny", FALLBACK_INTENT, "faq", "out_of_scope"})
"""In a form, the entities of a message with one of these intents are read as answers (corrections)."""
TASK_HINT = 0.2
"""A task intent ranked at least this high is a candidate for a message that only gives facts."""
_STANDARD_MESSAGE_KEYS = {"text", "buttons", "elements", "custom", "template", "response", "image", "attachment"}


class KnowledgeOutcome(Protocol):
    @property
    def decision(self) -> str: ...  # "answer" | "suggest" | "unknown"

    @property
    def replies(self) -> Sequence[Reply]: ...


KnowledgeAnswerer = Callable[[KnowledgeQuery], KnowledgeOutcome | None]
"""query -> outcome; None when no knowledge base is loaded."""

_FOLLOW_UP = re.compile(
    r"^\W*(and|what about|how about|same (for|with)|also|what if|and for|and to|and in|and what about)\b", re.I
)
_WORDS = re.compile(r"[^\W\d_]{2,}")
MIN_REQUEST_WORDS = 3
"""A later part of a message needs this many words besides its entities to be a request of its own."""
_BACK_REFERENCE = re.compile(r"\b(there|it|that|them|this one|that one|same)\b", re.I)
FOLLOW_UP_WORDS = 6
"""A message of at most this many words that starts like "and to France?" continues the previous question."""


@dataclass
class Turn:
    parse: Parse
    embedding: np.ndarray | None = None
    input_channel: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    replies: list[Reply] = field(default_factory=list)
    extracted: dict[str, Any] = field(default_factory=dict)  # slots set from this message
    quiet_fallback: bool = False  # the language notice already answered: no "I didn't understand" on top


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
        languages: Sequence[str] = ("en",),
    ) -> None:
        self.domain = domain
        self.renderer = renderer
        self.runner = runner
        self.knowledge = knowledge
        self.languages = frozenset(languages)
        self.intents = list(intents)
        self.entities = list(entities)
        self._domain_dict = domain.as_rasa_dict(self.intents, self.entities)

    # -- public ----------------------------------------------------------------------------------
    def handle(self, state: ConversationState, turn: Turn, parts: Sequence[Turn] = ()) -> list[Reply]:
        """One customer message. `parts` are the message's pieces when it may hold several requests
        (`bot.dialogue.requests.split_requests`, parsed in the same encoder batch): the requests
        among them are handled in order, the later ones after the task the first one starts."""
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
        self._language_notice(state, turn)
        requests = self._requests(state, turn, parts)
        if len(requests) < 2:
            self._step(state, turn)
        else:
            for later in requests[1:]:
                later.replies = turn.replies
            first = replace_turn(turn, requests[0])
            self._step(state, first)
            waiting = [PendingRequest(r.parse.text, r.parse, r.embedding).to_json() for r in requests[1:]]
            state.pending_requests.extend(waiting)
        self._resume_requests(state, turn, queued_now=len(requests) >= 2)
        state.add(event("action", name="action_listen", policy=None, confidence=None))
        return turn.replies

    def _step(self, state: ConversationState, turn: Turn) -> None:
        if turn.parse.text != state.latest_message.get("text"):  # a part of the message: actions read it
            state.latest_message = {**state.latest_message, **turn.parse.as_dict()}
        if state.active_loop:
            self._form_turn(state, turn)
        else:
            self._extract_global_slots(state, turn)
            self._free_turn(state, turn)

    def _requests(self, state: ConversationState, turn: Turn, parts: Sequence[Turn]) -> list[Turn]:
        """The parts that are requests of their own (a task, a question, a reply of the domain), when
        there are at least two of them; facts ("my email is …") and small talk stay with the message."""
        if len(parts) < 2 or state.active_loop:
            return []
        found: list[Turn] = []
        facts: list[Entity] = []  # entities of parts that only give facts ("… ref FT DEMO1")
        for part in parts:
            if self._is_request(part.parse, first=not found):
                found.append(part)
            elif found:
                found[-1] = replace(found[-1], parse=_plus_entities(found[-1].parse, part.parse.entities))
            else:
                facts.extend(part.parse.entities)
        if len(found) < 2:
            return []
        if facts:
            found[0] = replace(found[0], parse=_plus_entities(found[0].parse, facts))
        for index, part in enumerate(found[1:], 1):  # "… and what's the exact address?": of the Paris shop
            found[index] = _with_context(part, found[:index])
        intents = {(p.parse.intent.name, tuple(sorted(map(str, p.parse.entity_values("order_number"))))) for p in found}
        if len(intents) == 1 and found[0].parse.intent.name != FAQ_INTENT:
            return []
        if all(p.parse.intent.name == FAQ_INTENT for p in found) and not self._distinct_answers(turn, found):
            return []
        return found

    def _is_request(self, parse: Parse, *, first: bool) -> bool:
        intent = parse.intent.name
        if parse.abstained or intent in NOT_REQUESTS:
            return False
        if not first and len(_WORDS.findall(_masked(parse))) < MIN_REQUEST_WORDS:
            return False  # "ref FT DEMO1", "email anna@example.com": facts for the request before
        if intent in FORM_FILLING_INTENTS:  # facts that start a task ("where is AN-10001?"), only up front:
            if not first:  # later facts ("… AN-10017 anna@example.com") belong to the request before them
                return False
            facts = self.domain.action_for_intent(intent, None, [e.entity for e in parse.entities])
            return facts is not None and bool(facts.entities)
        return True

    def _distinct_answers(self, turn: Turn, parts: Sequence[Turn]) -> bool:
        """Several questions for the knowledge base are split only when each part has a confident
        answer of its own (one entry often answers "how much is shipping and how long does it take")."""
        whole = self._ask_knowledge(turn, record=False)
        answers = [self._ask_knowledge(p, record=False) for p in parts]
        tops = [_top_entry(a) for a in answers if a is not None and a.decision == "answer"]
        if len(tops) < len(parts) or len(set(tops)) < len(tops):
            return False
        return whole is None or whole.decision != "answer" or _top_entry(whole) in tops

    def _resume_requests(self, state: ConversationState, turn: Turn, *, queued_now: bool) -> None:
        """Handle the waiting requests once no task is running ("Now, your other question: …"); when
        this message queued requests behind a task, say they come next."""
        while state.pending_requests and not state.active_loop and not state.paused:
            pending = PendingRequest.from_json(state.pending_requests.pop(0))
            self.utter(state, turn, "utter_request_resumed", {"request": pending.text})
            later = Turn(pending.parse, pending.embedding, turn.input_channel, turn.metadata, replies=turn.replies)
            self._step(state, later)
        if queued_now and state.pending_requests and state.active_loop:
            waiting = [PendingRequest.from_json(p).text for p in state.pending_requests]
            self.utter(state, turn, "utter_request_queued", {"request": '", "'.join(waiting)})

    def _language_notice(self, state: ConversationState, turn: Turn) -> None:
        """A message in a language the bot does not answer in: once per conversation, say in that
        language which languages it speaks and how to reach a person who speaks theirs, then carry on
        (order numbers, emails and dates work in any language) without adding "I didn't understand"."""
        language = turn.parse.language
        if not language or language in self.languages:
            return
        said = {(e.get("metadata") or {}).get("response") for e in state.events if e.get("event") == "bot"}
        if any(str(name).startswith(LANGUAGE_NOTICE) for name in said if name):
            return  # said once; later messages get the bot's usual replies
        turn.quiet_fallback = True
        if not self.utter(state, turn, f"{LANGUAGE_NOTICE}_{language}"):
            self.utter(state, turn, LANGUAGE_NOTICE)

    def utter(self, state: ConversationState, turn: Turn, name: str, values: Mapping[str, Any] | None = None) -> bool:
        if turn.quiet_fallback and name in QUIET_RESPONSES:
            return True
        try:
            reply = self.renderer.render(name, state.slots, values, channel=turn.input_channel)
        except TemplateError:
            log.exception("response %s failed to render", name)
            reply = None
        if reply is None:
            log.warning("response %s is not defined", name)
            return False
        state.run_action(name)
        self.emit(state, turn, reply, values)
        return True

    def emit(self, state: ConversationState, turn: Turn, reply: Reply, values: Mapping[str, Any] | None = None) -> None:
        """Send a reply. The bot event remembers which response it was and, when the response has a
        `_why` companion, the values it was rendered with (so "why?" can be answered)."""
        reply = replace(reply, id=reply.id or uuid.uuid4().hex[:16])
        turn.replies.append(reply)
        metadata: dict[str, Any] = {"kind": reply.kind}
        if reply.response:
            metadata["response"] = reply.response
            if values and self.renderer.has(reply.response + WHY_SUFFIX):
                metadata["values"] = {k: v for k, v in values.items() if isinstance(v, str | int | float | bool)}
        state.add(event("bot", text=reply.text, data=_reply_data(reply), metadata=metadata))

    def explain(self, state: ConversationState, turn: Turn) -> bool:
        """Answer "why?" about the bot's previous turn: the `_why` companion of what it said, else the
        explaining sentence of a knowledge answer, else `utter_why_default`."""
        said = previous_turn(state.events)
        for item in reversed(said):
            if item.response and self.renderer.has(item.response + WHY_SUFFIX):
                return self.utter(state, turn, item.response + WHY_SUFFIX, item.values)
        for item in reversed(said):
            reason = reason_sentence(item.text) if item.kind == "knowledge" else None
            if reason and self.utter(state, turn, "utter_why_knowledge", {"reason": reason}):
                return True
        return self.utter(state, turn, "utter_why_default")

    # -- free turns ------------------------------------------------------------------------------
    def _free_turn(self, state: ConversationState, turn: Turn) -> None:
        parse = turn.parse
        intent = parse.intent.name
        if intent in _FOLLOW_UP_INTENTS and self._previous_answer(state) and self._is_follow_up(turn):
            outcome = self._knowledge(state, turn, record=False)  # "and to France?" after delivery to Germany
            if outcome is not None and outcome.decision == "answer":
                state.fallback_count = 0
                self._emit_knowledge(state, turn, outcome)
                return
        facts = self._facts_rule(turn)
        if facts is not None:  # "Wo ist meine Bestellung AN-10001, anna@…": the facts say what to do
            state.fallback_count = 0
            self._run_rule(state, turn, facts)
            return
        if intent == FALLBACK_INTENT:
            outcome = self._knowledge(state, turn, record=True)
            if outcome is not None and outcome.decision in ("answer", "suggest"):
                state.fallback_count = 0
                self._emit_knowledge(state, turn, outcome)
                return
            self._two_stage_fallback(state, turn)
            return
        state.fallback_count = 0
        if intent == FAQ_INTENT:
            outcome = self._knowledge(state, turn, record=True)
            if outcome is not None:
                self._emit_knowledge(state, turn, outcome)
            else:
                self.utter(state, turn, "utter_default")
            return
        if intent == WHY_INTENT and self.explain(state, turn):
            return
        rule = self._rule_for(state, turn)
        if rule is not None:
            self._run_rule(state, turn, rule)
            return
        if intent == "out_of_scope":
            outcome = self._knowledge(state, turn, record=True)
            if outcome is not None and outcome.decision == "answer":
                self._emit_knowledge(state, turn, outcome)
                return
        if not self.utter(state, turn, f"utter_{intent}"):
            self.utter(state, turn, "utter_default")

    def _rule_for(self, state: ConversationState, turn: Turn) -> Rule | None:
        """The rule for this message. Facts given outside a task ("AN-10007 david@example.com",
        "and AN-10006 too", "what about AN-10001?") continue the conversation's last task when they
        fill one of its questions, else the task the classifier ranks next, else the domain's rule
        for `inform` with those entities."""
        parse = turn.parse
        names = [e.entity for e in parse.entities]
        rule = self.domain.action_for_intent(parse.intent.name, state.latest_action_name, names)
        if parse.intent.name not in FORM_FILLING_INTENTS or not names:
            return rule
        if rule is not None and (rule.after_action is not None or not rule.entities):
            return rule  # a follow-up rule ("and in London?" after the hours) or an explicit one
        for form in self._task_candidates(state, parse):
            task = self.domain.rule_activating(form)
            if task is not None and any(self._has_entity_for(slot, parse) for slot in self._required_slots(form)):
                return task
        return rule

    def _facts_rule(self, turn: Turn) -> Rule | None:
        """A message the classifier took for a question or could not place, carrying facts with a rule
        of their own ("what happened to my order AN-10008"): that rule."""
        parse = turn.parse
        own = [e.entity for e in parse.entities if e.extractor != INHERITED]  # not facts of an earlier part
        if parse.intent.name not in _FOLLOW_UP_INTENTS - FORM_FILLING_INTENTS or not own:
            return None
        facts = self.domain.action_for_intent("inform", None, own)
        return facts if facts is not None and facts.entities else None

    def _task_candidates(self, state: ConversationState, parse: Parse) -> list[str]:
        """Forms a message of facts may be for: the conversation's last task, then tasks the classifier
        ranks at TASK_HINT or more."""
        found: list[str] = []
        last: str | None = None
        for item in reversed(state.events):  # the last task, unless the customer stopped it
            if item.get("event") == "action" and item.get("name") == "utter_form_stopped":
                break
            if item.get("event") == "active_loop" and item.get("name"):
                last = str(item["name"])
                break
        if last is not None:
            found.append(last)
        for score in parse.intent_ranking:
            if score.confidence < TASK_HINT:
                continue
            rule = self.domain.action_for_intent(score.name)
            if rule is not None and rule.activates_form and rule.activates_form not in found:
                found.append(rule.activates_form)
        return found

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
        if not self.utter(state, turn, "utter_default_again"):
            self.utter(state, turn, "utter_default")

    def _ask_affirmation(self, state: ConversationState, turn: Turn) -> bool:
        if turn.quiet_fallback:
            return True
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

    def _ask_knowledge(
        self,
        turn: Turn,
        *,
        record: bool,
        follow_up: str | None = None,
        previous: str | None = None,
        context: Parse | None = None,
    ) -> KnowledgeOutcome | None:
        if self.knowledge is None:
            return None
        continues = follow_up is not None and (context is not None or self._is_follow_up(turn))
        query = KnowledgeQuery.from_parse(
            turn.parse, turn.embedding, follow_up=follow_up, previous=previous, record=record, continues=continues
        )
        if context is not None:
            query = replace(query, context=KnowledgeQuery.from_parse(context, None).entities)
        return self.knowledge(query)

    def _knowledge(self, state: ConversationState, turn: Turn, *, record: bool) -> KnowledgeOutcome | None:
        """The knowledge base's reply, in the conversation's context. A message that continues the
        previous answer ("and to France?") is asked with it; one the knowledge base is unsure about
        right after an answer ("how long will you hold it for me?") is asked again with that answer's
        entry and the shop, country or product named then, and the better of the two is kept."""
        previous = self._previous_answer(state)
        if previous is None:
            return self._ask_knowledge(turn, record=record)
        follow_up = previous if self._is_follow_up(turn) else None
        outcome = self._ask_knowledge(turn, record=False, follow_up=follow_up, previous=previous)
        if outcome is not None and outcome.decision != "answer":
            earlier = self._previous_parse(state)
            retry = self._ask_knowledge(turn, record=False, follow_up=previous, previous=previous, context=earlier)
            if retry is not None and retry.decision == "answer":
                return retry
            if record:  # nothing better: now it counts as unanswered for the staff's review list
                outcome = self._ask_knowledge(turn, record=True, previous=previous)
        return outcome

    @staticmethod
    def _is_follow_up(turn: Turn) -> bool:
        text = turn.parse.text.strip()
        return bool(_FOLLOW_UP.match(text)) and len(text.split()) <= FOLLOW_UP_WORDS

    @staticmethod
    def _previous_answer(state: ConversationState) -> str | None:
        """The entry the knowledge base answered the customer's previous message with, if it did."""
        users = [i for i, item in enumerate(state.events) if item.get("event") == "user"]
        if len(users) < 2:
            return None
        for item in reversed(state.events[users[-2] : users[-1]]):
            sources = (item.get("data") or {}).get("sources") or []
            if item.get("event") == "bot" and (item.get("metadata") or {}).get("kind") == "knowledge" and sources:
                return str(sources[0].get("id"))
        return None

    @staticmethod
    def _previous_parse(state: ConversationState) -> Parse:
        """The shop, country or product the customer's previous message named, as a parse."""
        users = [item for item in state.events if item.get("event") == "user"]
        earlier = (users[-2].get("parse_data") or {}).get("entities") or [] if len(users) >= 2 else []
        named = tuple(
            Entity(str(e["entity"]), e.get("value"), 0, 0, "context", str(e.get("value")))
            for e in earlier
            if isinstance(e, dict) and e.get("entity") in CONTEXT_ENTITIES
        )
        return Parse("", IntentScore("", 0.0), named)

    def _emit_knowledge(self, state: ConversationState, turn: Turn, outcome: KnowledgeOutcome) -> None:
        if turn.quiet_fallback and outcome.decision != "answer":
            return
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
                self.emit(state, turn, reply, _message_values(message))
        return followup

    def _render_action_message(self, state: ConversationState, turn: Turn, message: Mapping[str, Any]) -> Reply | None:
        buttons = tuple(
            Button(str(b.get("title", "")), str(b.get("payload", ""))) for b in message.get("buttons") or []
        )
        name = message.get("response") or message.get("template")
        custom = message.get("custom") or None
        if name:
            values = _message_values(message)
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
            elif entities_only:
                continue
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
        self._form_step(state, turn, form, candidates, activating=True)

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
        an answer (`inform`) whatever its intent: for replies the classifier took for a question, such
        as "cashmere sweater" or "31st of February", and for corrections of an earlier answer such as
        "actually make it London instead" (free text still only fills the slot being asked)."""
        candidates: dict[str, Any] = {}
        corrective = relaxed or turn.parse.intent.name in CORRECTION_INTENTS  # "no wait, wednesday"
        for slot in self._required_slots(form):
            values = self._mapping_values(slot, turn, form, requested, as_inform=corrective, entities_only=True)
            if values:
                candidates[slot] = values[0]
        if not candidates and isinstance(requested, str):  # the whole text answers the question asked
            values = self._mapping_values(requested, turn, form, requested, as_inform=relaxed)
            if values:
                candidates[requested] = values[0]
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
        rule = self.domain.action_for_intent(intent, None, [e.entity for e in turn.parse.entities])
        if intent == WHY_INTENT:
            self.explain(state, turn)
            if state.active_loop == form:
                self.utter(state, turn, "utter_form_reminder")
                if isinstance(requested, str):
                    self._ask(state, turn, form, requested)
            return
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

    def _form_step(
        self, state: ConversationState, turn: Turn, form: str, candidates: dict[str, Any], *, activating: bool = False
    ) -> None:
        """Set the candidates, validate (on every turn with candidates, and when the form starts, so a
        validator can use the conversation's context), then ask the next question or submit."""
        for slot, value in candidates.items():
            state.set_slot(slot, value)
        requested: Any = ...
        validator = f"validate_{form}"
        if self.runner is not None and (candidates or activating) and validator in self._runner_actions():
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


CONTEXT_ENTITIES = frozenset({"shop", "country", "item"})
INHERITED = "inherited"
"""The extractor name of an entity a part of a message took from the parts before it."""
"""What a later part of a message inherits from the parts before it when it names none itself."""


def _with_context(part: Turn, before: Sequence[Turn]) -> Turn:
    """A later part with the earlier parts' shop, country or product when it names none ("… and
    what's the exact address?"), and everything they named when it points back ("… fitting there?")."""
    have = {e.entity for e in part.parse.entities}
    points_back = _BACK_REFERENCE.search(part.parse.text) is not None
    inherited = [
        replace(e, extractor=INHERITED)
        for p in before
        for e in p.parse.entities
        if e.entity not in have and (points_back or e.entity in CONTEXT_ENTITIES)
    ]
    if not inherited:
        return part
    return replace(part, parse=replace(part.parse, entities=(*part.parse.entities, *inherited)))


def _plus_entities(parse: Parse, entities: Sequence[Entity]) -> Parse:
    have = {(e.entity, str(e.value)) for e in parse.entities}
    extra = tuple(e for e in entities if (e.entity, str(e.value)) not in have)
    return replace(parse, entities=(*parse.entities, *extra)) if extra else parse


def _masked(parse: Parse) -> str:
    """The text without its entities' spans (what is left besides the facts)."""
    chars = list(parse.text)
    for entity in parse.entities:
        if 0 <= entity.start < entity.end <= len(chars):
            chars[entity.start : entity.end] = " " * (entity.end - entity.start)
    return "".join(chars)


def _top_entry(outcome: KnowledgeOutcome | None) -> str | None:
    hits = getattr(outcome, "hits", None) or ()
    return str(hits[0].entry.id) if hits else None


def replace_turn(turn: Turn, part: Turn) -> Turn:
    """A part of the message as a turn that adds its replies to the message's turn."""
    return Turn(part.parse, part.embedding, turn.input_channel, turn.metadata, turn.replies, {}, turn.quiet_fallback)


def _message_values(message: Mapping[str, Any]) -> dict[str, Any]:
    """The placeholders an action passed with a response (everything but the standard keys)."""
    return {k: v for k, v in message.items() if k not in _STANDARD_MESSAGE_KEYS}


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

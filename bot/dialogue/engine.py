"""The dialogue engine: one parsed message in, the bot's replies out, the conversation state updated.

It ties the parts of the dialogue together: a paused conversation stays quiet; a message in a language
the bot does not answer in gets a notice once (`_language_notice`); a message holding several requests
is handled request by request (`bot.dialogue.requests`); an active form continues (`bot.dialogue.forms`)
unless the customer digresses; otherwise the policy decides (`bot.dialogue.policy`). Responses are said
through `bot.dialogue.speech`, knowledge questions asked through `bot.dialogue.knowledge_context`, and
custom actions run through the action runner, their events parsed by `bot.dialogue.events`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from bot.dialogue.action_runner import ActionRejected, ActionRunner
from bot.dialogue.events import apply_events, parse_events
from bot.dialogue.forms import FormLoop
from bot.dialogue.knowledge_context import KnowledgeContext
from bot.dialogue.memory import CustomerMemory, MemoryConfig, stored_metadata
from bot.dialogue.policy import Policy
from bot.dialogue.requests import FACTS, PendingRequest, RequestSplitter
from bot.dialogue.shopping import Shopping
from bot.dialogue.speech import Speech
from bot.dialogue.state import ConversationState, event
from bot.dialogue.tone import Tone
from bot.dialogue.turn import KnowledgeAnswerer, KnowledgeOutcome, Turn, replace_turn
from bot.domain import Domain
from bot.errors import ActionError
from bot.products.advisor import ProductAdvisor
from bot.products.cards import CardLinks
from bot.responses import ResponseRenderer
from bot.types import FALLBACK_INTENT, IntentScore, Reply

__all__ = ["DialogueEngine", "KnowledgeAnswerer", "KnowledgeOutcome", "Turn"]

log = logging.getLogger(__name__)

LANGUAGE_NOTICE = "utter_language_notice"
NOTE_EMAIL = "action_handoff_note_email"
"""The shop's action that keeps an email written while an offline handoff waits (bot/actions/handoff.py)."""
MAX_FOLLOWUPS = 5
"""Follow-up actions an action may chain (`FollowupAction`) before the engine stops following."""


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
        products: ProductAdvisor | None = None,
        links: CardLinks | None = None,
        customers: MemoryConfig | None = None,
        foreign_min_confidence: float = 0.7,
    ) -> None:
        self.domain = domain
        self.foreign_min_confidence = foreign_min_confidence
        self.renderer = renderer
        self.runner = runner
        self.languages = frozenset(languages)
        self.intents = list(intents)
        self.entities = list(entities)
        self.domain_dict = domain.as_rasa_dict(self.intents, self.entities)
        self.speech = Speech(renderer)
        self.knowledge_context = KnowledgeContext(knowledge)
        self.requests = RequestSplitter(domain, self.knowledge_context)
        self.forms = FormLoop(self)
        self.memory = CustomerMemory(self, customers)
        self.shopping = Shopping(self, products, links, preferences=self.memory.preferences)
        self.policy = Policy(self)
        self.tone = Tone(self)

    @property
    def knowledge(self) -> KnowledgeAnswerer | None:
        """The knowledge base's answerer (None when there is none)."""
        return self.knowledge_context.answerer

    @knowledge.setter
    def knowledge(self, answerer: KnowledgeAnswerer | None) -> None:
        self.knowledge_context.answerer = answerer

    # -- public ----------------------------------------------------------------------------------
    def handle(self, state: ConversationState, turn: Turn, parts: Sequence[Turn] = ()) -> list[Reply]:
        """One customer message. `parts` are the message's pieces when it may hold several requests
        (`bot.dialogue.requests.split_requests`, parsed in the same encoder batch): the requests
        among them are handled in order, the later ones after the task the first one starts."""
        parse_data = turn.parse.as_dict()
        if turn.sentiment is not None:
            parse_data["sentiment"] = turn.sentiment.to_json()
        metadata = stored_metadata(turn.metadata)  # a customer token proves who is writing; it is never kept
        state.latest_message = {**parse_data, "message_id": uuid.uuid4().hex, "metadata": metadata}
        state.add(
            event(
                "user",
                text=turn.parse.text,
                parse_data=parse_data,
                input_channel=turn.input_channel,
                message_id=state.latest_message["message_id"],
                metadata=dict(metadata),
            )
        )
        if state.paused:
            if not state.slots.get("handoff_agent"):  # while an agent holds the conversation, the bot is quiet
                self._while_paused(state, turn)
            return turn.replies
        self.memory.begin(state, turn)
        loop_before = state.active_loop
        tone = self.tone.begin(state, turn)
        if not self.memory.answer_pending(state, turn):
            self._language_notice(state, turn)
            self._unsure_in_another_language(state, turn)
            requests = self.requests.requests(state.active_loop, turn, parts)
            if len(requests) < 2:
                self._step(state, turn)
            else:
                for later in requests[1:]:
                    later.replies = turn.replies
                self._step(state, replace_turn(turn, requests[0]))
                waiting = [PendingRequest(r.parse.text, r.parse, r.embedding).to_json() for r in requests[1:]]
                state.pending_requests.extend(waiting)
            self._resume_requests(state, turn, queued_now=len(requests) >= 2)
        self.tone.finish(state, turn, tone, loop_before=loop_before)
        self.memory.finish(state, turn)
        state.add(event("action", name="action_listen", policy=None, confidence=None))
        return turn.replies

    def utter(self, state: ConversationState, turn: Turn, name: str, values: Mapping[str, Any] | None = None) -> bool:
        """Say the response `name` (False when the domain has no such response)."""
        return self.speech.utter(state, turn, name, values)

    def run_action(self, state: ConversationState, turn: Turn, name: str, depth: int = 0) -> bool:
        """Run a response, a form, or a custom action. Returns False if it failed or was rejected.

        A custom action that fails (it raised, or the action server timed out, failed or is cut off by its
        circuit breaker) is apologised for and the conversation carries on: with the action's own
        `utter_<action>_unavailable` when the domain has one (`utter_human_handoff_unavailable` tells the
        customer how to reach a person), else with `utter_internal_error`."""
        if name.startswith("utter_"):
            return self.utter(state, turn, name)
        if name in self.domain.forms:
            self.forms.activate(state, turn, name)
            return True
        if self.runner is None:
            log.warning("no action runner configured for %s", name)
            return self.utter(state, turn, f"utter_{name.removeprefix('action_')}")
        try:
            result = self.runner.run(
                name, state.sender_id, state.as_tracker(input_channel=turn.input_channel), self.domain_dict
            )
        except ActionRejected:
            log.info("action %s rejected the call", name)
            return False
        except ActionError as e:
            log.warning("action %s failed: %s", name, e)
            apology = f"utter_{name.removeprefix('action_')}_unavailable"
            if not (self.renderer.has(apology) and self.utter(state, turn, apology)):
                self.utter(state, turn, "utter_internal_error")
            return False
        state.run_action(name)
        followup = apply_events(state, parse_events(result.events))
        self.speech.action_messages(state, turn, result.responses)
        if followup and depth < MAX_FOLLOWUPS:
            return self.run_action(state, turn, followup, depth + 1)
        return True

    def _while_paused(self, state: ConversationState, turn: Turn) -> None:
        """A message while the team has not taken the handed-over conversation: out of hours, an email in it
        is kept on the ticket for the reply (the shop's `action_handoff_note_email`); else the waiting notice."""
        wrote_email = any(e.entity == "email" for e in turn.parse.entities)
        offline = bool(state.slots.get("handoff_offline")) and NOTE_EMAIL in self.runner_actions()
        said = len(turn.replies)
        if wrote_email and offline and self.run_action(state, turn, NOTE_EMAIL) and len(turn.replies) > said:
            return
        self.utter(state, turn, "utter_conversation_paused")

    def runner_actions(self) -> set[str]:
        """The custom actions the runner offers (empty when there is none or it cannot say)."""
        if self.runner is None:
            return set()
        try:
            return self.runner.actions()
        except ActionError:
            log.exception("cannot list actions")
            return set()

    # -- one message -----------------------------------------------------------------------------
    def _step(self, state: ConversationState, turn: Turn) -> None:
        if turn.parse.text != state.latest_message.get("text"):  # a part of the message: actions read it
            state.latest_message = {**state.latest_message, **turn.parse.as_dict()}
        if state.active_loop:
            self.forms.turn(state, turn)
        else:
            self.forms.extract_global_slots(state, turn)
            self.policy.free_turn(state, turn)

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

    def _unsure_in_another_language(self, state: ConversationState, turn: Turn) -> None:
        """The classifier learnt English: a message in another language that it places only weakly (below
        `foreign_min_confidence`), with no fact of a task in it (order number, email, reference) and no task
        under way, is not acted on — a guessed flow ("What's your order number?" to "je voudrais parler à
        quelqu'un", a fitting booking for "vous avez des pulls en cachemire ?") is worse than the language
        notice alone, which already says how to reach a person who speaks the customer's language."""
        parse = turn.parse
        if (
            not parse.language
            or parse.language in self.languages
            or parse.abstained
            or any(e.entity in FACTS for e in parse.entities)
            or state.active_loop
            or parse.intent.confidence >= self.foreign_min_confidence
        ):
            return
        unsure = IntentScore(FALLBACK_INTENT, parse.intent.confidence)
        turn.parse = replace(
            parse,
            intent=unsure,
            intent_ranking=(unsure, *parse.intent_ranking),
            abstained=True,
            fallback_reason="language",
        )

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

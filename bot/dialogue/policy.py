"""The policy: what the bot does with a message when no form is active, and with a digression in one.

Order of precedence, Rasa-style: the customer-memory intents (`bot.dialogue.memory`); a follow-up of the
previous knowledge answer; facts with a rule of their own; the two-stage fallback for abstentions (after
the knowledge base had its say); `faq` for the knowledge base; "why?"; the rule for the intent (facts
outside a task continue the last task); the knowledge base for `out_of_scope`; the intent's response;
`utter_default`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bot import intent_names
from bot.dialogue.knowledge_context import INHERITED, is_follow_up, previous_answer
from bot.dialogue.memory import MEMORY_INTENTS
from bot.dialogue.requests import FACTS
from bot.dialogue.shopping import REFINE_ENTITIES
from bot.dialogue.state import ConversationState
from bot.dialogue.turn import KnowledgeOutcome, Turn
from bot.domain import Rule
from bot.types import Button, Parse

if TYPE_CHECKING:
    from bot.dialogue.engine import DialogueEngine

FOLLOW_UP_INTENTS = frozenset({intent_names.INFORM, intent_names.FAQ, intent_names.FALLBACK, intent_names.OUT_OF_SCOPE})
"""Intents a follow-up of a knowledge answer ("and to France?") or a message of facts may come with."""
PRODUCT_FACTS = REFINE_ENTITIES | {"item"}
"""Entities that make a message about products (a message naming only an order is about the order)."""
ORDER_NUMBER = "order_number"
TASK_HINT = 0.2
"""A task intent ranked at least this high is a candidate for a message that only gives facts."""
_POINTS_BACK = re.compile(r"\b(it|that|this|they|them|those|these|that one|this one)\b", re.I)
"""Words that point back at what the bot just said ("so it comes today?")."""
_HYPOTHETICAL = re.compile(
    r"^\s*(?:can|could|do|does|is|are|will|would|may)\b.*\b(?:if|once|after|even if|even though|in case)\b.*\?\s*$",
    re.I | re.S,
)
"""A yes/no question with a condition: a question about a rule, not a request to act."""
YES_NO = frozenset({intent_names.AFFIRM, intent_names.DENY, intent_names.STOP})
"""Intents a message naming a task may be mistaken for ("actually yes, cancel it after all")."""
TASK_WORDS = 4
"""A yes or no with this many words or more may name a task ("actually yes, cancel it after all")."""
QUESTION = re.compile(
    r"\s*(what|which|how|why|when|where|who|can|could|do|does|did|is|are|will|would|should|shall|may)\b", re.I
)
"""A message worded as a question (its first word): a knowledge article that nearly answers it beats a search."""
_NEGATION = re.compile(r"\b(no|not|never|don't|dont|do not|keep)\b|n't\b", re.I)
PROTEST_WORDS = 14
"""A message the bot cannot place, this short, right after a refusal is taken as "why?"."""


def is_protest(turn: Turn) -> bool:
    """A short message the classifier could not place ("how come, it's only one day late!", "but the seam
    is coming apart"): right after a refusal it asks for the reason."""
    return len(turn.parse.text.split()) <= PROTEST_WORDS and not turn.parse.text.startswith("/")


class Policy:
    def __init__(self, engine: DialogueEngine) -> None:
        self.engine = engine
        self.domain = engine.domain

    def free_turn(self, state: ConversationState, turn: Turn) -> None:
        engine = self.engine
        turn = self.yes_to_a_task(turn)
        intent = turn.parse.intent.name
        if intent in MEMORY_INTENTS and engine.memory.answer(state, turn):
            state.fallback_count = 0
            return
        if intent == intent_names.STOP and engine.memory.forget_that(state, turn):
            return  # "forget that" right after the bot remembered something
        if intent in FOLLOW_UP_INTENTS and previous_answer(state) and is_follow_up(turn):
            outcome = engine.knowledge_context.in_context(state, turn, record=False)  # "and to France?" after Germany
            if outcome is not None and outcome.decision == "answer":
                state.fallback_count = 0
                engine.speech.knowledge(state, turn, outcome)
                return
        facts = self.facts_rule(turn)
        if facts is not None:  # "Wo ist meine Bestellung AN-10001, anna@…": the facts say what to do
            state.fallback_count = 0
            self.run_rule(state, turn, facts)
            return
        if intent in FOLLOW_UP_INTENTS and self.task_follow_up(state, turn):
            return
        names_order = any(e.entity == ORDER_NUMBER and e.extractor != INHERITED for e in turn.parse.entities)
        if intent in FOLLOW_UP_INTENTS and not names_order and self.shopping_turn(state, turn):
            return  # "and the silk blouse one, AN-10010?" is about an order, not a product search
        if intent == intent_names.FALLBACK:
            outcome = engine.knowledge_context.in_context(state, turn, record=True)
            if outcome is not None and outcome.decision == "answer":
                state.fallback_count = 0
                engine.speech.knowledge(state, turn, outcome)
                return
            if is_protest(turn) and engine.speech.explain(state, turn, default=False):
                state.fallback_count = 0  # "how come, it's only one day late!" after a refusal
                return
            if outcome is not None and outcome.decision == "suggest":
                state.fallback_count = 0
                engine.speech.knowledge(state, turn, outcome)
                return
            self.two_stage_fallback(state, turn)
            return
        state.fallback_count = 0
        if intent == intent_names.FAQ:
            outcome = engine.knowledge_context.in_context(state, turn, record=True)
            if outcome is not None:
                engine.speech.knowledge(state, turn, outcome)
            else:
                engine.speech.utter(state, turn, "utter_default")
            return
        if intent == intent_names.ASK_WHY and engine.speech.explain(state, turn):
            return
        if intent in intent_names.PRODUCTS and engine.shopping.names_nothing(state, turn):
            outcome = engine.knowledge_context.in_context(state, turn, record=False)
            if outcome is not None and outcome.decision in ("answer", "suggest"):  # "I'm between an M and an L"
                engine.speech.knowledge(state, turn, outcome)
                return
        if intent in intent_names.PRODUCTS and engine.shopping.answer(state, turn):
            return
        self._answer_intent(state, turn)

    def yes_to_a_task(self, turn: Turn) -> Turn:
        """A "yes"/"no" outside any question that names a task ("hmm actually yes, cancel it after all",
        after the customer kept the order): the task the classifier ranks next, when it ranks it at
        TASK_HINT or more and the message holds no negation. Other messages are returned as they are."""
        parse = turn.parse
        if parse.intent.name not in YES_NO or len(parse.text.split()) < TASK_WORDS or _NEGATION.search(parse.text):
            return turn
        for score in parse.intent_ranking:
            rule = self.domain.action_for_intent(score.name)
            if score.confidence >= TASK_HINT and rule is not None and rule.activates_form:
                return replace(turn, parse=replace(parse, intent=score))
        return turn

    def task_follow_up(self, state: ConversationState, turn: Turn) -> bool:
        """A message the classifier could not place as a task, pointing back at what the last action just
        answered ("great, so it comes today?", "is that the leather boots?" after an order's status): the
        domain's follow-up rule for that action (a rule whose first step is the action, for `nlu_fallback`),
        unless the knowledge base answers the message with confidence."""
        rule = self.domain.action_for_intent(intent_names.FALLBACK, state.latest_action_name)
        if rule is None or rule.after_action is None or not _POINTS_BACK.search(turn.parse.text):
            return False
        outcome = self.engine.knowledge_context.in_context(state, turn, record=False)
        if outcome is not None and outcome.decision == "answer":
            return False
        state.fallback_count = 0
        self.run_rule(state, turn, rule)
        return True

    def shopping_turn(self, state: ConversationState, turn: Turn) -> bool:
        """A message the classifier did not take for shopping, that is: a refinement right after a product
        answer, or one naming a kind or material the knowledge base cannot answer confidently."""
        engine = self.engine
        routed = engine.shopping.route(state, turn)
        if routed is None:
            return False
        searching = routed == intent_names.PRODUCT_SEARCH or turn.parse.intent.name == intent_names.FAQ
        if searching and not engine.shopping.only_product_facts(turn):
            outcome = engine.knowledge_context.in_context(state, turn, record=False)
            # a question the knowledge base answers, or nearly answers ("what size should I take in coats"),
            # is not a search; a bare phrase ("raw selvedge denim") is one, whatever the articles suggest
            asked = routed == intent_names.PRODUCT_SEARCH and QUESTION.match(turn.parse.text) is not None
            if outcome is not None and (outcome.decision == "answer" or (asked and outcome.decision == "suggest")):
                state.fallback_count = 0
                engine.speech.knowledge(state, turn, outcome)
                return True
        state.fallback_count = 0
        return engine.shopping.answer(state, turn, routed)

    def _answer_intent(self, state: ConversationState, turn: Turn) -> None:
        engine = self.engine
        intent = turn.parse.intent.name
        rule = self.rule_for(state, turn)
        if rule is not None and self.hypothetical_question(state, turn, rule):
            return
        if rule is not None:
            self.run_rule(state, turn, rule)
            return
        if intent == intent_names.OUT_OF_SCOPE:
            outcome = engine.knowledge_context.in_context(state, turn, record=True)
            if outcome is not None and outcome.decision == "answer":
                engine.speech.knowledge(state, turn, outcome)
                return
            if is_protest(turn) and engine.speech.explain(state, turn, default=False):
                return
        if not engine.speech.utter(state, turn, f"utter_{intent}"):
            engine.speech.utter(state, turn, "utter_default")

    def hypothetical_question(self, state: ConversationState, turn: Turn, rule: Rule) -> bool:
        """A task's intent in a question about what the shop allows ("can I still return it once I've
        washed it?", "can i send it back if it doesnt fit?") that gives no facts (order number, email,
        booking reference): the knowledge base answers it when it can with confidence (the customer asks
        about a rule, they do not start the task)."""
        form = rule.activates_form
        if form is None or not _HYPOTHETICAL.search(turn.parse.text):
            return False
        if any(e.entity in FACTS for e in turn.parse.entities):
            return False  # "can I cancel AN-10001 if it hasn't shipped?" starts the task
        outcome = self.engine.knowledge_context.in_context(state, turn, record=False)
        if outcome is None or outcome.decision != "answer":
            return False
        self.engine.speech.knowledge(state, turn, outcome)
        return True

    def rule_for(self, state: ConversationState, turn: Turn) -> Rule | None:
        """The rule for this message. Facts given outside a task ("AN-10007 david@example.com",
        "and AN-10006 too", "what about AN-10001?") continue the conversation's last task when they
        fill one of its questions, else the task the classifier ranks next, else the domain's rule
        for `inform` with those entities."""
        parse = turn.parse
        names = [e.entity for e in parse.entities]
        rule = self.domain.action_for_intent(parse.intent.name, state.latest_action_name, names)
        if parse.intent.name not in intent_names.FORM_FILLING or not names:
            return rule
        if rule is not None and (rule.after_action is not None or not rule.entities):
            return rule  # a follow-up rule ("and in London?" after the hours) or an explicit one
        forms = self.engine.forms
        for form in self.task_candidates(state, parse):
            task = self.domain.rule_activating(form)
            if task is not None and any(forms.has_entity_for(slot, parse) for slot in forms.required_slots(form)):
                return task
        return rule

    def facts_rule(self, turn: Turn) -> Rule | None:
        """A message the classifier took for a question or could not place, carrying facts with a rule
        of their own ("what happened to my order AN-10008"), or took for shopping while it names an order
        ("so what's the status of AN-10004 now?", "what happened to my trench coat order AN-10008": an
        order number makes the product one of the order's): that rule."""
        parse = turn.parse
        own = [e.entity for e in parse.entities if e.extractor != INHERITED]  # not facts of an earlier part
        intent = parse.intent.name
        names_order = ORDER_NUMBER in own
        not_shopping = intent in intent_names.PRODUCTS and (names_order or not set(own) & PRODUCT_FACTS)
        if (intent not in FOLLOW_UP_INTENTS - intent_names.FORM_FILLING and not not_shopping) or not own:
            return None
        facts = self.domain.action_for_intent(intent_names.INFORM, None, own)
        return facts if facts is not None and facts.entities else None

    def task_candidates(self, state: ConversationState, parse: Parse) -> list[str]:
        """Forms a message of facts may be for: the conversation's last task, then tasks the classifier
        ranks at TASK_HINT or more."""
        found: list[str] = []
        for item in reversed(state.events):  # the last task, unless the customer stopped it
            if item.get("event") == "action" and item.get("name") == "utter_form_stopped":
                break
            if item.get("event") == "active_loop" and item.get("name"):
                found.append(str(item["name"]))
                break
        for score in parse.intent_ranking:
            if score.confidence < TASK_HINT:
                continue
            rule = self.domain.action_for_intent(score.name)
            if rule is not None and rule.activates_form and rule.activates_form not in found:
                found.append(rule.activates_form)
        return found

    def run_rule(self, state: ConversationState, turn: Turn, rule: Rule) -> None:
        for action in rule.actions:
            self.engine.run_action(state, turn, action)
        if rule.activates_form:
            self.engine.forms.activate(state, turn, rule.activates_form)

    # -- fallback --------------------------------------------------------------------------------
    def two_stage_fallback(self, state: ConversationState, turn: Turn) -> None:
        """Rasa's two-stage fallback: clarify (top two intents as buttons), ask to rephrase, then offer a
        human. A message that is simply out of scope (not torn between two intents) gets the
        out-of-scope answer first instead of a confusing "did you mean"."""
        speech = self.engine.speech
        state.fallback_count += 1
        out_of_scope = turn.parse.fallback_reason == intent_names.OUT_OF_SCOPE
        if state.fallback_count == 1 and out_of_scope and speech.utter(state, turn, "utter_out_of_scope"):
            return
        if state.fallback_count == 1 and self.ask_affirmation(state, turn):
            return
        if state.fallback_count <= 2:
            state.fallback_count = 2
            speech.utter(state, turn, "utter_ask_rephrase")
            return
        state.fallback_count = 0
        if not speech.utter(state, turn, "utter_default_again"):
            speech.utter(state, turn, "utter_default")

    def ask_affirmation(self, state: ConversationState, turn: Turn) -> bool:
        if turn.quiet_fallback:
            return True
        titles = self.domain.intent_titles
        candidates = [
            s.name for s in turn.parse.intent_ranking if s.name in titles and s.name != intent_names.FALLBACK
        ][:2]
        if not candidates:
            return False
        buttons = tuple(Button(titles[name], f"/{name}") for name in candidates)
        values = {"intent_1_title": titles[candidates[0]], "intent_2_title": titles[candidates[-1]]}
        reply = self.engine.renderer.render(
            "utter_ask_affirmation", state.slots, values, kind="clarify", channel=turn.input_channel
        )
        if reply is None:
            return False
        state.run_action("action_two_stage_fallback")
        self.engine.speech.emit(state, turn, replace(reply, buttons=buttons + reply.buttons))
        return True

    # -- digressions in a form -------------------------------------------------------------------
    def digress(
        self, state: ConversationState, turn: Turn, form: str, requested: Any, outcome: KnowledgeOutcome | None = None
    ) -> None:
        """Something else than an answer while a form is active: answer it, then back to the question
        (another task switches to it; "why?" explains)."""
        engine = self.engine
        intent = turn.parse.intent.name
        rule = self.domain.action_for_intent(intent, None, [e.entity for e in turn.parse.entities])
        if intent == intent_names.ASK_WHY:
            engine.speech.explain(state, turn)
        elif intent in intent_names.PRODUCTS and engine.shopping.answer(state, turn):
            pass  # a product question in a task: answered, then back to the task's question
        elif intent in MEMORY_INTENTS and engine.memory.answer(state, turn, in_task=True):
            pass  # "what do you know about me?" in a task: answered, then back to the task's question
        elif rule is not None and rule.activates_form and rule.activates_form != form:
            engine.forms.deactivate(state)  # the customer switched task: say so (when the bot has words for it)
            if engine.renderer.has("utter_switch_task"):
                engine.speech.utter(state, turn, "utter_switch_task")
            self.run_rule(state, turn, rule)
            return
        elif rule is not None and rule.activates_form == form:
            pass  # asking for the same thing again: just repeat the question
        elif intent in (intent_names.FALLBACK, intent_names.FAQ, intent_names.OUT_OF_SCOPE):
            outcome = outcome or engine.knowledge_context.ask(turn, record=intent != intent_names.FALLBACK)
            if outcome is not None and (outcome.decision != "unknown" or intent == intent_names.FAQ):
                engine.speech.knowledge(state, turn, outcome)
            else:
                engine.speech.utter(state, turn, "utter_ask_rephrase")
        elif rule is not None:
            self.run_rule(state, turn, rule)
        elif not engine.speech.utter(state, turn, f"utter_{intent}"):
            engine.speech.utter(state, turn, "utter_ask_rephrase")
        if state.paused and state.active_loop == form:
            engine.forms.deactivate(state)  # handed to a person: the team takes it from here, no question follows
        if state.active_loop == form:
            engine.speech.utter(state, turn, "utter_form_reminder")
            if isinstance(requested, str):
                engine.forms.ask(state, turn, form, requested)

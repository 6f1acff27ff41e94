"""Two requests in one message: "cancel AN-10004 and also what are your London opening hours?".

`split_requests` cuts a message at sentence ends and at conjunctions that start a new request ("and
also …", "and can I …", "; …"); the parts are classified in the same encoder batch as the whole
message (one pass). The engine then handles the parts that are real requests in order: when the first
one needs more answers (a form), the others wait in the conversation state as `PendingRequest`s,
the customer is told so, and each is handled as soon as the form is done.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bot import intent_names
from bot.dialogue.knowledge_context import CONTEXT_ENTITIES, INHERITED, KnowledgeContext, top_entry
from bot.dialogue.turn import Turn
from bot.domain import Domain
from bot.types import Entity, IntentScore, Parse

_STARTERS = (
    r"what|where|when|how|why|which|who|is|are|do|does|did|can|could|would|will|should|may|i|i'd|i'm|i'll|"
    r"please|pls|cancel|book|return|tell|check|show|give|send|change|move|reschedule|track|let me|remind|"
    r"explain|help|"
    r"let's|what's|where's|when's|how's"
)
_SPLIT = re.compile(
    r"(?<=[?!.])\s+(?=\S)"  # sentence ends
    r"|;\s*"
    r"|\s+[+&]\s+"  # "is the London store open on sunday + do you deliver to canada"
    rf"|,?\s+(?:and also|and then|and|also|plus|as well as)\s+(?=(?:{_STARTERS})\b)",  # "… and can I …"
    re.IGNORECASE,
)
_STARTERS_FR_DE = (
    r"connaître|connaitre|savoir|quels?|quelles?|quand|où|est-ce|pouvez|pourriez|"
    r"wann|wo|wie|was|welche|können|könnten|ist|hat|habt|gibt"
)
_SPLIT_FR_DE = re.compile(rf",?\s+(?:et aussi|et|und auch|und)\s+(?=(?:{_STARTERS_FR_DE})\b)", re.IGNORECASE)
"""The same in the languages of the Paris and Berlin shops ("annuler ma commande et connaître les horaires")."""
_LEADING = re.compile(r"^\s*(?:and also|and then|and|also|plus|oh and|ok and|as well)\b[\s,]*", re.IGNORECASE)
_CONDITION = re.compile(r"^\s*(?:if|in case|once)\b[^,?.!]{0,40},\s*(?=\S)", re.IGNORECASE)
"""A later part's leading condition ("if not, please cancel it", "if it doesn't fit, what does it cost …"):
the request is what follows it (the task itself checks whether it can be done)."""
_WORD = re.compile(r"[^\W_]+")
MIN_WORDS = 3
MAX_PARTS = 3


def split_requests(text: str) -> list[str]:
    """The parts of a message that may be separate requests (the message itself when there is one)."""
    pieces = [q for p in _SPLIT.split(text) for q in _SPLIT_FR_DE.split(p)]
    parts = [_LEADING.sub("", p).strip(" ,") for p in pieces]
    parts = [p for p in parts if p]
    parts = parts[:1] + [_without_condition(p) for p in parts[1:]]
    merged: list[str] = []
    for part in parts:  # a fragment too short to be a request joins the part before it
        if merged and len(_WORD.findall(part)) < MIN_WORDS:
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    if len(merged) > MAX_PARTS:
        merged = [*merged[: MAX_PARTS - 1], " ".join(merged[MAX_PARTS - 1 :])]
    return merged if len(merged) > 1 else [text]


def _without_condition(part: str) -> str:
    rest = _CONDITION.sub("", part, count=1)
    return rest if len(_WORD.findall(rest)) >= MIN_WORDS else part


@dataclass(frozen=True)
class PendingRequest:
    """A request of an earlier message, waiting for the task before it to finish."""

    text: str
    parse: Parse
    embedding: np.ndarray | None

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "parse": _parse_json(self.parse),
            "embedding": None if self.embedding is None else [round(float(x), 6) for x in self.embedding],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PendingRequest:
        raw = data.get("embedding")
        embedding = None if raw is None else np.asarray(raw, dtype=np.float32)
        return cls(str(data.get("text") or ""), _parse_from_json(data.get("parse") or {}), embedding)


def _parse_json(parse: Parse) -> dict[str, Any]:
    return {
        "text": parse.text,
        "intent": [parse.intent.name, parse.intent.confidence],
        "ranking": [[s.name, s.confidence] for s in parse.intent_ranking],
        "entities": [
            [e.entity, e.value, e.start, e.end, e.extractor, e.text, e.confidence, e.role, e.group]
            for e in parse.entities
        ],
        "abstained": parse.abstained,
        "fallback_reason": parse.fallback_reason,
        "language": parse.language,
    }


def _parse_from_json(data: Mapping[str, Any]) -> Parse:
    name, confidence = data.get("intent") or ("", 0.0)
    return Parse(
        text=str(data.get("text") or ""),
        intent=IntentScore(str(name), float(confidence)),
        entities=tuple(Entity(*item) for item in data.get("entities") or []),
        intent_ranking=tuple(IntentScore(str(n), float(c)) for n, c in data.get("ranking") or []),
        abstained=bool(data.get("abstained")),
        fallback_reason=data.get("fallback_reason"),
        language=data.get("language"),
    )


_WORDS = re.compile(r"[^\W\d_]{2,}")
MIN_REQUEST_WORDS = 3
"""A later part of a message needs this many words besides its entities to be a request of its own."""
FACTS = frozenset({"email", "order_number", "appointment_reference"})
FACT_WORDS = 4
SHARED_FACTS = frozenset({"email"})
"""Facts a later part gives that go with every request of the message lacking one ("has AN-10014 shipped?
if not, please cancel it. grace@example.com": the email is for both)."""
"""A later part naming one of the FACTS with at most this many other words only gives facts."""
_ASKS = re.compile(r"\s*(?:where|when|what|how|why|which|who|is|are|has|have|did|does|do|can|could|will)\b", re.I)
_BACK_REFERENCE = re.compile(r"\b(there|it|that|them|this one|that one|same)\b", re.I)
NOT_REQUESTS = frozenset(
    {
        intent_names.AFFIRM,
        intent_names.DENY,
        intent_names.GREET,
        intent_names.THANKS,
        intent_names.GOODBYE,
        intent_names.STOP,
        intent_names.ASK_WHY,
        intent_names.OUT_OF_SCOPE,
        intent_names.FALLBACK,
    }
)
"""Intents that are never a request of their own inside a longer message."""


class RequestSplitter:
    """Which parts of a message are requests of their own (`split_requests` gives the parts)."""

    def __init__(self, domain: Domain, knowledge: KnowledgeContext) -> None:
        self.domain = domain
        self.knowledge = knowledge

    def requests(self, active_loop: str | None, turn: Turn, parts: Sequence[Turn]) -> list[Turn]:
        """The parts that are requests of their own (a task, a question, a reply of the domain), when
        there are at least two of them; facts ("my email is …") and small talk stay with the message."""
        if len(parts) < 2 or active_loop:
            return []
        found: list[Turn] = []
        facts: list[Entity] = []  # entities of parts that only give facts ("… ref FT DEMO1")
        for part in parts:
            if self.is_request(part.parse, first=not found):
                found.append(part)
            elif found:
                found[-1] = replace(found[-1], parse=_plus_entities(found[-1].parse, part.parse.entities))
                shared = [e for e in part.parse.entities if e.entity in SHARED_FACTS]
                found = [*(_with_missing(p, shared) for p in found[:-1]), found[-1]]  # "… grace@example.com"
            else:
                facts.extend(part.parse.entities)
        if len(found) >= 2 and _only_facts(found[0]) and _BACK_REFERENCE.search(found[1].parse.text):
            # "I placed an order (AN-10016, a navy blazer) … Would it be possible to cancel it?": one request
            found = [replace(found[1], parse=_plus_entities(found[1].parse, found[0].parse.entities)), *found[2:]]
        if len(found) < 2:
            return []
        if facts:
            found[0] = replace(found[0], parse=_plus_entities(found[0].parse, facts))
        for index, part in enumerate(found[1:], 1):  # "… and what's the exact address?": of the Paris shop
            found[index] = _with_context(part, found[:index])
        intents = {(p.parse.intent.name, tuple(sorted(map(str, p.parse.entity_values("order_number"))))) for p in found}
        if len(intents) == 1 and found[0].parse.intent.name != intent_names.FAQ:
            return []
        if all(p.parse.intent.name == intent_names.FAQ for p in found) and not self._distinct_answers(turn, found):
            return []
        return found

    def is_request(self, parse: Parse, *, first: bool) -> bool:
        intent = parse.intent.name
        if parse.abstained or intent in NOT_REQUESTS:
            return False
        named = {e.entity for e in parse.entities}
        if intent in intent_names.PRODUCTS and "order_number" in named:
            return False  # "I placed an order (AN-10016, a navy blazer) …": the product is the order's
        words = len(_WORDS.findall(_masked(parse)))
        if not first and words < MIN_REQUEST_WORDS:
            return False  # "ref FT DEMO1", "email anna@example.com": facts for the request before
        if not first and words <= FACT_WORDS and named & FACTS:
            if named & FACTS == {"email"}:
                return False  # "my email is …", "Meine E-Mail ist …": an email alone asks for nothing
            task = self.domain.action_for_intent(intent)
            if task is None or not task.activates_form:  # "cancel order AN-10002 too" stays a request
                return False
        if intent in intent_names.FORM_FILLING:  # facts that start a task ("where is AN-10001?"), only up front:
            if not first:  # later facts ("… AN-10017 anna@example.com") belong to the request before them
                return False
            facts = self.domain.action_for_intent(intent, None, [e.entity for e in parse.entities])
            return facts is not None and bool(facts.entities)
        return True

    def _distinct_answers(self, turn: Turn, parts: Sequence[Turn]) -> bool:
        """Several questions for the knowledge base are split only when each part has a confident
        answer of its own (one entry often answers "how much is shipping and how long does it take")."""
        whole = self.knowledge.ask(turn, record=False)
        answers = [self.knowledge.ask(p, record=False) for p in parts]
        tops = [top_entry(a) for a in answers if a is not None and a.decision == "answer"]
        if len(tops) < len(parts) or len(set(tops)) < len(tops):
            return False
        return whole is None or whole.decision != "answer" or top_entry(whole) in tops


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


def _only_facts(part: Turn) -> bool:
    """A part that only gives facts: an `inform` that asks nothing ("I placed an order (AN-10016) earlier
    today.", but not "where is AN-10013?")."""
    text = part.parse.text.strip()
    return part.parse.intent.name in intent_names.FORM_FILLING and not text.endswith("?") and not _ASKS.match(text)


def _with_missing(part: Turn, entities: Sequence[Entity]) -> Turn:
    """The part with those of `entities` whose kind it names none of."""
    have = {e.entity for e in part.parse.entities}
    missing = [e for e in entities if e.entity not in have]
    return replace(part, parse=_plus_entities(part.parse, missing)) if missing else part


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

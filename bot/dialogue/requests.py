"""Two requests in one message: "cancel AN-10004 and also what are your London opening hours?".

`split_requests` cuts a message at sentence ends and at conjunctions that start a new request ("and
also …", "and can I …", "; …"); the parts are classified in the same encoder batch as the whole
message (one pass). The engine then handles the parts that are real requests in order: when the first
one needs more answers (a form), the others wait in the conversation state as `PendingRequest`s,
the customer is told so, and each is handled as soon as the form is done.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

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
    rf"|,?\s+(?:and also|and then|and|also|plus|as well as)\s+(?=(?:{_STARTERS})\b)",  # "… and can I …"
    re.IGNORECASE,
)
_LEADING = re.compile(r"^\s*(?:and also|and then|and|also|plus|oh and|ok and|as well)\b[\s,]*", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+")
MIN_WORDS = 3
MAX_PARTS = 3


def split_requests(text: str) -> list[str]:
    """The parts of a message that may be separate requests (the message itself when there is one)."""
    parts = [_LEADING.sub("", p).strip(" ,") for p in _SPLIT.split(text)]
    parts = [p for p in parts if p]
    merged: list[str] = []
    for part in parts:  # a fragment too short to be a request joins the part before it
        if merged and len(_WORD.findall(part)) < MIN_WORDS:
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    if len(merged) > MAX_PARTS:
        merged = [*merged[: MAX_PARTS - 1], " ".join(merged[MAX_PARTS - 1 :])]
    return merged if len(merged) > 1 else [text]


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

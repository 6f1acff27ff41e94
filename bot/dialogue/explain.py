"""Answering "why?": what the bot said last, and the reason it can give.

A response `utter_x` may have a companion `utter_x_why` in the domain: when the customer asks "why?"
right after `utter_x`, the engine renders the companion with the values `utter_x` was rendered with
(kept in the bot event's metadata for exactly this). After a knowledge answer, the reason is the
answer's own explaining sentence ("Heat and rubbing together make wool felt and shrink …").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

WHY_SUFFIX = "_why"
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_MARKUP = re.compile(r"\*\*|__|[*_`>#]|\[([^\]]*)\]\([^)]*\)")
_CUES = re.compile(
    r"\b(because|since|so that|so|otherwise|which|makes?|causes?|keeps?|avoid|protects?|"
    r"means?|as long as|only|can't|cannot|must|until|unless|no longer|already)\b",
    re.I,
)


@dataclass(frozen=True)
class Said:
    """One thing the bot said in its previous turn: the response's name (if any), the values it was
    rendered with, its kind (response, action, knowledge …) and its text."""

    response: str
    values: Mapping[str, Any]
    kind: str
    text: str
    source: str | None = None  # the knowledge entry a knowledge answer came from


def previous_turn(events: Sequence[Mapping[str, Any]], back: int = 1) -> list[Said]:
    """What the bot said between the customer's previous message and the current one, in order (with
    `back=2`, between the message before that and the previous one)."""
    users = [i for i, item in enumerate(events) if item.get("event") == "user"]
    if len(users) < back + 1:
        return []
    said: list[Said] = []
    for item in events[users[-1 - back] : users[-back]]:
        if item.get("event") != "bot":
            continue
        meta = item.get("metadata") or {}
        sources = (item.get("data") or {}).get("sources") or []
        said.append(
            Said(
                str(meta.get("response") or ""),
                dict(meta.get("values") or {}),
                str(meta.get("kind") or ""),
                str(item.get("text") or ""),
                str(sources[0].get("id")) if sources else None,
            )
        )
    return said


def reason_sentence(text: str, max_chars: int = 300) -> str | None:
    """The sentence of an answer that explains the most (the most reason words), as plain text."""
    plain = _MARKUP.sub(lambda m: m.group(1) or "", text)
    best: tuple[int, str] | None = None
    for sentence in _SENTENCE.split(plain):
        sentence = " ".join(sentence.strip(" -").split())
        if len(sentence) < 20 or sentence.startswith(("_Source", "Source:")):
            continue
        score = len(_CUES.findall(sentence))
        if score and (best is None or score > best[0]):
            best = (score, sentence)
    if best is None:
        return None
    return best[1] if len(best[1]) <= max_chars else best[1][: max_chars - 1].rstrip() + "…"

"""The passage of an answer that answers a narrower follow-up question.

When the knowledge base answers a message with the entry it has just given ("how long will you hold it
for me?" right after the click & collect answer), repeating the whole answer reads like a loop. The
answer is cut into sentences (list items and lines count as sentences), encoded in one batch, and the
sentence closest to the question is given instead ("We keep your order for 10 days.").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from bot.encoding import Encoder

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z*_\[(])")
_MARKUP = re.compile(r"!?\[([^\]]*)\]\([^)]*\)|[*_`>#|]+|<[^>]+>")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
MIN_WORDS = 4
"""A sentence with fewer words is no passage of its own ("See below:")."""


def sentences(answer: str) -> list[str]:
    """The answer's sentences, Markdown kept, list items and lines as sentences of their own."""
    found: list[str] = []
    for line in answer.splitlines():
        line = line.strip()
        if not line or line.startswith("_Source"):
            continue
        found.extend(part.strip() for part in _SENTENCE_END.split(line) if part.strip())
    return found


def plain(text: str) -> str:
    return " ".join(_MARKUP.sub(lambda m: m.group(1) or " ", text).lstrip("-0123456789. ").split())


def best_passage(answer: str, query: np.ndarray, encoder: Encoder) -> str | None:
    """The sentence of `answer` closest to the question's embedding (None when there is no choice)."""
    candidates = [s for s in sentences(answer) if len(plain(s).split()) >= MIN_WORDS]
    if len(candidates) < 2:
        return None
    vectors = np.asarray(encoder.encode([plain(s) for s in candidates]), dtype=np.float32)
    scores: Sequence[float] = (vectors @ np.asarray(query, dtype=np.float32).reshape(-1)).tolist()
    best = max(range(len(candidates)), key=lambda i: scores[i])
    return _LIST_MARKER.sub("", candidates[best]).strip()  # "- **Jackets**: …" keeps its bold whole

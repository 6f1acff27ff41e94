"""One customer message on its way through the dialogue (`Turn`), and what the knowledge base gives back."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from bot.sentiment.types import Sentiment
from bot.types import KnowledgeQuery, Parse, Reply


class KnowledgeOutcome(Protocol):
    @property
    def decision(self) -> str: ...  # "answer" | "suggest" | "unknown"

    @property
    def replies(self) -> Sequence[Reply]: ...


KnowledgeAnswerer = Callable[[KnowledgeQuery], KnowledgeOutcome | None]
"""query -> outcome; None when no knowledge base is loaded."""


@dataclass
class Turn:
    """The parse and embedding of one message (or one request of it), and the replies collected so far."""

    parse: Parse
    embedding: np.ndarray | None = None
    input_channel: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    replies: list[Reply] = field(default_factory=list)
    extracted: dict[str, Any] = field(default_factory=dict)  # slots set from this message
    quiet_fallback: bool = False  # the language notice already answered: no "I didn't understand" on top
    sentiment: Sentiment | None = None  # the message's sentiment (None: no sentiment model)
    shorten: bool = False  # a frustrated conversation: knowledge answers keep their first paragraph only


def replace_turn(turn: Turn, part: Turn) -> Turn:
    """A part of the message as a turn that adds its replies to the message's turn."""
    return Turn(
        part.parse,
        part.embedding,
        turn.input_channel,
        turn.metadata,
        turn.replies,
        {},
        turn.quiet_fallback,
        turn.sentiment,
        turn.shorten,
    )

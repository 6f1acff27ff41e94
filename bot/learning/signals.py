"""Signals: the customer messages the bot did not handle well, read after the fact from what is stored.

Nothing here changes how the bot answers: the conversation events of the tracker store, the knowledge base's
unanswered log and the customers' thumbs are read afterwards and turned into one `Signal` per customer message,
with every kind of trouble seen on it:

    abstention          the knowledge base said "I don't know" or "Did you mean…", or NLU fell back
    low_confidence      NLU picked an intent below `learning_low_confidence`
    thumbs_down         the customer voted down the bot's reply to it
    rephrase            right after the bot's answer, the customer asked the same again in other words
    handoff             right after the bot's answer (or failure), the customer asked for a person
    negative_sentiment  right after the bot's answer, the customer's next message was negative — read from the
                        turn's stored sentiment (`parse_data["sentiment"]`) when the bot stores one

and, when the conversation shows it, what the message was really about: the entry the customer picked after
"Did you mean…" (or that answered their rephrasing), or the intent they confirmed with a clarification button.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

import numpy as np

from bot.faq.unanswered import UnansweredQuestion

SignalKind = Literal["abstention", "low_confidence", "thumbs_down", "rephrase", "handoff", "negative_sentiment"]
SIGNAL_KINDS: tuple[str, ...] = get_args(SignalKind)
NEGATIVE_KINDS = frozenset({"thumbs_down", "rephrase", "handoff", "negative_sentiment"})
"""Kinds that say the answer given was wanting: the entry it came from is not the one to learn for."""

FALLBACK_RESPONSES = frozenset(
    {"utter_default", "utter_default_again", "utter_ask_rephrase", "utter_out_of_scope", "utter_ask_affirmation"}
)
FALLBACK_ACTIONS = FALLBACK_RESPONSES | {"action_two_stage_fallback"}
FALLBACK_INTENT = "nlu_fallback"
HANDOFF_INTENT = "human_handoff"
HANDOFF_ACTION = "action_human_handoff"
REPHRASE_SECONDS = 180.0
"""A rephrasing follows the answer within this many seconds."""
REPHRASE_SIMILARITY = 0.6
"""Two messages at least this similar (cosine of their embeddings) ask the same thing."""
MERGE = 600.0
"""An unanswered-log question and a conversation message with the same text this close in time are one message."""

Similarity = Callable[[str, str], float]


@dataclass(frozen=True)
class Signal:
    """One customer message the bot did not handle well, and everything the stores say about it."""

    key: str
    text: str
    at: float
    kinds: frozenset[str]
    source: str = "conversation"  # or "unanswered"
    sender_id: str | None = None
    answered_entry: str | None = None
    """the knowledge entry the bot answered with, when that answer was found wanting"""
    chosen_entry: str | None = None
    """the entry the customer picked after "Did you mean…", or that answered their rephrasing"""
    intent: str | None = None
    """the intent NLU ranked first (leaving out nlu_fallback) when the message came"""
    confidence: float | None = None
    chosen_intent: str | None = None
    """the intent the customer confirmed with a clarification button"""
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def negative(self) -> bool:
        """True when the bot's answer to it was found wanting (not just absent)."""
        return bool(self.kinds & NEGATIVE_KINDS)


def signal_key(*parts: object) -> str:
    return hashlib.sha1("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:20]


_SPACE = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def is_noise(text: str) -> bool:
    """Empty, emoji-only or punctuation-only: nothing a knowledge entry or an intent could learn from."""
    letters = [c for c in text if unicodedata.category(c)[0] in ("L", "N")]
    return len(letters) < 2


def lexical_similarity(a: str, b: str) -> float:
    """Word-set overlap (Jaccard): the similarity used when no encoder is at hand."""
    wa, wb = set(re.findall(r"\w+", a.casefold())), set(re.findall(r"\w+", b.casefold()))
    return len(wa & wb) / len(wa | wb) if wa and wb else 0.0


# -- conversations ---------------------------------------------------------------------------------
@dataclass
class _Turn:
    """One customer message and what the bot did about it (its replies and actions)."""

    text: str
    at: float
    message_id: str
    parse: Mapping[str, Any]
    replies: list[Mapping[str, Any]] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    paused: bool = False

    @property
    def intent(self) -> str:
        return str((self.parse.get("intent") or {}).get("name") or "")

    @property
    def confidence(self) -> float:
        return float((self.parse.get("intent") or {}).get("confidence") or 0.0)

    def top_intent(self) -> tuple[str | None, float | None]:
        """The first intent of the ranking other than nlu_fallback."""
        for item in self.parse.get("intent_ranking") or []:
            name = item.get("name")
            if name and name != FALLBACK_INTENT:
                return str(name), float(item.get("confidence") or 0.0)
        return None, None

    @property
    def is_command(self) -> bool:
        return self.text.startswith("/")

    @property
    def sentiment(self) -> str | None:
        found = self.parse.get("sentiment")
        return str(found.get("label")) if isinstance(found, Mapping) and found.get("label") else None

    def buttons(self, *, commands: bool) -> list[str]:
        """Payloads of the bot's buttons: `/intent` commands, or the other ones (entry questions, texts)."""
        found = []
        for reply in self.replies:
            for button in (reply.get("data") or {}).get("buttons") or []:
                payload = str(button.get("payload") or "")
                if payload and payload.startswith("/") == commands:
                    found.append(payload)
        return found

    @property
    def reply_ids(self) -> set[str]:
        return {str((r.get("data") or {}).get("id")) for r in self.replies if (r.get("data") or {}).get("id")}

    def knowledge(self) -> str | None:
        """What the knowledge base did: answer, suggest, unknown (None when it was not asked)."""
        for name in self.actions:
            if name.startswith("action_knowledge_"):
                return name.removeprefix("action_knowledge_")
        for reply in self.replies:
            if (reply.get("metadata") or {}).get("kind") != "knowledge":
                continue
            data = reply.get("data") or {}
            if data.get("sources"):
                return "answer"
            buttons = [b for b in data.get("buttons") or [] if not str(b.get("payload", "")).startswith("/")]
            return "suggest" if buttons else "unknown"
        return None

    def answered_entry(self) -> str | None:
        for reply in self.replies:
            if (reply.get("metadata") or {}).get("kind") == "knowledge":
                sources = (reply.get("data") or {}).get("sources") or []
                if sources and sources[0].get("id"):
                    return str(sources[0]["id"])
        return None

    @property
    def fell_back(self) -> bool:
        if self.intent == FALLBACK_INTENT and self.knowledge() != "answer":
            return True
        said = set(self.actions) | {str((r.get("metadata") or {}).get("response") or "") for r in self.replies}
        return bool(said & FALLBACK_ACTIONS)

    @property
    def failed(self) -> bool:
        return self.fell_back or self.knowledge() in ("suggest", "unknown")

    @property
    def answered(self) -> bool:
        return bool(self.replies) and not self.failed

    @property
    def handoff(self) -> bool:
        return (
            self.intent == HANDOFF_INTENT
            or self.text == f"/{HANDOFF_INTENT}"
            or HANDOFF_ACTION in self.actions
            or self.paused
        )


def _segments(events: Iterable[Mapping[str, Any]]) -> list[list[_Turn]]:
    """The conversation's turns, split where a session (re)starts: signals never span two sessions."""
    segments: list[list[_Turn]] = [[]]
    for item in events:
        kind = item.get("event")
        if kind in ("session_started", "restart"):
            if segments[-1]:
                segments.append([])
        elif kind == "user":
            at = float(item.get("timestamp") or 0.0)
            message_id = str(item.get("message_id") or at)
            segments[-1].append(_Turn(str(item.get("text") or ""), at, message_id, item.get("parse_data") or {}))
        elif not segments[-1]:
            continue  # what the bot said before the first message (a greeting): nothing to learn from
        elif kind == "bot":
            segments[-1][-1].replies.append(item)
        elif kind == "action" and item.get("name"):
            segments[-1][-1].actions.append(str(item["name"]))
        elif kind == "pause":
            segments[-1][-1].paused = True
    return [s for s in segments if s]


def _clicked(turn: _Turn, previous: _Turn | None) -> bool:
    """The message is a button the bot offered (or any `/intent` command), not the customer's own words."""
    if turn.is_command:
        return True
    return previous is not None and turn.text in previous.buttons(commands=False)


def signals_from_conversation(
    sender_id: str,
    events: Iterable[Mapping[str, Any]],
    *,
    down_votes: Collection[str] = (),
    low_confidence: float = 0.5,
    similarity: Similarity = lexical_similarity,
) -> list[Signal]:
    """The signals of one conversation's events (oldest first). `down_votes`: ids of the bot's replies
    the customer voted down; `similarity(a, b)` says how alike two messages are (cosine of embeddings)."""
    found: list[Signal] = []
    for turns in _segments(events):
        for i, turn in enumerate(turns):
            previous = turns[i - 1] if i else None
            following = turns[i + 1] if i + 1 < len(turns) else None
            if _clicked(turn, previous) or turn.handoff or not turn.text.strip():
                continue
            signal = _signal(sender_id, turn, following, turns[i + 2] if i + 2 < len(turns) else None,
                             down_votes, low_confidence, similarity)  # fmt: skip
            if signal is not None:
                found.append(signal)
    return found


def _signal(
    sender_id: str,
    turn: _Turn,
    following: _Turn | None,
    after: _Turn | None,
    down_votes: Collection[str],
    low_confidence: float,
    similarity: Similarity,
) -> Signal | None:
    kinds: set[str] = set()
    if turn.failed:
        kinds.add("abstention")
    elif turn.intent and turn.confidence < low_confidence:
        kinds.add("low_confidence")
    if turn.reply_ids & set(down_votes):
        kinds.add("thumbs_down")
    chosen_entry: str | None = None
    chosen_intent: str | None = None
    if following is not None:
        rephrased = (
            not _clicked(following, turn)
            and not following.handoff
            and following.at - turn.at <= REPHRASE_SECONDS
            and similarity(turn.text, following.text) >= REPHRASE_SIMILARITY
        )
        if following.handoff:
            kinds.add("handoff")
        if turn.answered and following.sentiment == "negative":
            kinds.add("negative_sentiment")
        if turn.answered and rephrased:
            kinds.add("rephrase")
        if turn.knowledge() == "suggest" and following.text in turn.buttons(commands=False):
            chosen_entry = following.answered_entry()  # picked from "Did you mean…"
        elif rephrased and kinds and _kept(following, after, down_votes, similarity):
            entry = following.answered_entry()  # the rephrasing got the answer the customer wanted
            chosen_entry = entry if entry != turn.answered_entry() else None
        if following.text in turn.buttons(commands=True) and not following.handoff:
            chosen_intent = following.text[1:].split("{", 1)[0].strip() or None
    if not kinds:
        return None
    intent, confidence = turn.top_intent()
    answered = turn.answered_entry() if kinds & NEGATIVE_KINDS else None
    return Signal(
        key=signal_key("c", sender_id, turn.message_id),
        text=turn.text.strip(),
        at=turn.at,
        kinds=frozenset(kinds),
        sender_id=sender_id,
        answered_entry=answered,
        chosen_entry=chosen_entry if chosen_entry != answered else None,
        intent=intent,
        confidence=confidence,
        chosen_intent=chosen_intent,
    )


def _kept(answer: _Turn, after: _Turn | None, down_votes: Collection[str], similarity: Similarity) -> bool:
    """The answer to a rephrasing satisfied the customer: a knowledge answer, not voted down, not asked again."""
    if answer.knowledge() != "answer" or answer.reply_ids & set(down_votes):
        return False
    if after is None:
        return True
    return not (
        after.handoff or after.sentiment == "negative" or similarity(answer.text, after.text) >= REPHRASE_SIMILARITY
    )


# -- the unanswered log ----------------------------------------------------------------------------
def signals_from_unanswered(questions: Iterable[UnansweredQuestion]) -> list[Signal]:
    """Each question the knowledge base could not answer (with the embedding it was recorded with)."""
    return [
        Signal(
            key=signal_key("u", round(q.time, 3), q.text),
            text=q.text.strip(),
            at=q.time,
            kinds=frozenset({"abstention"}),
            source="unanswered",
            embedding=q.embedding,
        )
        for q in questions
        if q.text.strip()
    ]


def merge_signals(conversation: Sequence[Signal], unanswered: Sequence[Signal]) -> list[Signal]:
    """Conversation signals, plus the unanswered-log questions that are not one of their messages (same text,
    within `MERGE_SECONDS`); a matched message keeps the log's embedding. Oldest first."""
    by_text: dict[str, list[int]] = {}
    merged = list(conversation)
    for n, s in enumerate(merged):
        by_text.setdefault(normalise_text(s.text), []).append(n)
    for question in unanswered:
        match = next(
            (n for n in by_text.get(normalise_text(question.text), []) if abs(merged[n].at - question.at) <= MERGE),
            None,
        )
        if match is None:
            merged.append(question)
        elif merged[match].embedding is None and question.embedding is not None:
            merged[match] = replace(merged[match], embedding=question.embedding)
    merged.sort(key=lambda s: s.at)
    return merged

"""From groups of similar signals to the one change worth making for each: pure decisions, no I/O.

For every group (`bot.learning.clustering`), in this order:

1. only empty, emoji-only or punctuation messages: **ignore**;
2. every message is handled well now (an accepted suggestion or a hand edit taught the bot): no suggestion;
3. customers confirmed an intent with a clarification button, or NLU ranked a task intent first at a low
   confidence (not `faq`, not out of scope): **add as training examples of intent Y**;
4. the knowledge base has an entry close to the messages — the entry customers picked after "Did you mean…"
   or that answered their rephrasing; else the best mean score over the group, at least
   `alternate_min_score` and `alternate_min_margin` above the runner-up (an entry whose answer was voted down,
   rephrased or left for a person does not count for that message): **add as alternate phrasings of entry X**;
5. NLU took them for out of scope: **ignore**;
6. otherwise: **new knowledge entry needed**, its question drafted from the most central message, its
   answer left to staff, in the file of the closest entry (or `learning_new_entry_file`).

Groups whose change is the same (alternates of the same entry, examples of the same intent, noise or
off-topic messages to set aside) become one suggestion, so staff decide once per entry or intent.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, get_args

import numpy as np

from bot import intent_names
from bot.faq.entry import KnowledgeEntry, normalise_question
from bot.learning.signals import Signal, is_noise, normalise_text

SuggestionKind = Literal["alternate", "new_entry", "intent_example", "ignore"]
SUGGESTION_KINDS: tuple[str, ...] = get_args(SuggestionKind)
SuggestionState = Literal["open", "accepted", "rejected"]
SUGGESTION_STATES: tuple[str, ...] = get_args(SuggestionState)
NOT_LEARNABLE = frozenset({intent_names.FAQ, *intent_names.ABSTENTIONS})
"""Intents never given examples by a suggestion: the knowledge base's `faq` (its examples are the entries'
phrasings) and the abstentions."""
MAX_EXAMPLES = 10
MAX_PHRASING_CHARS = 200
RANK_TOP_K = 5
_QUESTION_START = re.compile(
    r"^(how|what|when|where|which|who|whom|whose|why|can|could|do|does|did|is|are|was|were|will|would|should|"
    r"may|might|have|has|shall)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Suggestion:
    """One suggested change and the messages behind it. Stored by `bot.learning.store`."""

    key: str
    kind: SuggestionKind
    reason: str
    count: int
    examples: tuple[str, ...]
    first_seen: float
    last_seen: float
    signals: Mapping[str, int]
    signal_keys: tuple[str, ...] = ()
    target: str | None = None
    """the entry id (alternate) or intent name (intent_example)"""
    phrasings: tuple[str, ...] = ()
    """the lines to add: alternate phrasings, training examples, or a new entry's `Also asked:`"""
    question: str | None = None
    """a new entry's drafted question"""
    file: str | None = None
    """the file the change goes into, as staff see it (relative to the project)"""
    candidates: tuple[tuple[str, float], ...] = ()
    """the closest entries (or intents) and their scores, best first"""
    id: int | None = None
    state: SuggestionState = "open"
    base_hash: str | None = None
    """sha256 of `file` when the suggestion was last prepared (empty string: the file did not exist)"""
    created_at: float = 0.0
    updated_at: float = 0.0
    decided_at: float | None = None
    decided_by: str | None = None
    change: str | None = None
    """the diff written when it was accepted"""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "target": self.target,
            "question": self.question,
            "phrasings": list(self.phrasings),
            "file": self.file,
            "reason": self.reason,
            "count": self.count,
            "examples": list(self.examples),
            "signals": dict(self.signals),
            "first_seen": iso(self.first_seen),
            "last_seen": iso(self.last_seen),
            "candidates": [{"name": n, "score": round(s, 4)} for n, s in self.candidates],
            "base_hash": self.base_hash,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "decided_at": iso(self.decided_at),
            "decided_by": self.decided_by,
            "change": self.change,
        }


def iso(ts: float | None) -> str | None:
    """A timestamp as ISO 8601 UTC (None stays None)."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts else None


class KnowledgeView(Protocol):
    """What suggestions need of the knowledge base (`bot.learning.views.SnapshotKnowledge`)."""

    def rank(self, embedding: np.ndarray, text: str, k: int) -> list[tuple[str, float]]:
        """(entry id, score), best first."""
        ...

    def answers(self, embedding: np.ndarray, text: str) -> str | None:
        """The entry the knowledge base answers this message with now; None when it does not answer."""
        ...

    def entry(self, entry_id: str) -> KnowledgeEntry | None: ...

    def has_phrasing(self, text: str) -> bool:
        """Is this already a question or alternate of some entry?"""
        ...


class IntentView(Protocol):
    """What suggestions need of the intents (`bot.learning.views.TrainingIntents`)."""

    @property
    def intents(self) -> frozenset[str]: ...

    def has_example(self, text: str) -> bool: ...

    def confident(self, text: str) -> str | None:
        """The intent the serving model gives this message confidently now; None when unsure or unknown."""
        ...


@dataclass(frozen=True)
class SuggestConfig:
    alternate_min_score: float = 0.45
    alternate_min_margin: float = 0.05
    intent_min_confidence: float = 0.3
    topic_min_score: float = 0.4
    """a new entry goes into the closest entry's file when that entry scores at least this"""
    max_phrasings: int = 5
    new_entry_file: str = "knowledge/learned.md"


@dataclass
class Analysis:
    """The suggestions of one pass, and how many groups were already handled well."""

    suggestions: list[Suggestion] = field(default_factory=list)
    resolved_groups: int = 0
    groups: int = 0


def suggest(
    signals: Sequence[Signal],
    vectors: np.ndarray,
    knowledge: KnowledgeView | None,
    intents: IntentView | None,
    config: SuggestConfig,
) -> Suggestion | None:
    """The best suggestion for one group of signals (`vectors`: their embeddings); None when every
    message of the group is handled well now."""
    members = list(zip(signals, vectors, strict=True))
    base = _base(signals)
    if all(is_noise(s.text) for s in signals):
        return replace(
            base,
            kind="ignore",
            key="ignore:noise",
            reason="empty, emoji-only or punctuation messages: nothing to learn",
        )
    members = [(s, v) for s, v in members if not is_noise(s.text)]
    if _resolved(members, knowledge, intents):
        return None
    learnable = intents.intents - NOT_LEARNABLE if intents is not None else frozenset()
    confirmed = Counter(s.chosen_intent for s, _ in members if s.chosen_intent in learnable)
    if confirmed:
        name, votes = confirmed.most_common(1)[0]
        why = f"customers confirmed intent `{name}` with a clarification button ({votes} of {len(members)})"
        return _intent_example(base, name, [s for s, _ in members], intents, config, why)
    nlu = _intent_candidates(members, learnable)
    if nlu and nlu[0][1] >= config.intent_min_confidence and _mostly_tasks(members, learnable):
        name, mean = nlu[0]
        why = f"NLU ranked `{name}` first at {mean:.2f} on average: below the confidence it should have"
        return _intent_example(replace(base, candidates=tuple(nlu[:3])), name, [s for s, _ in members], intents,
                               config, why)  # fmt: skip
    ranked, picked = _entry_candidates(members, knowledge)
    base = replace(base, candidates=tuple(ranked[:3]))
    if knowledge is not None and ranked:
        best, score = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        entry = knowledge.entry(best)
        if entry is not None and (picked or (score >= config.alternate_min_score
                                             and score - runner_up >= config.alternate_min_margin)):  # fmt: skip
            why = (
                f"customers picked entry `{best}` ({picked} of {len(members)} messages)"
                if picked
                else f"close to entry `{best}` ({score:.2f}; next {runner_up:.2f})"
            )
            fitting = [s for s, _ in members if s.chosen_entry in (None, best) and s.answered_entry != best]
            phrasings = _phrasings(fitting, members, knowledge, None, config)
            if not phrasings:
                return replace(base, kind="ignore", reason=f"{why}, and every phrasing is in the knowledge base now")
            return replace(base, kind="alternate", target=best, file=entry.file, phrasings=phrasings, reason=why,
                           key=f"alternate:{best}")  # fmt: skip
    out_of_scope = sum(1 for s, _ in members if s.intent in intent_names.OUT_OF_SCOPE_LABELS)
    if out_of_scope * 2 > len(members):
        return replace(
            base, kind="ignore", key="ignore:out_of_scope", reason="NLU took these messages for out of scope"
        )
    return _new_entry(base, members, knowledge, ranked, config)


def _base(signals: Sequence[Signal]) -> Suggestion:
    ordered = sorted(signals, key=lambda s: -s.at)
    examples = tuple(dict.fromkeys(s.text for s in ordered))[:MAX_EXAMPLES]
    kinds = Counter(k for s in signals for k in s.kinds)
    oldest = min(signals, key=lambda s: (s.at, s.key))
    return Suggestion(
        key=f"group:{oldest.key}",
        kind="ignore",
        reason="",
        count=len(signals),
        examples=examples,
        first_seen=min(s.at for s in signals),
        last_seen=max(s.at for s in signals),
        signals=dict(sorted(kinds.items())),
        signal_keys=tuple(s.key for s in signals),
    )


def _resolved(
    members: Sequence[tuple[Signal, np.ndarray]], knowledge: KnowledgeView | None, intents: IntentView | None
) -> bool:
    """Every message is handled well now: the knowledge base answers it (with another entry than the one found
    wanting, the one the customer picked if any), or the model is confident of it (the intent they confirmed)."""
    for signal, vector in members:
        answer = knowledge.answers(vector, signal.text) if knowledge is not None else None
        by_knowledge = answer is not None and answer != signal.answered_entry and signal.chosen_entry in (None, answer)
        intent = intents.confident(signal.text) if intents is not None and "low_confidence" in signal.kinds else None
        by_intent = intent is not None and intent not in NOT_LEARNABLE and signal.chosen_intent in (None, intent)
        if not (by_knowledge or by_intent):
            return False
    return bool(members)


def _intent_candidates(
    members: Sequence[tuple[Signal, np.ndarray]], learnable: frozenset[str]
) -> list[tuple[str, float]]:
    """Learnable intents NLU ranked first, by their mean confidence over the group (0 for the other messages)."""
    totals: dict[str, float] = {}
    for signal, _ in members:
        if signal.intent in learnable and signal.confidence is not None:
            totals[signal.intent] = totals.get(signal.intent, 0.0) + signal.confidence
    return sorted(((name, total / len(members)) for name, total in totals.items()), key=lambda x: -x[1])


def _mostly_tasks(members: Sequence[tuple[Signal, np.ndarray]], learnable: frozenset[str]) -> bool:
    """Most messages were taken for a task intent at low confidence (not a question for the knowledge base)."""
    tasks = sum(1 for s, _ in members if s.intent in learnable and "low_confidence" in s.kinds | _fallback(s))
    return tasks * 2 > len(members)


def _fallback(signal: Signal) -> set[str]:
    """NLU fell back (no knowledge answer either): counts as low confidence for the intent it ranked first."""
    return {"low_confidence"} if "abstention" in signal.kinds and signal.intent is not None else set()


def _entry_candidates(
    members: Sequence[tuple[Signal, np.ndarray]], knowledge: KnowledgeView | None
) -> tuple[list[tuple[str, float]], int]:
    """Entries by mean score over the group, and how many messages a customer tied to the best one. A message
    whose entry the customer picked counts 1.0 for it; an entry found wanting scores nothing for its message."""
    if knowledge is None:
        return [], 0
    totals: dict[str, float] = {}
    for signal, vector in members:
        if signal.chosen_entry is not None and knowledge.entry(signal.chosen_entry) is not None:
            totals[signal.chosen_entry] = totals.get(signal.chosen_entry, 0.0) + 1.0
            continue
        for entry_id, score in knowledge.rank(vector, signal.text, RANK_TOP_K):
            if entry_id != signal.answered_entry:
                totals[entry_id] = totals.get(entry_id, 0.0) + score
    ranked = sorted(((e, t / len(members)) for e, t in totals.items()), key=lambda x: -x[1])
    picked = sum(1 for s, _ in members if ranked and s.chosen_entry == ranked[0][0])
    return ranked, picked


def clean_phrasing(text: str) -> str | None:
    """One line, single spaces; None when too long to be a phrasing or empty."""
    line = " ".join(text.split())
    return line if line and len(line) <= MAX_PHRASING_CHARS and not is_noise(line) else None


def _phrasings(
    chosen: Sequence[Signal],
    members: Sequence[tuple[Signal, np.ndarray]],
    knowledge: KnowledgeView | None,
    intents: IntentView | None,
    config: SuggestConfig,
) -> tuple[str, ...]:
    """Distinct phrasings to add, most asked first, then closest to the group's centre; never one the
    knowledge base (or the intents) already has."""
    keys = {s.key for s in chosen}
    vectors = {s.key: v for s, v in members}
    centre = np.mean([vectors[k] for k in keys], axis=0) if keys else None
    counts = Counter(normalise_text(s.text) for s in chosen)
    found: dict[str, tuple[int, float, str]] = {}
    for signal in chosen:
        line = clean_phrasing(signal.text)
        if line is None:
            continue
        norm = normalise_question(line)
        if norm in found or (knowledge is not None and knowledge.has_phrasing(line)):
            continue
        if intents is not None and intents.has_example(line):
            continue
        closeness = float(vectors[signal.key] @ centre) if centre is not None else 0.0
        found[norm] = (counts[normalise_text(signal.text)], closeness, line)
    ordered = sorted(found.values(), key=lambda x: (-x[0], -x[1]))
    return tuple(line for _, _, line in ordered[: config.max_phrasings])


def _intent_example(
    base: Suggestion,
    name: str,
    signals: Sequence[Signal],
    intents: IntentView | None,
    config: SuggestConfig,
    why: str,
) -> Suggestion:
    lines: list[str] = []
    for signal in sorted(signals, key=lambda s: -s.at):
        line = clean_phrasing(signal.text.replace("[", "(").replace("]", ")"))
        known = line is None or normalise_question(line) in {normalise_question(x) for x in lines}
        if line is not None and not known and (intents is None or not intents.has_example(line)):
            lines.append(line)
    if not lines:
        return replace(base, kind="ignore", reason=f"{why}, and every message is an example of it now")
    return replace(base, kind="intent_example", target=name, phrasings=tuple(lines[: config.max_phrasings]),
                   reason=why, key=f"intent:{name}")  # fmt: skip


def draft_question(text: str) -> str:
    """A customer's message as a knowledge heading: one line, a capital first letter, a '?' for a question."""
    line = " ".join(text.split()).rstrip(" .")
    if not line:
        return line
    line = line[0].upper() + line[1:]
    if not line.endswith(("?", "!")) and _QUESTION_START.match(line):
        line += "?"
    return line


def _new_entry(
    base: Suggestion,
    members: Sequence[tuple[Signal, np.ndarray]],
    knowledge: KnowledgeView | None,
    ranked: Sequence[tuple[str, float]],
    config: SuggestConfig,
) -> Suggestion:
    centre = np.mean([v for _, v in members], axis=0)
    central = max(members, key=lambda m: float(m[1] @ centre))[0]
    question = draft_question(clean_phrasing(central.text) or central.text[:MAX_PHRASING_CHARS])
    others = [s for s, _ in members if normalise_question(s.text) != normalise_question(question)]
    alternates = _phrasings(others, members, knowledge, None, replace(config, max_phrasings=config.max_phrasings - 1))
    closest = knowledge.entry(ranked[0][0]) if knowledge is not None and ranked else None
    near = closest is not None and ranked[0][1] >= config.topic_min_score
    file = closest.file if near and closest is not None and closest.file.endswith(".md") else config.new_entry_file
    best = f"closest entry `{ranked[0][0]}` scores {ranked[0][1]:.2f}" if ranked else "the knowledge base is empty"
    return replace(
        base,
        kind="new_entry",
        question=question,
        phrasings=alternates,
        file=file,
        reason=f"no entry answers these ({best}): write the answer",
    )


def merge_same_change(suggestions: Sequence[Suggestion], config: SuggestConfig) -> list[Suggestion]:
    """One suggestion per entry (alternates) and per intent (examples): their groups' messages together."""
    merged: dict[str, Suggestion] = {}
    for item in suggestions:
        same = merged.get(item.key)
        if same is None:
            merged[item.key] = item
            continue
        big, small = (same, item) if same.count >= item.count else (item, same)
        signals = Counter(dict(same.signals)) + Counter(dict(item.signals))
        merged[item.key] = replace(
            big,
            count=same.count + item.count,
            examples=tuple(dict.fromkeys(big.examples + small.examples))[:MAX_EXAMPLES],
            phrasings=tuple(dict.fromkeys(big.phrasings + small.phrasings))[: config.max_phrasings],
            first_seen=min(same.first_seen, item.first_seen),
            last_seen=max(same.last_seen, item.last_seen),
            signals=dict(sorted(signals.items())),
            signal_keys=big.signal_keys + small.signal_keys,
        )
    return sorted(merged.values(), key=lambda s: (-s.count, -s.last_seen))

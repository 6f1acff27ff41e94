"""`KnowledgeResponder`: from a message embedding to an answer, a "Did you mean…", or "I don't know".

It takes the embedding the intent classifier already computed, so answering costs no second
forward pass of the model. All customer wording comes from the reply templates. Links from an answer
to another knowledge file (`[returns](returns-and-refunds.md)`) become links to that file's `url`
when the answer is rendered (`bot.faq.links`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from bot.faq.agreement import agreement, named_values, switched_kinds
from bot.faq.entry import KnowledgeEntry
from bot.faq.links import KnowledgeLinks
from bot.faq.scoring import EntryScorer, ScoredEntry
from bot.faq.templates import ANSWER_TEMPLATE, DID_YOU_MEAN_TEMPLATE, DONT_KNOW_TEMPLATE, ReplyTemplates
from bot.faq.thresholds import Thresholds
from bot.faq.unanswered import UnansweredRecorder
from bot.types import Button, KnowledgeQuery, Reply, Source

Decision = Literal["answer", "suggest", "unknown"]
HANDOFF_PAYLOAD = "/human_handoff"
AGREEMENT_BONUS = 0.05
"""Added to the score of an entry specifically about what the customer named (per kind matched)."""
REPEAT_MARGIN = 0.03
"""The entry that answered the previous message gives way to a runner-up this close to it."""


@dataclass(frozen=True)
class KnowledgeHit:
    entry: KnowledgeEntry
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.entry.id, "question": self.entry.question, "score": round(self.score, 4)}


@dataclass(frozen=True)
class KnowledgeResult:
    decision: Decision
    confidence: float
    hits: tuple[KnowledgeHit, ...]
    replies: tuple[Reply, ...]

    @property
    def top(self) -> KnowledgeHit | None:
        return self.hits[0] if self.hits else None


def source_of(entry: KnowledgeEntry) -> Source:
    return Source(id=entry.id, title=entry.title, file=entry.file, url=entry.url)


def _entry_context(entry: KnowledgeEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "question": entry.question,
        "title": entry.title,
        "url": entry.url,
        "file": entry.file,
        "tags": list(entry.tags),
    }


class KnowledgeResponder:
    """Ranks entries and renders the reply. Immutable; one per knowledge snapshot."""

    def __init__(
        self,
        entries: Sequence[KnowledgeEntry],
        answers: Mapping[str, str],
        scorer: EntryScorer,
        thresholds: Thresholds,
        templates: ReplyTemplates,
        recorder: UnansweredRecorder | None = None,
        *,
        handoff_payload: str = HANDOFF_PAYLOAD,
        top_k: int = 10,
        agreement_bonus: float = AGREEMENT_BONUS,
    ) -> None:
        self.entries = tuple(entries)
        self._positions = {entry.id: position for position, entry in enumerate(self.entries)}
        self.agreement_bonus = agreement_bonus
        self._answers = dict(answers)
        self._links = KnowledgeLinks.from_entries(self.entries)
        self.scorer = scorer
        self.thresholds = thresholds
        self._templates = templates
        self._recorder = recorder
        self._handoff = handoff_payload
        self._top_k = top_k

    def rank(self, embedding: np.ndarray, text: str, top_k: int | None = None) -> list[KnowledgeHit]:
        ranked = self.scorer.score(embedding, text, top_k or self._top_k)
        return [KnowledgeHit(self.entries[s.position], s.score) for s in ranked]

    def respond(self, embedding: np.ndarray, text: str, *, record: bool = True) -> KnowledgeResult:
        """Answer, suggest or admit not knowing. `record=False` keeps an unanswered question out of the
        staff's review list (the dialogue asks the knowledge base speculatively on abstentions)."""
        return self.answer(KnowledgeQuery(text, embedding, record=record))

    def answer(self, query: KnowledgeQuery) -> KnowledgeResult:
        """`respond` for a query that also carries the entities the customer named (an entry about
        another country, shop or product is never the answer) and, for a follow-up ("and to
        France?"), the entry that answered the previous question."""
        embedding = np.asarray(query.embedding, dtype=np.float32).reshape(-1)
        text = query.text
        named = named_values(query.entities)
        context = {k: v for k, v in named_values(query.context).items() if k not in named}
        ranked: list[ScoredEntry] = []
        if query.follow_up is not None and query.follow_up in self._positions:
            previous = self._positions[query.follow_up]
            ranked = self._ranked(self.scorer.follow_up_query(embedding, previous), text, named, context)
            switched = switched_kinds(self.entries[previous], named)
            if query.continues:  # "and paypal?" after Klarna: another entry than the one just given
                ranked = self._continued(ranked, previous, switched, named)
        if not ranked:
            ranked = self._ranked(embedding, text, named, context)
        record = query.record
        confidence = self.scorer.confidence(ranked)
        repeated = self._positions.get(query.previous or "")
        if len(ranked) > 1 and ranked[0].position == repeated and ranked[1].score >= ranked[0].score - REPEAT_MARGIN:
            ranked = [ranked[1], ranked[0], *ranked[2:]]  # a close runner-up rather than the same answer again
        hits = tuple(KnowledgeHit(self.entries[s.position], s.score) for s in ranked)
        decision: Decision = "unknown"
        if hits:
            decision = (
                "answer"
                if confidence >= self.thresholds.answer
                else ("suggest" if confidence >= self.thresholds.suggest else "unknown")
            )
        if decision == "answer":
            replies = (self._answer(hits),)
        elif decision == "suggest":
            replies = (self._suggest(hits),)
        else:
            if record and self._recorder is not None:
                self._recorder.record(text, [(h.entry.id, h.score) for h in hits[:3]], embedding)
            replies = (self._dont_know(text),)
        return KnowledgeResult(decision, confidence, hits, replies)

    def _ranked(
        self,
        embedding: np.ndarray,
        text: str,
        named: Mapping[str, frozenset[str]],
        context: Mapping[str, frozenset[str]] | None = None,
    ) -> list[ScoredEntry]:
        filtered = bool(named or context)
        ranked = self.scorer.score(embedding, text, self._top_k + (self._top_k if filtered else 0))
        return self._agreeing(ranked, named, context or {}) if filtered else ranked[: self._top_k]

    def _continued(
        self,
        ranked: Sequence[ScoredEntry],
        previous: int,
        switched: frozenset[str],
        named: Mapping[str, frozenset[str]],
    ) -> list[ScoredEntry]:
        """The candidates for a message that continues the previous question: other entries than the one
        just given, unless the message only moves that entry to a value it also covers ("what about
        Japan?" after the Canada answer); a message that moves an entry specific to a country, shop or
        product to another one ("what about the US then?") keeps the entries specific to the new one."""
        if switched and agreement(self.entries[previous], {k: named[k] for k in switched}) is not None:
            return list(ranked)
        others = [s for s in ranked if s.position != previous]
        specific = [s for s in others if all(self.entries[s.position].about_values(k) for k in switched)]
        return specific if switched and specific else others

    def _agreeing(
        self,
        ranked: Sequence[ScoredEntry],
        named: Mapping[str, frozenset[str]],
        context: Mapping[str, frozenset[str]],
    ) -> list[ScoredEntry]:
        """Entries that agree with what the customer named (now or earlier, `context`); specific matches
        of what this message names are lifted by `agreement_bonus`."""
        kept: list[ScoredEntry] = []
        for scored in ranked:
            entry = self.entries[scored.position]
            matched = agreement(entry, named)
            if matched is None or agreement(entry, context) is None:
                continue
            kept.append(replace(scored, score=scored.score + self.agreement_bonus * matched) if matched else scored)
        kept.sort(key=lambda s: -s.score)
        return kept[: self._top_k]

    def answer_text(self, entry: KnowledgeEntry) -> str:
        """The entry's answer as customers read it (variables filled in, links rewritten)."""
        return self._links.rewrite(self._answers.get(entry.id, entry.answer), entry.file)

    def focused(self, result: KnowledgeResult, passage: str) -> KnowledgeResult:
        """`result` answering with one passage of its entry's answer (`bot.faq.passage`), no related buttons."""
        if result.top is None:
            return result
        entry = result.top.entry
        text = self._templates.render(
            ANSWER_TEMPLATE, {"entry": _entry_context(entry), "answer": passage, "related": []}
        )
        reply = Reply(text=text, sources=(source_of(entry),), kind="knowledge")
        return replace(result, replies=(reply,))

    def _answer(self, hits: Sequence[KnowledgeHit]) -> Reply:
        entry = hits[0].entry
        related = [h.entry for h in hits[1:] if h.score >= self.scorer.config.related_min_score][:2]
        text = self._templates.render(
            ANSWER_TEMPLATE,
            {
                "entry": _entry_context(entry),
                "answer": self._links.rewrite(self._answers.get(entry.id, entry.answer), entry.file),
                "related": [_entry_context(e) for e in related],
            },
        )
        buttons = tuple(Button(title=e.question, payload=e.question) for e in related)
        return Reply(text=text, buttons=buttons, sources=(source_of(entry),), kind="knowledge")

    def _suggest(self, hits: Sequence[KnowledgeHit]) -> Reply:
        suggestions = [h.entry for h in hits[:3]]
        text, exports = self._templates.render_with_exports(
            DID_YOU_MEAN_TEMPLATE, {"suggestions": [_entry_context(e) for e in suggestions]}
        )
        buttons = [Button(title=e.question, payload=e.question) for e in suggestions]
        none_title = exports.get("none_button")
        if none_title:
            buttons.append(Button(title=str(none_title), payload=self._handoff))
        return Reply(text=text, buttons=tuple(buttons), kind="knowledge")

    def _dont_know(self, question: str) -> Reply:
        text, exports = self._templates.render_with_exports(DONT_KNOW_TEMPLATE, {"question": question})
        title = exports.get("handoff_button")
        buttons = (Button(title=str(title), payload=self._handoff),) if title else ()
        return Reply(text=text, buttons=buttons, kind="knowledge")

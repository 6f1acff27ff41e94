"""The unanswered-question groups of the analytics report, read from the learning suggestions
(`bot.learning`): each open or decided suggestion is one group of similar messages the bot handled badly."""

from __future__ import annotations

from collections.abc import Iterable

from bot.analytics.report import UnansweredCluster
from bot.learning.suggestions import Suggestion

LABELS = {"new_entry": "new entry", "alternate": "alternate phrasing", "intent_example": "intent example"}


def clusters_from_suggestions(suggestions: Iterable[Suggestion]) -> list[UnansweredCluster]:
    """One cluster per suggestion that is not noise (kind `ignore`), labelled by its drafted question or its
    first example."""
    found: list[UnansweredCluster] = []
    for s in suggestions:
        if s.kind == "ignore":
            continue
        label = s.question or (s.examples[0] if s.examples else s.key)
        found.append(UnansweredCluster(label, s.count, LABELS.get(s.kind, s.kind), s.first_seen, s.last_seen))
    return found

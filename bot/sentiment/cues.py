"""Phrases that raise a conversation's frustration whatever the sentiment model says of the message:
"third time I ask" (the customer says they repeat themselves), "it's been three weeks" (a long wait) and
threats to leave. Patterns, not wording
the customer reads; English first, with the common German, French, Spanish and Italian forms.
"""

from __future__ import annotations

import re
from functools import lru_cache

REPEAT_CUES = (
    r"\b(third|3rd|fourth|4th|fifth|5th|second|2nd) time\b",
    r"\b(again and again|yet again|once again)\b",
    r"\bhow many times\b",
    r"\b(i|i've|i have) (already )?(told|said|asked|explained|written|sent)\b"
    r".*\b(already|before|times|twice|yesterday)\b",
    r"\bi (just|already) (told|gave|said)\b",
    r"\b(asked|written|explained|told you) (this )?(three|four|five|3|4|5|several|many) times\b",
    r"\bthat'?s what you (said|told me)\b",
    r"\b(same|useless) answers?\b",
    r"\byou keep (telling|sending|giving|saying)\b",
    r"\b(the )?same things?\b",
    r"\b(dritte|vierte|fünfte)[ns]? mal\b",
    r"\b(drei|vier|fünf)mal\b",
    r"\bschon wieder\b",
    r"\b(troisième|quatrième) fois\b",
    r"\bencore une fois\b",
    r"\b(tercera|cuarta) vez\b",
    r"\b(terza|quarta) volta\b",
)

WAITING_CUES = (
    r"\b(it'?s been|for|since|waiting|waited) (over |more than |almost )?(\d+|two|three|four|five|six|several|many)"
    r" (days|weeks|months)\b",
    r"\bstill (waiting|no|nothing|not|broken)\b",
    r"\b(seit|über) (\d+|zwei|drei|vier|mehreren) (tagen|wochen|monaten)\b",
    r"\bdepuis (\d+|deux|trois|quatre|plusieurs) (jours|semaines|mois)\b",
    r"\btoujours pas\b",
    r"\b(desde hace|hace) (\d+|dos|tres) (días|semanas)\b",
    r"\bda (\d+|due|tre) (giorni|settimane)\b",
)

THREAT_CUES = (
    r"\b(shop|buy|order)(ing)? (somewhere|elsewhere|from someone else)\b",
    r"\bnever (again )?(order|buy|shop|come back|use)(ing)?\b.*\b(again|you|here)\b",
    r"\b(never|not) (ordering|buying|shopping)\b.*\bagain\b",
    r"\bcancel (it all|everything|my account)\b",
    r"\b(i'?m|i am) done\b",
    r"\b(i'?ve|i have) had enough\b",
    r"\bi give up\b",
    r"\b(my|the) (bank|lawyer|credit card company)\b",
    r"\bdispute the (charge|payment)\b",
    r"\b(bad|terrible|negative|1[- ]star|one[- ]star) review\b",
    r"\breport you\b",
    r"\b(formal )?complaint\b",
    r"\b(i want|get me|let me speak to) (a|the|your) manager\b",
    r"\bnie wieder\b",
    r"\b(mein(en)? )?anwalt\b",
    r"\bplus jamais\b",
    r"\bj'?en ai marre\b",
    r"\bnunca más\b",
    r"\bmai più\b",
)


@lru_cache(maxsize=8)
def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


def says_repeated(text: str, patterns: tuple[str, ...] = REPEAT_CUES) -> bool:
    """The customer says they are asking again ("third time I ask", "I already told you that yesterday")."""
    return _compiled(patterns).search(text) is not None


def says_waiting(text: str, patterns: tuple[str, ...] = WAITING_CUES) -> bool:
    """The customer says they have been waiting long ("it's been 3 weeks", "still nothing")."""
    return _compiled(patterns).search(text) is not None


def threatens_to_leave(text: str, patterns: tuple[str, ...] = THREAT_CUES) -> bool:
    """The customer threatens to leave, complain or go to their bank ("I'll shop elsewhere", "I'm done")."""
    return _compiled(patterns).search(text) is not None

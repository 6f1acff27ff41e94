"""Does an answer agree with what the customer named? ("shipping to Austria" must not get the Germany answer.)

An entry says what it is specifically about with lines such as `Country: Germany` under its question
(`KnowledgeEntry.about`). The customer's message names things through the NLU's entities. For each
kind (country, shop, product), when both sides name something and nothing matches, the entry is out;
an entry about nothing specific (no such line) stays in for every question. An entry whose specific
values match gets a small bonus, so "delivery to Austria" prefers the rest-of-the-EU entry over the
general price table. A named shop only filters: a shop's own page is specifically about that shop, yet a
question naming the shop is mostly about something else ("can I pick up my order at the Berlin shop?" is
about click & collect, "can I get the VAT back in your Paris shop?" about tax-free shopping).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.faq.entry import KnowledgeEntry

ENTITIES_OF = {"country": ("country",), "shop": ("shop",), "product": ("item", "product")}
"""For each kind an entry can be about, the NLU entities that name it."""
LIFTING_KINDS = frozenset({"country", "product"})
"""The kinds whose specific match lifts an entry (a shop named only keeps other shops' entries out)."""

_WORD = re.compile(r"\w+")


def named_values(entities: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """The customer's entities grouped by the kinds an entry can be about."""
    found: dict[str, frozenset[str]] = {}
    for kind, names in ENTITIES_OF.items():
        values = frozenset(v for name in names for v in entities.get(name, ()))
        if values:
            found[kind] = values
    return found


def _same(kind: str, said: str, about: str) -> bool:
    if said == about:
        return True
    if kind != "product":
        return False
    said_words, about_words = set(_WORD.findall(said)), set(_WORD.findall(about))
    return bool(said_words) and bool(about_words) and (about_words <= said_words or said_words <= about_words)


def agreement(entry: KnowledgeEntry, named: Mapping[str, frozenset[str]]) -> int | None:
    """None when the entry is about something else than the customer named; otherwise how many of the
    `LIFTING_KINDS` it specifically matches (0: not specific, nothing named, or only a shop matched)."""
    matched = 0
    for kind, said in named.items():
        about = entry.about_values(kind)
        if not about:
            continue
        if not any(_same(kind, s, a) for s in said for a in about):
            return None
        if kind in LIFTING_KINDS:
            matched += 1
    return matched


def switched_kinds(previous: KnowledgeEntry, named: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """The kinds a follow-up names a value of while the entry that answered before is specifically about
    that kind: "what about the US then?" after the entry about countries we don't deliver to."""
    return frozenset(kind for kind in named if previous.about_values(kind))

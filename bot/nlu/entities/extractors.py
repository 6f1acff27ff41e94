"""Entity extractors: regexes and lookup tables from the Rasa data, and the built-in extractors a
support bot needs (email, order number, weekday, amount). Dates and times: `dates`.

Output is Rasa's entity shape (`bot.types.Entity`). Nothing here touches the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from bot.nlu.entities.foreign import FOREIGN_WEEKDAY, FOREIGN_WEEKDAYS
from bot.types import Entity


class EntityExtractor(Protocol):
    name: str

    def extract(self, text: str) -> list[Entity]: ...


@dataclass
class RegexEntityExtractor:
    """Rasa's RegexEntityExtractor: `regex:` patterns whose name is the entity."""

    patterns: dict[str, list[str]]
    name: str = "RegexEntityExtractor"
    _compiled: list[tuple[str, re.Pattern[str]]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self._compiled = [(entity, re.compile(p, re.IGNORECASE)) for entity, ps in self.patterns.items() for p in ps]

    def extract(self, text: str) -> list[Entity]:
        found = []
        for entity, pattern in self._compiled:
            for m in pattern.finditer(text):
                if m.end() > m.start():
                    found.append(Entity(entity, m.group(0), m.start(), m.end(), self.name, m.group(0)))
        return found


_TOKEN = re.compile(r"[^\W\d_]+")
FUZZY_MIN_LENGTH = 6
"""Lookup values of one word at least this long also match a word one typo away ("Berln", "Londn")."""


def one_typo_apart(a: str, b: str) -> bool:
    """One letter missing, added, changed, or two neighbours swapped (Damerau, distance 1)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return a == b
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]])
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


@dataclass
class LookupEntityExtractor:
    """Lookup tables (and annotated example values) as one case-insensitive, word-bounded regex
    per entity, longest alternatives first; a one-word value of `FUZZY_MIN_LENGTH` letters or more
    also matches a word one typo away that starts with the same letter."""

    tables: dict[str, list[str]]
    name: str = "LookupEntityExtractor"
    _compiled: list[tuple[str, re.Pattern[str]]] = field(init=False, default_factory=list)
    _fuzzy: list[tuple[str, str]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        for entity, values in self.tables.items():
            words = sorted({v.strip() for v in values if v.strip()}, key=len, reverse=True)
            if words:
                alternation = "|".join(re.escape(w) for w in words)
                self._compiled.append((entity, re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE)))
            self._fuzzy.extend((entity, w.lower()) for w in words if len(w) >= FUZZY_MIN_LENGTH and _TOKEN.fullmatch(w))

    def extract(self, text: str) -> list[Entity]:
        found = []
        for entity, pattern in self._compiled:
            for m in pattern.finditer(text):
                found.append(Entity(entity, m.group(0), m.start(), m.end(), self.name, m.group(0)))
        for m in _TOKEN.finditer(text):  # "Berln", "Londn": a typo of a one-word value
            word = m.group(0).lower()
            if len(word) < FUZZY_MIN_LENGTH - 1 or any(e.start <= m.start() < e.end for e in found):
                continue
            matched: set[str] = set()  # one value per entity ("jumpr": the item and the product category)
            for entity, value in self._fuzzy:
                if entity in matched or word[0] != value[0] or word == value:
                    continue
                if one_typo_apart(word, value):
                    found.append(Entity(entity, value, m.start(), m.end(), self.name, m.group(0)))
                    matched.add(entity)
        return found


_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+(?<!\.)")


@dataclass
class EmailExtractor:
    name: str = "EmailExtractor"

    def extract(self, text: str) -> list[Entity]:
        return [
            Entity("email", m.group(0).lower(), m.start(), m.end(), self.name, m.group(0))
            for m in _EMAIL.finditer(text)
        ]


@dataclass
class OrderNumberExtractor:
    """Finds order numbers with a configurable pattern and normalises them (AN-12345)."""

    pattern: str
    format: str = "AN-{digits}"
    name: str = "OrderNumberExtractor"

    def __post_init__(self) -> None:
        self._regex = re.compile(self.pattern)

    def extract(self, text: str) -> list[Entity]:
        found = []
        for m in self._regex.finditer(text):
            digits = "".join(ch for ch in m.group(0) if ch.isdigit())
            value = self.format.format(digits=digits) if digits else m.group(0)
            found.append(Entity("order_number", value, m.start(), m.end(), self.name, m.group(0)))
        return found


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY = re.compile(
    r"(?<!\w)(mon(?:day)?|tue(?:s|sday)?|wed(?:nesday)?|thu(?:r|rs|rsday)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?)s?(?!\w)",
    re.IGNORECASE,
)


@dataclass
class WeekdayExtractor:
    name: str = "WeekdayExtractor"

    def extract(self, text: str) -> list[Entity]:
        found = []
        for m in _WEEKDAY.finditer(text):
            word = m.group(1).lower()
            if word in ("sun", "sat", "wed", "mon") and not m.group(0)[0].isupper():
                continue  # "sun", "sat" are ordinary words in lower case
            day = next(d for d in WEEKDAYS if d.startswith(word[:3]))
            found.append(Entity("weekday", day, m.start(), m.end(), self.name, m.group(0)))
        for m in FOREIGN_WEEKDAY.finditer(text):  # "Mittwoch", "sonntags", "mercredi"
            day = FOREIGN_WEEKDAYS[m.group(1).lower()]
            found.append(Entity("weekday", day, m.start(), m.end(), self.name, m.group(0)))
        return found


_CURRENCIES = {"€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR", "£": "GBP", "gbp": "GBP", "pound": "GBP",
               "pounds": "GBP", "$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD", "chf": "CHF",
               "nok": "NOK", "kr": "NOK"}  # fmt: skip
_CUR = r"(€|£|\$|eur|euros?|gbp|pounds?|usd|dollars?|chf|nok|kr)"
_NUM = r"(\d{1,7}(?:[.,]\d{1,2})?)"
_AMOUNT = re.compile(rf"(?<!\w){_CUR}\s?{_NUM}(?!\w)|(?<![\w.,]){_NUM}\s?{_CUR}(?!\w)", re.IGNORECASE)


@dataclass
class AmountExtractor:
    name: str = "AmountExtractor"

    def extract(self, text: str) -> list[Entity]:
        found = []
        for m in _AMOUNT.finditer(text):
            currency = (m.group(1) or m.group(4)).lower()
            number = (m.group(2) or m.group(3)).replace(",", ".")
            value = {"amount": float(number), "currency": _CURRENCIES[currency]}
            found.append(Entity("amount", value, m.start(), m.end(), self.name, m.group(0)))
        return found

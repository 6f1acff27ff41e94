"""Entity extraction: regexes, lookup tables and synonyms from the Rasa data, plus built-in
extractors a support bot needs (email, order number, date/time, weekday, amount).

Output is Rasa's entity shape (`bot.types.Entity`). Nothing here touches the network.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.nlu.training_data import TrainingData
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
            for entity, value in self._fuzzy:
                if word[0] == value[0] and word != value and one_typo_apart(word, value):
                    found.append(Entity(entity, value, m.start(), m.end(), self.name, m.group(0)))
                    break
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


_DATE_HINT = re.compile(
    r"\d|today|tonight|tomorrow|yesterday|noon|midnight|morning|afternoon|evening|now\b|next|this|"
    r"week|month|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun|christmas|eve",
    re.IGNORECASE,
)
_DATE_WORD = re.compile(
    r"\d|today|tonight|tomorrow|yesterday|noon|midnight|morning|afternoon|evening|now|week|month|"
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday",
    re.IGNORECASE,
)


@dataclass
class DateTimeExtractor:
    """Dates and times through dateparser, relative to now in the shop's timezone.

    The value is an ISO 8601 datetime with offset, like Duckling's `time` entity.
    """

    timezone: str = "Europe/Paris"
    languages: Sequence[str] = ("en",)
    clock: Callable[[], datetime] | None = None
    name: str = "DateParserExtractor"

    def now(self) -> datetime:
        zone = ZoneInfo(self.timezone)
        return self.clock().astimezone(zone) if self.clock else datetime.now(zone)

    def extract(self, text: str) -> list[Entity]:
        if not _DATE_HINT.search(text):
            return []
        from dateparser.search import search_dates

        now = self.now()
        settings: dict[str, Any] = {
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": now.replace(tzinfo=None),
            "TIMEZONE": self.timezone,
            "RETURN_AS_TIMEZONE_AWARE": True,
        }
        try:
            results = search_dates(text, languages=list(self.languages), settings=settings) or []
        except (ValueError, OverflowError):
            return []
        found: list[Entity] = []
        cursor = 0
        invalid = [m.span() for m in _impossible_dates(text)]
        for raw_span, moment in results:
            start = text.find(raw_span, cursor)
            if start < 0:
                continue
            cursor = start + len(raw_span)
            start, span = _trim(raw_span, start)
            if not span or not _DATE_WORD.search(span) or span.strip().isdigit() or span == "may":
                continue
            if any(a < start + len(span) and start < b for a, b in invalid):
                continue
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=ZoneInfo(self.timezone))
            found.append(Entity("time", moment.isoformat(), start, start + len(span), self.name, span))
        return found

    def warm_up(self) -> None:
        self.extract("tomorrow at 3pm")


_EDGE_WORDS = {"in", "the", "at", "on", "of", "for", "a", "an", "hours", "is", "are", "open", "and", "to", "by",
               "from", "be", "you", "we", "it", "please", "until", "till"}  # fmt: skip
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")  # fmt: skip
_DAY_MONTH = re.compile(
    r"(?<!\d)(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([a-z]{3,9})|([a-z]{3,9})\s+(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)?(?!\d)",
    re.IGNORECASE,
)
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _impossible_dates(text: str) -> list[re.Match[str]]:
    """Day-month phrases that no calendar has, like "31st of February" (dateparser drops the day)."""
    bad = []
    for m in _DAY_MONTH.finditer(text):
        day_text, month_text = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        month = next((i for i, name in enumerate(_MONTHS) if month_text.lower().startswith(name[:3])), None)
        if month is not None and not 1 <= int(day_text) <= _DAYS_IN_MONTH[month]:
            bad.append(m)
    return bad


def _trim(span: str, start: int) -> tuple[int, str]:
    """Strip filler words dateparser sometimes includes at either end of a span."""
    words = span.split(" ")
    while words and words[0].lower().strip(",.?!") in _EDGE_WORDS:
        start += len(words[0]) + 1
        words.pop(0)
    while words and words[-1].lower().strip(",.?!") in _EDGE_WORDS:
        words.pop()
    return start, " ".join(words)


def _overlaps(a: Entity, b: Entity) -> bool:
    return a.start < b.end and b.start < a.end


def resolve(entities: list[Entity]) -> list[Entity]:
    """Drop duplicates: for one entity type, the first extractor's span wins over overlapping ones."""
    kept: list[Entity] = []
    for candidate in entities:
        if any(k.entity == candidate.entity and _overlaps(k, candidate) for k in kept):
            continue
        kept.append(candidate)
    return sorted(kept, key=lambda e: (e.start, e.entity))


class EntityPipeline:
    """All extractors, in priority order, then synonym mapping.

    `values` lists each entity's canonical values (from its lookup table and annotations): a synonym
    applies to an entity only when its canonical value is one of that entity's, so "Germany" can be
    a `country` (germany) without becoming the Berlin `shop`. Entities without known values take every
    synonym, as in Rasa.
    """

    def __init__(
        self,
        extractors: Sequence[EntityExtractor],
        synonyms: dict[str, str],
        values: Mapping[str, set[str]] | None = None,
    ) -> None:
        self.extractors = list(extractors)
        self.synonyms = synonyms
        self.values = dict(values or {})

    def canonical(self, entity: str, value: str) -> str | None:
        found = self.synonyms.get(re.sub(r"\s+", " ", value.strip().lower()))
        known = self.values.get(entity)
        if found is None or (known and found.lower() not in known):
            return None
        return found

    def extract(self, text: str) -> list[Entity]:
        found: list[Entity] = []
        for extractor in self.extractors:
            found.extend(extractor.extract(text))
        result = []
        resolved = resolve(found)
        taken = [e for e in resolved if e.entity in ("amount", "order_number", "email")]
        for entity in resolved:
            if entity.entity == "time" and any(_overlaps(entity, t) for t in taken):
                continue
            if isinstance(entity.value, str):
                canonical = self.canonical(entity.entity, entity.value)
                if canonical is not None:
                    entity = Entity(entity.entity, canonical, entity.start, entity.end, entity.extractor, entity.text)
            result.append(entity)
        return result

    def warm_up(self) -> None:
        for extractor in self.extractors:
            warm = getattr(extractor, "warm_up", None)
            if warm:
                warm()

    @property
    def entity_names(self) -> set[str]:
        names = {"email", "order_number", "time", "weekday", "amount"}
        for extractor in self.extractors:
            if isinstance(extractor, RegexEntityExtractor):
                names |= set(extractor.patterns)
            elif isinstance(extractor, LookupEntityExtractor):
                names |= set(extractor.tables)
        return names


def learned_lookups(data: TrainingData) -> dict[str, list[str]]:
    """Annotated example texts become lookup values (the annotations teach the extractor)."""
    tables: dict[str, list[str]] = {}
    for entity, values in data.lookups.items():
        tables.setdefault(entity, []).extend(values)
    for example in data.examples:
        for annotation in example.entities:
            tables.setdefault(annotation.entity, []).append(annotation.text)
    for synonym, canonical in data.synonyms.items():
        # a synonym's text is worth finding for entities that have lookup data with that value
        for entity, values in list(tables.items()):
            if canonical in {v.lower() for v in values} or any(
                a.value == canonical and a.entity == entity for e in data.examples for a in e.entities
            ):
                values.append(synonym)
    return tables


def entity_values(data: TrainingData) -> dict[str, set[str]]:
    """Each lookup-or-annotated entity's canonical values, lower case (see `EntityPipeline`)."""
    synonyms = {**annotation_synonyms(data), **data.synonyms}
    annotated: dict[str, set[str]] = {}
    for example in data.examples:
        for annotation in example.entities:
            if isinstance(annotation.value, str):
                annotated.setdefault(annotation.entity, set()).add(annotation.value.lower())
    written = {e: {re.sub(r"\s+", " ", v.strip().lower()) for v in vs} for e, vs in data.lookups.items()}
    owner = {e: written.get(e, set()) | annotated.get(e, set()) for e in {*written, *annotated}}
    found: dict[str, set[str]] = {k: set(v) for k, v in annotated.items()}
    for entity, keys in written.items():
        for key in keys:
            canonical = synonyms.get(key, key).lower()
            # a synonym of another entity's value ("germany" → the Berlin shop) does not make a country a shop
            elsewhere = any(canonical in values for other, values in owner.items() if other != entity)
            found.setdefault(entity, set()).add(key if elsewhere and canonical not in owner[entity] else canonical)
    return found


def annotation_synonyms(data: TrainingData) -> dict[str, str]:
    """`[London]{"entity": "shop", "value": "london"}` also teaches the synonym London → london (as in Rasa)."""
    found: dict[str, str] = {}
    for example in data.examples:
        for annotation in example.entities:
            if annotation.value != annotation.text:
                found[re.sub(r"\s+", " ", annotation.text.strip().lower())] = annotation.value
    return found


def build_entity_pipeline(
    data: TrainingData,
    *,
    order_number_pattern: str,
    order_number_format: str = "AN-{digits}",
    timezone: str = "Europe/Paris",
    languages: Sequence[str] = ("en",),
    clock: Callable[[], datetime] | None = None,
) -> EntityPipeline:
    extractors: list[EntityExtractor] = [
        EmailExtractor(),
        OrderNumberExtractor(order_number_pattern, order_number_format),
        RegexEntityExtractor({k: v for k, v in data.regexes.items()}),
        LookupEntityExtractor(learned_lookups(data)),
        WeekdayExtractor(),
        AmountExtractor(),
        DateTimeExtractor(timezone, tuple(languages), clock),
    ]
    return EntityPipeline(extractors, {**annotation_synonyms(data), **data.synonyms}, entity_values(data))

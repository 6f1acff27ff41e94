"""Shopping entities a lookup table cannot read, because they depend on the words around them:

- `PriceBoundsExtractor`: `price_max` / `price_min` (a float, the number as written, in the shop's
  currency) from "under €200", "at least 100", "between 100 and 200", "100-200€", "around 100";
- `SizeExtractor`: `size` (S, M, L, XS, XL, XXL, numbers as strings, "one size") from "size M", "in a 38",
  "an XL", "in medium", "42 shoes", "W32" — never from "I'm", a price, a time or an order number.

Both only read text and never raise; nothing here touches I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from bot.types import Entity

# -- prices -----------------------------------------------------------------------------------------
_CUR_BEFORE = r"(?:[€£$]|eur(?:os?)?\b|gbp\b|usd\b)"
_CUR_AFTER = r"(?:[€£$]|eur(?:os?)?\b|gbp\b|usd\b|pounds?\b|dollars?\b|bucks\b|quid\b)"
_NUMBER = r"-?\d+(?:[.,]\d{3})*(?:[.,]\d{1,2})?"
_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t|tember)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_UNITS = (
    r"days?|weeks?|months?|years?|yrs?|hours?|hrs?|h|minutes?|mins?|seconds?|secs?|working|business|items?|"
    rf"pieces?|pcs|orders?|people|persons?|times?|cm|mm|kg|km|miles?|am|pm|o'clock|st|nd|rd|th|x|{_MONTHS}"
)
_NOT_A_PRICE_AFTER = rf"(?!\d|[.,/:]\d|\s*(?:(?:{_UNITS}|sizes?)\b|%))"


def _money(name: str) -> str:
    """A number with an optional currency before or after it, captured as group `name`."""
    return rf"(?:{_CUR_BEFORE}\s?)?(?P<{name}>{_NUMBER}){_NOT_A_PRICE_AFTER}(?:\s?{_CUR_AFTER})?"


def _money_with_currency(name: str) -> str:
    """A number with a currency before or after it (a bare "30-32" may be sizes, "100-200€" is a price)."""
    return rf"(?:{_CUR_BEFORE}\s?(?P<{name}>{_NUMBER})|(?P<{name}_>{_NUMBER})\s?{_CUR_AFTER}){_NOT_A_PRICE_AFTER}"


_START = r"(?<![\w.,-])"
_NOT_SIZES = r"(?<!size\s)(?<!sizes\s)"
_DASH = r"\s*(?:-|–|—|to)\s*"
_MAX_BEFORE = (
    r"under|below|(?<!no\s)(?<!not\s)less\s+than|lower\s+than|cheaper\s+than|no\s+more\s+than|not\s+more\s+than|"
    r"not\s+over|at\s+most|max(?:imum)?\.?|up\s+to|budget(?:\s+(?:of|is))?:?|<=?"
)
_MIN_BEFORE = (
    r"over|above|(?<!no\s)(?<!not\s)more\s+than|greater\s+than|higher\s+than|at\s+least|no\s+less\s+than|"
    r"not\s+less\s+than|min(?:imum)?\.?|more\s+expensive\s+than|pricier\s+than|>=?"
)
_MIN_BEFORE_OR_HOUR = r"from|starting\s+(?:at|from)"
""""from 10" is a price in "from €10" but an hour in "tomorrow from 10 to 12": see `HOURS`."""
_APPROX_BEFORE = (
    r"around|about|approx(?:imately)?\.?|roughly|circa|ca\.|~|close\s+to|in\s+the\s+region\s+of|"
    r"something\s+like|somewhere\s+around"
)
_MAX_AFTER = r"max(?:imum)?\b|or\s+(?:less|under|below|cheaper)\b|tops\b|at\s+most\b"
_MIN_AFTER = r"\+|or\s+(?:more|over|above)\b|and\s+(?:up|above|over)\b|minimum\b|upwards\b"
_APPROX_AFTER = r"-?ish\b|or\s+so\b"

# (kind, pattern, whether a bare number up to `HOURS` is an hour rather than a price); ranges first
_PATTERNS = (
    ("range", re.compile(rf"{_NOT_SIZES}\bbetween\s+{_money('low')}\s*(?:and|&|-|–|—)\s*{_money('high')}", re.I), True),
    ("range", re.compile(rf"\bfrom\s+{_money('low')}{_DASH}{_money('high')}", re.IGNORECASE), True),
    (
        "range",
        re.compile(
            rf"{_START}(?:{_money_with_currency('low')}{_DASH}{_money('high')}"
            rf"|{_money('low2')}{_DASH}{_money_with_currency('high2')})",
            re.IGNORECASE,
        ),
        False,
    ),
    ("max", re.compile(rf"(?<!\w)(?:{_MAX_BEFORE})\s*{_money('value')}", re.IGNORECASE), False),
    ("min", re.compile(rf"(?<!\w)(?:{_MIN_BEFORE})\s*{_money('value')}", re.IGNORECASE), False),
    ("min", re.compile(rf"(?<!\w)(?:{_MIN_BEFORE_OR_HOUR})\s*{_money('value')}", re.IGNORECASE), True),
    ("around", re.compile(rf"(?<!\w)(?:{_APPROX_BEFORE})\s*{_money('value')}", re.IGNORECASE), False),
    ("max", re.compile(rf"{_START}{_money('value')}\s*(?:{_MAX_AFTER})", re.IGNORECASE), False),
    ("min", re.compile(rf"{_START}{_money('value')}\s*(?:{_MIN_AFTER})", re.IGNORECASE), False),
    ("around", re.compile(rf"{_START}{_money('value')}\s*(?:{_APPROX_AFTER})", re.IGNORECASE), False),
)
_CURRENCY = re.compile(rf"{_CUR_BEFORE}|{_CUR_AFTER}", re.IGNORECASE)
HOURS = 24
"""After "from" or "between", whole numbers up to this without a currency are hours ("from 10 to 12")."""
AROUND_LOW, AROUND_HIGH = 0.8, 1.2
""""around 100" means 80 to 120."""


def parse_number(text: str) -> float:
    """ "1,200" and "1.200" are thousands, "19,90" and "19.90" decimals; a leading "-" is kept."""
    if re.fullmatch(r"-?\d{1,3}(?:[.,]\d{3})+", text):
        return float(re.sub(r"[.,]", "", text))
    return float(text.replace(",", "."))


def _group(match: re.Match[str], *names: str) -> str | None:
    groups = match.groupdict()
    for name in names:
        for key in (name, f"{name}_"):
            if groups.get(key):
                return groups[key]
    return None


@dataclass
class PriceBoundsExtractor:
    """`price_max` and `price_min`: "under 200", "from €50", "between 100 and 200" (both), "around 100"
    (80 % and 120 %). The value is the number as written (no currency conversion); a negative or reversed
    bound is kept as written, so the dialogue can answer about it."""

    name: str = "PriceBoundsExtractor"
    entities: ClassVar[tuple[str, ...]] = ("price_min", "price_max")

    def extract(self, text: str) -> list[Entity]:
        found: list[Entity] = []
        taken: list[tuple[int, int]] = []
        for kind, pattern, hour_like in _PATTERNS:
            for m in pattern.finditer(text):
                names = (("low", "low2"), ("high", "high2")) if kind == "range" else (("value",),)
                written = [_group(m, *n) for n in names]
                if None in written or any(start < m.end() and m.start() < end for start, end in taken):
                    continue
                numbers = [parse_number(str(w)) for w in written]
                if hour_like and _hours(m.group(0), numbers):
                    continue
                taken.append(m.span())
                found += self._entities(m, kind, numbers)
        return sorted(found, key=lambda e: (e.start, e.entity))

    def _entities(self, m: re.Match[str], kind: str, numbers: list[float]) -> list[Entity]:
        low: float | None
        high: float | None
        if kind == "range":
            low, high = numbers
        elif kind == "around":
            low, high = round(numbers[0] * AROUND_LOW, 2), round(numbers[0] * AROUND_HIGH, 2)
        else:
            low, high = (numbers[0], None) if kind == "min" else (None, numbers[0])
        pairs = (("price_min", low), ("price_max", high))
        return [Entity(name, v, m.start(), m.end(), self.name, m.group(0)) for name, v in pairs if v is not None]


def _hours(written: str, numbers: list[float]) -> bool:
    """ "from 10 to 12" (no currency, whole numbers up to `HOURS`) is a time, not a price."""
    return not _CURRENCY.search(written) and all(n.is_integer() and 0 <= n <= HOURS for n in numbers)


# -- sizes ------------------------------------------------------------------------------------------
_LETTER = r"(?:xxxl|xxl|xxs|xl|xs|[23]xl|s|m|l)"
_WORD = r"(?:extra[\s-]small|x-small|extra[\s-]extra[\s-]large|xx-large|extra[\s-]large|x-large|small|medium|large)"
_WORD_SIZES = {"extrasmall": "XS", "xsmall": "XS", "small": "S", "medium": "M", "large": "L", "extralarge": "XL",
               "xlarge": "XL", "extraextralarge": "XXL", "xxlarge": "XXL"}  # fmt: skip
_NUM = r"\d{1,3}(?:[.,]5)?"
_LETTER_END = r"(?![\w'’&-]|\.\w)"
# a size word ends the phrase: "in a large bag" is not a size
_WORD_END = (
    r"(?=\s*(?:$|[?!.,;:)/&]|(?:in|please|pls|plz|for|of|and|or|if|sizes?|then|too|instead|available|left|"
    r"still|at|from|thanks|thank|is|are|do|does|would|with|ones?|version|maybe|only|again)\b))"
)
_NUM_END = rf"(?![\w'’-]|[.,/:]\d|\s*(?:(?:{_UNITS}|eur(?:os?)?|pounds?|dollars?|quid|bucks)\b|[€£$%]|\+))"
_VALUE = rf"(?:(?P<letter>{_LETTER}){_LETTER_END}|(?P<word>{_WORD}){_WORD_END}|(?P<num>{_NUM}){_NUM_END})"
_NOT_AFTER = r"(?<![\w'’-])"
_SHOES = r"(?:shoes?|boots?|sneakers?|trainers?|sandals?|loafers?)\b"
_IN_WORDS = ((24, 52), (70, 110))
"""numbers read as sizes after "in" or "I'm a": jeans waists, shirt, shoe and blazer sizes, belt lengths"""
_ANY: tuple[tuple[int, int], ...] = ((0, 120),)
_NONE: tuple[tuple[int, int], ...] = ()
_CONTEXTS = (  # (pattern, the numbers it reads as a size)
    (re.compile(rf"\b(?:sizes?|sz\.?)\s*[:#]?\s*(?:(?:eu|uk|us|fr|it)\s+)?{_VALUE}", re.IGNORECASE), _ANY),
    (re.compile(rf"\bin\s+(?:an?\s+|(?:eu|uk)\s+)?{_VALUE}", re.IGNORECASE), _IN_WORDS),
    (re.compile(rf"\ban\s+(?P<letter>{_LETTER}){_LETTER_END}", re.IGNORECASE), _NONE),
    (re.compile(rf"\ba\s+(?P<word>{_WORD}){_WORD_END}", re.IGNORECASE), _NONE),
    (re.compile(rf"\b(?:i['’]?m|i\s+am|wear|wears|take|takes)\s+(?:usually\s+)?an?\s+{_VALUE}", re.I), _IN_WORDS),
    (re.compile(rf"\beu\s*(?P<num>{_NUM}){_NUM_END}", re.IGNORECASE), ((30, 50),)),
    (re.compile(rf"{_NOT_AFTER}(?P<letter>xxxl|xxl|xxs|xl|xs|[23]xl){_LETTER_END}", re.IGNORECASE), _NONE),
    (re.compile(rf"{_NOT_AFTER}{_VALUE}\s*size\b", re.IGNORECASE), _IN_WORDS),
    (re.compile(rf"{_NOT_AFTER}(?P<num>\d{{2}}(?:[.,]5)?)\s+{_SHOES}", re.IGNORECASE), ((34, 48),)),
    (re.compile(r"\bw\s?(?P<num>\d{2})(?![\d/.,:])", re.IGNORECASE), ((22, 44),)),
    (re.compile(rf"{_NOT_AFTER}(?P<num>\d{{2}})\s?w\b", re.IGNORECASE), ((22, 44),)),
    (re.compile(rf"{_NOT_AFTER}(?P<num>\d{{2}})(?:\s*(?:inch|in\.?|\"|”))?\s+waist\b", re.IGNORECASE), ((22, 44),)),
    (re.compile(r"\bwaist\s*(?:size\s*)?[:#]?\s*(?P<num>\d{2})(?![\d/.,:])", re.IGNORECASE), ((22, 44),)),
)
_WHOLE = re.compile(
    r"^\s*(?:(?:no|nope|sorry|oh|wait|actually|make\s+it|ok|okay|and)\b[\s,.!]*)*"
    rf"(?:(?P<letter>{_LETTER})|(?P<word>{_WORD})|(?P<num>\d{{2,3}}(?:[.,]5)?))\s*(?:please|pls|plz)?\s*[?!.]*\s*$",
    re.IGNORECASE,
)
_MORE = re.compile(rf"\s*(?:,|/|\bor\b|\band\b|&)\s*{_VALUE}", re.IGNORECASE)
_ONE_SIZE = re.compile(
    r"\bone[\s-]size(?:\s+fits\s+all)?\b(?!\s*(?:up|down|bigger|smaller|larger|higher|lower|too|more|less)\b)",
    re.IGNORECASE,
)


def size_value(letter: str | None, word: str | None, number: str | None) -> str:
    """The normalised size: "xl" → "XL", "2xl" → "XXL", "medium" → "M", "38,5" → "38.5"."""
    if letter:
        upper = letter.upper()
        return {"2XL": "XXL", "3XL": "XXXL"}.get(upper, upper)
    if word:
        return _WORD_SIZES[re.sub(r"[\s-]+", "", word.lower())]
    return str(number).replace(",", ".")


@dataclass
class SizeExtractor:
    """`size` read in context: "size M", "in M", "an M", "in medium", "size 40", "in a 38", "42 shoes",
    "W32" / "32 waist" (→ "32"), "one size"; XS, XL and XXL anywhere ("red dress XS london"); a message
    that is only a size ("M", "medium please", "no wait, 43") too.
    Numbers count only where a size can be meant (34–48 before "shoes"; after "in", the sizes the shop
    uses: 24–52 and belt lengths 70–110), so "under 40", "in 30 days", "at 11:30" and "AN-10001" are not
    sizes; nor is the "m" of "I'm"."""

    name: str = "SizeExtractor"
    entities: ClassVar[tuple[str, ...]] = ("size",)

    def extract(self, text: str) -> list[Entity]:
        found: list[Entity] = []
        for pattern, bounds in _CONTEXTS:
            for m in pattern.finditer(text):
                for entity in self._listed(text, m, bounds):
                    if not any(e.start < entity.end and entity.start < e.end for e in found):
                        found.append(entity)
        for m in _ONE_SIZE.finditer(text):
            if not any(e.start < m.end() and m.start() < e.end for e in found):
                found.append(Entity("size", "one size", m.start(), m.end(), self.name, m.group(0)))
        whole = _WHOLE.match(text)
        if whole and not found:
            found += self._entity(whole, _IN_WORDS)
        return sorted(found, key=lambda e: e.start)

    def _listed(self, text: str, m: re.Match[str], bounds: tuple[tuple[int, int], ...]) -> Iterator[Entity]:
        """The size of `m`, then the ones listed after it ("in S or M", "size 38, 39 or 40")."""
        entities = self._entity(m, bounds)
        while entities:
            yield from entities
            more = _MORE.match(text, entities[-1].end)
            entities = self._entity(more, _IN_WORDS) if more else []

    def _entity(self, m: re.Match[str], bounds: tuple[tuple[int, int], ...]) -> list[Entity]:
        groups = m.groupdict()
        for kind in ("letter", "word", "num"):
            if groups.get(kind):
                number = float(groups["num"].replace(",", ".")) if kind == "num" else 0.0
                if kind == "num" and not any(low <= number <= high for low, high in bounds):
                    return []
                start, end = m.span(kind)
                value = size_value(groups.get("letter"), groups.get("word"), groups.get("num"))
                return [Entity("size", value, start, end, self.name, m.group(kind))]
        return []

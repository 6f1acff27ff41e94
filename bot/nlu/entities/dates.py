"""Dates and times through dateparser, relative to now in the shop's timezone (Duckling's `time` entity).

German and French days and times ("am Mittwoch um 15 Uhr") are read through `bot.nlu.entities.foreign`."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.nlu.entities.foreign import to_english
from bot.types import Entity

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
        rewritten = to_english(text)  # "am Mittwoch um 15 Uhr" -> "on Wednesday at 15:00"
        found = self._extract(rewritten.text if rewritten else text)
        if rewritten is None:
            return found
        spans = [rewritten.span(e.start, e.end) for e in found]
        return [replace(e, start=a, end=b, text=text[a:b]) for e, (a, b) in zip(found, spans, strict=True)]

    def _extract(self, text: str) -> list[Entity]:
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

"""Reading a day and a time of day from a customer's message, for appointment slots.

The engine's `time` entity (ISO 8601 in the shop timezone, from dateparser) is used first; the
message text is the fallback. dateparser fills a missing time of day with the current one
("tomorrow" → tomorrow at the current hour), so whether a time of day was really given is decided
from the words the customer typed. Impossible dates such as "31st of February" are recognised so
the handler can say exactly what is wrong.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:\s+(\d{{4}}))?", re.I)
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b", re.I)
_TIME = re.compile(
    r"\b(?:(?P<h1>\d{1,2})[:.h](?P<m1>\d{2})\s*(?P<ap1>am|pm)?"
    r"|(?P<h2>\d{1,2})\s*(?P<ap2>am|pm|h\b|o'?clock|uhr\b)"  # "15 Uhr", "15h": German, French
    r"|(?:at|um|à|alle)\s+(?P<h3>\d{1,2})(?![\d/.:-]|st|nd|rd|th|\s*(?:am|pm|h\b|o'?clock|uhr\b)))",  # "at 7am": 7am
    re.I,
)
_WORD_TIMES = {"noon": time(12, 0), "midday": time(12, 0), "midnight": time(0, 0)}
_DATE_CUE = re.compile(
    r"\b(today|tomorrow|tonight|yesterday|day after|next|this|weekend|week|"
    r"mon|tue|wed|thu|fri|sat|sun|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b"
    r"|\b\d{1,2}(st|nd|rd|th)\b|\b\d{1,2}[/.-]\d{1,2}\b",
    re.I,
)


@dataclass(frozen=True)
class When:
    """A day, and the time of day when the customer gave one (or only a part of the day)."""

    day: date
    at: time | None = None
    part: str | None = None  # "morning" | "afternoon" | "evening", when no time was given

    def local(self, zone: ZoneInfo) -> datetime | None:
        return datetime.combine(self.day, self.at, tzinfo=zone) if self.at is not None else None


@dataclass(frozen=True)
class DayPart:
    """Only a part of the day ("afternoon", "after lunch"), no day: offer such times on the next days."""

    part: str


PARTS_OF_DAY: dict[str, tuple[time, time]] = {
    "morning": (time(0, 0), time(12, 0)),
    "afternoon": (time(12, 0), time(17, 0)),
    "evening": (time(17, 0), time(23, 59)),
}
"""Start times that belong to each part of the day (start included, end excluded)."""
_PART_WORDS = (
    ("morning", re.compile(r"\b(morning|before (noon|lunch|midday)|early)\b", re.I)),
    ("afternoon", re.compile(r"\b(afternoon|after ?(lunch|noon|midday)|lunchtime)\b", re.I)),
    ("evening", re.compile(r"\b(evening|after work|late in the day|later in the day)\b", re.I)),
)


def part_of_day(text: str) -> str | None:
    """'afternoon', 'after lunch' → afternoon; 'morning' → morning; 'after work' → evening; else None."""
    for name, pattern in _PART_WORDS:
        if pattern.search(text):
            return name
    return None


def in_part(moment: time, part: str | None) -> bool:
    """Does a start time belong to the part of the day (any time when `part` is None)?"""
    if part is None or part not in PARTS_OF_DAY:
        return True
    start, end = PARTS_OF_DAY[part]
    return start <= moment < end


@dataclass(frozen=True)
class Week:
    """A week without a day ("sometime next week"): offer its free days, from `start`."""

    start: date
    part: str | None = None


_WEEK = re.compile(r"\b(this|next|coming|following)\s+week\b|\bweek\s+after\s+next\b", re.I)


def week_in_text(text: str, today: date) -> Week | None:
    """'this week' → from today; 'next week' → from next Monday; 'the week after next' → a week later."""
    match = _WEEK.search(text)
    if match is None:
        return None
    monday = today - timedelta(days=today.weekday())
    if match.group(1) is None:
        return Week(monday + timedelta(days=14))
    return Week(today if match.group(1).lower() == "this" else monday + timedelta(days=7))


@dataclass(frozen=True)
class ImpossibleDate:
    """A date that does not exist, e.g. 31 February: `max_day` is the month's last day."""

    day: int
    month: int
    max_day: int


def time_in_text(text: str) -> time | None:
    """A time of day written in the text ("3pm", "10:30", "at 11", "noon"), or None."""
    lowered = text.lower()
    for word, value in _WORD_TIMES.items():
        if re.search(rf"\b{word}\b", lowered):
            return value
    match = _TIME.search(text)
    if match is None:
        return None
    hour = int(match.group("h1") or match.group("h2") or match.group("h3"))
    minute = int(match.group("m1") or 0)
    suffix = (match.group("ap1") or match.group("ap2") or "").lower()
    if suffix == "pm" and hour < 12:
        hour += 12
    elif suffix == "am" and hour == 12:
        hour = 0
    elif not suffix and match.group("h3") and 1 <= hour <= 7:
        hour += 12  # "at 3" means the afternoon in a shop
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def has_date_cue(text: str) -> bool:
    return _DATE_CUE.search(text) is not None


def impossible_date(text: str, year: int) -> ImpossibleDate | None:
    """'31st of February', 'April 31' → what is wrong; None when the text names no impossible date."""
    for pattern, day_group, month_group, year_group in ((_DAY_MONTH, 1, 2, 3), (_MONTH_DAY, 2, 1, 3)):
        for match in pattern.finditer(text):
            day = int(match.group(day_group))
            month = MONTHS.index(match.group(month_group).lower()[:3]) + 1
            in_year = int(match.group(year_group)) if match.group(year_group) else year
            last = calendar.monthrange(in_year, month)[1]
            if day < 1 or day > last:
                return ImpossibleDate(day, month, last)
    return None


_ORDINAL = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)\b", re.I)
_MONTH_WORD = re.compile(rf"\b{_MONTH}", re.I)


def _ordinal_day(text: str, today: date) -> date | None:
    """'the 14th' (no month named): the next such day of a month, today included."""
    match = _ORDINAL.search(text)
    if match is None or _MONTH_WORD.search(text):
        return None
    day = int(match.group(1))
    year, month = today.year, today.month
    for _ in range(13):
        if day <= calendar.monthrange(year, month)[1] and date(year, month, day) >= today:
            return date(year, month, day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _parse_text(text: str, now_local: datetime, languages: list[str]) -> datetime | None:
    import dateparser  # imported on first use: it is slow to import
    from dateparser.search import search_dates

    settings = {"PREFER_DATES_FROM": "future", "RELATIVE_BASE": now_local.replace(tzinfo=None)}
    parsed = dateparser.parse(text, languages=languages, settings=settings)
    if isinstance(parsed, datetime):
        return parsed
    found = search_dates(text, languages=languages, settings=settings) or []
    useful = [(span, value) for span, value in found if has_date_cue(span) or re.search(r"\d", span)]
    if not useful:
        return None
    span, value = max(useful, key=lambda item: len(item[0]))
    return value if isinstance(value, datetime) else None


def read_when(
    text: str,
    entity_value: str | None,
    entity_span: str,
    zone: ZoneInfo,
    now: datetime,
    *,
    known_day: date | None = None,
    languages: list[str] | None = None,
    weekday: str | None = None,
) -> When | DayPart | Week | ImpossibleDate | None:
    """The day and time a customer asked for, or what is wrong with it (None = nothing readable).

    `known_day` is the day already chosen earlier in the form: a bare time ("3pm") or a part of the
    day ("afternoon") applies to it. `weekday` is the day of the week the customer named ("tues",
    "mercredi"): it means the next such day, whatever the date parser made of the rest.
    """
    today = now.astimezone(zone).date()
    week = week_in_text(text, today) if weekday is None and time_in_text(text) is None else None
    part = part_of_day(text)
    if week is not None and not (_DAY_MONTH.search(text) or _MONTH_DAY.search(text) or _ORDINAL.search(text)):
        return Week(week.start, part)
    found = _read_when(text, entity_value, entity_span, zone, now, known_day, languages)
    found = _on_weekday(found, weekday, today, text)
    found = _weekday_already_past(found, weekday, now.astimezone(zone), text)
    if part is None or (isinstance(found, When) and found.at is not None):
        return found
    if isinstance(found, When):
        return When(found.day, None, part)
    if found is None:
        return When(known_day, None, part) if known_day is not None else DayPart(part)
    return found


def _read_when(
    text: str,
    entity_value: str | None,
    entity_span: str,
    zone: ZoneInfo,
    now: datetime,
    known_day: date | None,
    languages: list[str] | None,
) -> When | ImpossibleDate | None:
    now_local = now.astimezone(zone)
    wrong = impossible_date(text, now_local.year)
    if wrong is not None:
        return wrong
    words = entity_span or text
    typed_time = time_in_text(words) or time_in_text(text)
    entity_day = _iso_day(entity_value)
    bare_time = typed_time is not None and not has_date_cue(words) and not has_date_cue(text)
    if bare_time and typed_time is not None:
        # "3pm": the day chosen before, else the day dateparser picked (tomorrow once 3pm has passed), else today
        return When(known_day or entity_day or now_local.date(), typed_time)
    relative = _relative_day(text, now_local.date())
    if relative is not None:  # "yesterday 3pm" at a London shop while Berlin is already past midnight
        return When(relative, typed_time)
    ordinal = _ordinal_day(text, now_local.date())
    if ordinal is not None and not entity_value:
        return When(ordinal, typed_time)
    moment: datetime | None = None
    if entity_value:
        try:
            moment = datetime.fromisoformat(entity_value)
        except ValueError:
            moment = None
    date_words = _TIME.sub(" ", text).strip()  # "Dec 24 at 11": 11 is a time, not a year
    if moment is None and date_words:
        moment = _parse_text(date_words, now_local, languages or ["en"])
    if moment is None:
        if typed_time is not None:
            return When(known_day or now_local.date(), typed_time)
        return None
    local = moment.replace(tzinfo=zone)  # the wall-clock time the customer said, in the shop's zone
    if typed_time is not None:
        return When(local.date(), typed_time)
    if entity_value and not entity_span and local.time() != time(0, 0):
        return When(local.date(), local.time().replace(second=0, microsecond=0))  # a button payload
    return When(local.date())


_RELATIVE_DAYS = (("day after tomorrow", 2), ("tomorrow", 1), ("today", 0), ("tonight", 0), ("yesterday", -1))
_RELATIVE = re.compile(r"\b(" + "|".join(word for word, _ in _RELATIVE_DAYS) + r")\b", re.I)


def _relative_day(text: str, today: date) -> date | None:
    """The day "today", "tomorrow", "yesterday" name in the SHOP's timezone: the date parser counts them from
    the default timezone's date, a day off for London between 23:00 and midnight."""
    found = _RELATIVE.search(text)
    if found is None:
        return None
    offset = dict(_RELATIVE_DAYS)[found.group(1).lower()]
    return today + timedelta(days=offset)


WEEKDAY_HORIZON = 14
"""A day the parser found on the named weekday within this many days is kept ("next tuesday")."""


def named_weekday(text: str) -> str | None:
    """The day of the week the text names last ("not tuesday, wednesday"), in English, German or French."""
    from bot.nlu.entities.extractors import WeekdayExtractor  # the same words the NLU reads

    found = WeekdayExtractor().extract(text)
    return str(found[-1].value) if found else None


def next_weekday(weekday: str, today: date) -> date:
    """The next `weekday` ("wednesday"), today included."""
    return today + timedelta(days=(WEEKDAYS.index(weekday) - today.weekday()) % 7)


def _on_weekday(
    found: When | ImpossibleDate | None, weekday: str | None, today: date, text: str
) -> When | ImpossibleDate | None:
    """A named weekday wins over a date the parser made up ("wednesday at 10" read as 10 October), unless
    the customer wrote a date of their own ("Wednesday 16 December", "the 16th")."""
    if weekday not in WEEKDAYS or isinstance(found, ImpossibleDate):
        return found
    if (
        found is not None
        and (0 <= (found.day - today).days < WEEKDAY_HORIZON)
        and found.day.weekday() == WEEKDAYS.index(weekday)
    ):
        return found
    if found is not None and (_DAY_MONTH.search(text) or _MONTH_DAY.search(text) or _ORDINAL.search(text)):
        return found
    day = next_weekday(weekday, today)
    return When(day, found.at, found.part) if found is not None else When(day)


_TODAY = re.compile(r"\b(today|tonight|heute|aujourd'hui)\b", re.I)


def _weekday_already_past(
    found: When | ImpossibleDate | None, weekday: str | None, now_local: datetime, text: str
) -> When | ImpossibleDate | None:
    """A named weekday with a time that has passed today ("this sunday at 3pm" typed on Sunday evening): the
    customer means next week's. "today at 3pm" stays today (and is refused)."""
    if weekday not in WEEKDAYS or not isinstance(found, When) or found.at is None or _TODAY.search(text):
        return found
    if found.day != now_local.date() or found.at > now_local.time():
        return found
    return When(found.day + timedelta(days=7), found.at, found.part)


def _iso_day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        return None

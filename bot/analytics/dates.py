"""The date range a report or a search covers: whole days in the shop's timezone, both ends included."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from bot.errors import SupportbotError

DEFAULT_DAYS = 7
MAX_DAYS = 366


class DateRangeError(SupportbotError):
    """A date range that cannot be read: a bad date, the end before the start, or too long. The message
    says which and how to fix it (it is shown on the page as it is)."""


@dataclass(frozen=True)
class DateRange:
    """From `start` to `end`, both included, as days of `zone`."""

    start: date
    end: date
    zone: tzinfo = UTC

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise DateRangeError(
                f"the range ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()}): "
                "swap the two dates"
            )
        if self.days > MAX_DAYS:
            raise DateRangeError(f"the range covers {self.days} days; choose at most {MAX_DAYS}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def bounds(self) -> tuple[float, float]:
        """Epoch seconds `[from, to)`: midnight starting `start` to midnight ending `end`, in `zone`."""
        begin = datetime.combine(self.start, time(0), self.zone)
        finish = datetime.combine(self.end + timedelta(days=1), time(0), self.zone)
        return begin.timestamp(), finish.timestamp()

    def each_day(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def local(self, timestamp: float) -> datetime:
        return datetime.fromtimestamp(timestamp, self.zone)


def parse_day(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as e:
        raise DateRangeError(f"the {what} date {value!r} is not a date: write it as YYYY-MM-DD") from e


def parse_range(start: str | None, end: str | None, *, today: date, zone: str | tzinfo = UTC) -> DateRange:
    """The range of a page's `start` and `end` (YYYY-MM-DD); by default the last `DEFAULT_DAYS` days up to
    `today`. A missing start is `DEFAULT_DAYS` days before the end. Raises `DateRangeError`."""
    tz = ZoneInfo(zone) if isinstance(zone, str) else zone
    last = parse_day(end, "end") if end else today
    first = parse_day(start, "start") if start else last - timedelta(days=DEFAULT_DAYS - 1)
    return DateRange(first, last, tz)

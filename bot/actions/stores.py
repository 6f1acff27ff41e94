"""The shops and their opening hours, from the editable `knowledge/stores.yml`.

Loading validates everything and raises `KnowledgeError` listing each problem with the file and the
field (`shops.berlin.hours.monday[0]`) and how to fix it. `get_stores()` reloads the file when it
changes, so staff edits apply without a restart.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.config import get_settings
from bot.errors import KnowledgeError, Problem

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
COUNTRY_CODES = {"france": "FR", "germany": "DE", "united kingdom": "GB", "uk": "GB", "england": "GB"}
"""The `country` entity's values (intents/nlu/entities.yml) of the shops' countries, as stores.yml codes."""
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class TimeRange:
    start: time
    end: time

    def contains(self, moment: time) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True)
class DayHours:
    """The hours of one calendar day; `special` when an exception of stores.yml applies."""

    ranges: tuple[TimeRange, ...]
    note: str | None = None
    special: bool = False

    @property
    def closed(self) -> bool:
        return not self.ranges

    @property
    def opens(self) -> time | None:
        return self.ranges[0].start if self.ranges else None

    @property
    def closes(self) -> time | None:
        return self.ranges[-1].end if self.ranges else None


@dataclass(frozen=True)
class Shop:
    key: str
    name: str
    timezone: ZoneInfo
    weekly: Mapping[int, tuple[TimeRange, ...]]
    exceptions: Mapping[date, DayHours] = field(default_factory=dict)
    address: str = ""
    country: str = ""
    phone: str = ""

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.timezone)

    def hours_on(self, day: date) -> DayHours:
        special = self.exceptions.get(day)
        if special is not None:
            return special
        return DayHours(self.weekly.get(day.weekday(), ()))

    def open_range_at(self, moment: datetime) -> TimeRange | None:
        """The opening range containing `moment` (any timezone), or None when closed."""
        local = self.local(moment)
        hours = self.hours_on(local.date())
        return next((r for r in hours.ranges if r.contains(local.time().replace(tzinfo=None))), None)

    def next_opening(self, moment: datetime, horizon_days: int = 31) -> datetime | None:
        """The next time the shop opens strictly after `moment`, within the horizon."""
        local = self.local(moment)
        for offset in range(horizon_days + 1):
            day = local.date() + timedelta(days=offset)
            for r in self.hours_on(day).ranges:
                start = datetime.combine(day, r.start, tzinfo=self.timezone)
                if start > local:
                    return start
        return None

    def exceptions_between(self, first: date, last: date) -> list[tuple[date, DayHours]]:
        return sorted((d, h) for d, h in self.exceptions.items() if first <= d <= last)


@dataclass(frozen=True)
class Stores:
    timezone_default: ZoneInfo
    shops: Mapping[str, Shop]
    source: str = "stores.yml"

    def in_country(self, country: str, keys: tuple[str, ...]) -> Shop | None:
        """The one shop among `keys` in the country named ("the one in germany"), else None."""
        code = COUNTRY_CODES.get(country.strip().lower(), country.strip().upper())
        found = [self.shops[k] for k in keys if k in self.shops and self.shops[k].country == code]
        return found[0] if len(found) == 1 else None

    def shop(self, key: str) -> Shop:
        try:
            return self.shops[key]
        except KeyError as e:
            raise KnowledgeError(
                [Problem(self.source, None, f"no shop '{key}'", f"use one of: {', '.join(self.shops)}")]
            ) from e


# Parsing -----------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def error(self, where: str, message: str, fix: str) -> None:
        self.problems.append(Problem(self.file, None, f"{where}: {message}", fix))

    def zone(self, value: Any, where: str) -> ZoneInfo | None:
        if not isinstance(value, str) or not value:
            self.error(where, f"timezone {value!r} is not a name", "write an IANA name such as Europe/Paris")
            return None
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            self.error(where, f"unknown timezone {value!r}", "write an IANA name such as Europe/Berlin")
            return None

    def ranges(self, value: Any, where: str) -> tuple[TimeRange, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.error(where, f"expected a list of ranges, got {value!r}", 'write ["10:00-19:30"] or [] (closed)')
            return ()
        out: list[TimeRange] = []
        for i, raw in enumerate(value):
            match = _RANGE.match(str(raw))
            fix = 'write it as "HH:MM-HH:MM", e.g. "10:00-19:30"'
            if match is None:
                self.error(f"{where}[{i}]", f"{raw!r} is not an opening range", fix)
                continue
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            try:
                r = TimeRange(time(h1, m1), time(h2, m2))
            except ValueError:
                self.error(f"{where}[{i}]", f"{raw!r} has an impossible time", fix)
                continue
            if r.start >= r.end:
                self.error(f"{where}[{i}]", f"{raw!r} closes before it opens", "put the opening time first")
                continue
            out.append(r)
        out.sort(key=lambda r: r.start)
        for a, b in zip(out, out[1:], strict=False):
            if b.start < a.end:
                self.error(where, f"ranges {a.start:%H:%M}-{a.end:%H:%M} and {b.start:%H:%M} overlap", "merge them")
        return tuple(out)

    def exceptions(self, value: Any, where: str) -> dict[date, DayHours]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(where, "expected a mapping of dates", 'write "2026-12-24": {hours: ["10:00-16:00"], note: ...}')
            return {}
        out: dict[date, DayHours] = {}
        for key, spec in value.items():
            here = f"{where}.{key}"
            try:
                day = key if isinstance(key, date) else date.fromisoformat(str(key))
            except ValueError:
                self.error(here, f"{key!r} is not a date", 'write the date as "YYYY-MM-DD", e.g. "2026-12-24"')
                continue
            if not isinstance(spec, dict) or "hours" not in spec:
                self.error(here, "missing 'hours'", 'write {hours: ["10:00-16:00"], note: ...} or {hours: []}')
                continue
            note = spec.get("note")
            if note is not None and not isinstance(note, str):
                self.error(f"{here}.note", f"{note!r} is not text", "quote the note")
                note = None
            out[day] = DayHours(self.ranges(spec["hours"], f"{here}.hours"), note, special=True)
        return out

    def shop(self, key: str, spec: Any, default_zone: ZoneInfo | None) -> Shop | None:
        where = f"shops.{key}"
        if not isinstance(spec, dict):
            self.error(where, "expected a mapping", "give the shop name, timezone, hours and exceptions")
            return None
        name = spec.get("name")
        if not isinstance(name, str) or not name.strip():
            self.error(f"{where}.name", "missing", "give the shop a display name")
            name = key
        zone = self.zone(spec["timezone"], f"{where}.timezone") if "timezone" in spec else default_zone
        hours = spec.get("hours")
        weekly: dict[int, tuple[TimeRange, ...]] = {}
        if not isinstance(hours, dict):
            self.error(f"{where}.hours", "missing", 'list every weekday, e.g. monday: ["10:00-19:30"], sunday: []')
        else:
            for extra in set(hours) - set(WEEKDAYS):
                self.error(f"{where}.hours.{extra}", "is not a weekday", f"use one of: {', '.join(WEEKDAYS)}")
            for index, day_name in enumerate(WEEKDAYS):
                if day_name not in hours:
                    self.error(f"{where}.hours", f"'{day_name}' is missing", f"add {day_name}: [] if closed")
                weekly[index] = self.ranges(hours.get(day_name), f"{where}.hours.{day_name}")
        exceptions = self.exceptions(spec.get("exceptions"), f"{where}.exceptions")
        if zone is None:
            return None
        return Shop(
            key=key,
            name=name,
            timezone=zone,
            weekly=weekly,
            exceptions=exceptions,
            address=str(spec.get("address") or ""),
            country=str(spec.get("country") or ""),
            phone=str(spec.get("phone") or ""),
        )


def parse_stores(data: Any, file: str) -> Stores:
    """Validate already-parsed YAML. Raises KnowledgeError naming every bad field."""
    parser = _Parser(file)
    if not isinstance(data, dict):
        raise KnowledgeError([Problem(file, None, "expected a mapping at the top", "start with `shops:`")])
    default_zone = parser.zone(data.get("timezone_default", "Europe/Paris"), "timezone_default")
    shops_raw = data.get("shops")
    shops: dict[str, Shop] = {}
    if not isinstance(shops_raw, dict) or not shops_raw:
        parser.error("shops", "missing or empty", "list the shops under `shops:` (paris, berlin, ...)")
    else:
        for key, spec in shops_raw.items():
            shop = parser.shop(str(key), spec, default_zone)
            if shop is not None:
                shops[shop.key] = shop
    if parser.problems:
        raise KnowledgeError(parser.problems)
    assert default_zone is not None
    return Stores(default_zone, shops, file)


def load_stores(path: Path) -> Stores:
    """Read and validate a stores file. Raises KnowledgeError with the file and field of each problem."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise KnowledgeError(
            [
                Problem(
                    file, None, "file not found", "create it (see knowledge/README.md) or set SUPPORTBOT_KNOWLEDGE_DIR"
                )
            ]
        ) from e
    except (OSError, UnicodeDecodeError) as e:
        raise KnowledgeError([Problem(file, None, f"cannot read: {e}", "save it as UTF-8 text")]) from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise KnowledgeError(
            [Problem(file, line, f"YAML syntax error: {e}", 'check indentation and quote times like "10:00-19:30"')]
        ) from e
    return parse_stores(data, file)


_cache: dict[Path, tuple[int, Stores]] = {}
_cache_lock = threading.Lock()


def default_stores_path() -> Path:
    return get_settings().knowledge_path / "stores.yml"


def get_stores(path: Path | None = None) -> Stores:
    """The stores of `path` (default: knowledge/stores.yml), reloaded when the file changes."""
    target = path or default_stores_path()
    try:
        stamp = target.stat().st_mtime_ns
    except OSError:
        return load_stores(target)  # raises a KnowledgeError naming the file
    with _cache_lock:
        cached = _cache.get(target)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    stores = load_stores(target)
    with _cache_lock:
        _cache[target] = (stamp, stores)
    return stores

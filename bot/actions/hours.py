"""`action_store_hours`: opening hours of the shops and customer service, timezone-aware.

Understands four kinds of question, from the entities of the latest message:
"are you open now?" (now), "hours on December 24th" / "when do you close today" (a date),
"hours on Sunday" (a weekday: the usual hours), and "opening hours?" (the whole week, with the
special days coming up). A follow-up such as "and in London?" reuses the previous question
(kept in the `hours_query` slot) with what the new message changes.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.actions._common import (
    DomainDict,
    Events,
    ShopAction,
    Wording,
    entity_text,
    latest_entities,
    latest_entity,
    latest_intent,
    latest_text,
    utter,
)
from bot.actions.stores import WEEKDAYS, DayHours, Shop, Stores
from bot.actions.when import has_date_cue, read_when
from bot.customers.identity import CUSTOMER_SHOP_SLOT

SPECIALS_AHEAD_DAYS = 31
MAX_SPECIALS = 6
_NOW = re.compile(r"\b(now|right now|currently|at the moment|still open|open yet)\b", re.I)
_FOLLOW_UP = re.compile(r"^\s*(and|what about|how about|same for|also)\b", re.I)


@dataclass(frozen=True)
class HoursQuery:
    """What was asked: kind is now | date | weekday | week; `shop` None means every shop."""

    kind: str = "week"
    shop: str | None = None
    day: str | None = None  # ISO date for kind=date
    weekday: int | None = None  # 0 = Monday, for kind=weekday

    @classmethod
    def from_slot(cls, value: Any) -> HoursQuery | None:
        if not isinstance(value, dict) or value.get("kind") not in ("now", "date", "weekday", "week"):
            return None
        return cls(value["kind"], value.get("shop"), value.get("day"), value.get("weekday"))


def read_query(tracker: Tracker, stores: Stores, now: datetime) -> HoursQuery:
    """The question of the latest message, completed by the previous one for a follow-up (see `preferred_shop`
    for a question without a shop from a customer whose shop is remembered)."""
    text = latest_text(tracker)
    shop = latest_entity(tracker, "shop")
    shop = shop if isinstance(shop, str) and shop in stores.shops else None
    asked = _asked_time(tracker, text, stores, now)
    previous = HoursQuery.from_slot(tracker.get_slot("hours_query"))
    follow_up = previous is not None and (
        latest_intent(tracker) == "inform"
        or (_FOLLOW_UP.match(text) is not None and (asked is None or shop is None))  # "and on sundays?"
    )
    if follow_up and previous is not None:
        base = asked or previous
        return replace(base, shop=shop or previous.shop)
    return replace(asked or HoursQuery(), shop=shop)


def _asked_time(tracker: Tracker, text: str, stores: Stores, now: datetime) -> HoursQuery | None:
    if _NOW.search(text):
        return HoursQuery("now")
    weekday = latest_entity(tracker, "weekday")
    times = latest_entities(tracker, "time")
    span = entity_text(tracker, times[0]) if times else ""
    if isinstance(weekday, str) and weekday in WEEKDAYS:
        other_cue = has_date_cue(re.sub(weekday[:3] + r"[a-z]*", " ", text, flags=re.I))
        if not other_cue:
            return HoursQuery("weekday", weekday=WEEKDAYS.index(weekday))
    value = times[0].get("value") if times else None
    if isinstance(value, str) or has_date_cue(text):
        found = read_when(text, value if isinstance(value, str) else None, span, stores.timezone_default, now)
        if found is not None and hasattr(found, "day") and isinstance(found.day, date):
            return HoursQuery("date", day=found.day.isoformat())
    return None


def preferred_shop(tracker: Tracker, stores: Stores, query: HoursQuery) -> HoursQuery | None:
    """The question for the customer's remembered shop (`customer_shop`), when it names no shop and follows
    up no question about one; None otherwise."""
    preferred = tracker.get_slot(CUSTOMER_SHOP_SLOT)
    if query.shop is not None or not isinstance(preferred, str) or preferred not in stores.shops:
        return None
    return replace(query, shop=preferred)


class HoursFormatter:
    """Turns shop hours into the words of `task_formats`."""

    def __init__(self, wording: Wording) -> None:
        self.w = wording

    def hours(self, day: DayHours) -> str:
        if day.closed:
            return str(self.w.get("closed"))
        parts = [self.w.fill("range", start=self.w.time(r.start), end=self.w.time(r.end)) for r in day.ranges]
        return str(self.w.get("range_separator")).join(parts)

    def schedule(self, shop: Shop) -> str:
        """Usual week, consecutive days with equal hours grouped: 'Mon–Fri 10:00–19:30, Sun closed'."""
        short = self.w.get("weekdays_short")
        groups: list[tuple[int, int, str]] = []
        for index in range(7):
            text = self.hours(DayHours(shop.weekly.get(index, ())))
            if groups and groups[-1][2] == text and groups[-1][1] == index - 1:
                groups[-1] = (groups[-1][0], index, text)
            else:
                groups.append((index, index, text))
        parts = []
        for first, last, text in groups:
            days = short[first] if first == last else self.w.fill("day_range", first=short[first], last=short[last])
            parts.append(self.w.fill("schedule_part", days=days, hours=text))
        return str(self.w.get("list_separator")).join(parts)

    def next_open(self, shop: Shop, now: datetime) -> str:
        opening = shop.next_opening(now)
        if opening is None:
            return str(self.w.get("next_open_unknown"))
        today = shop.local(now).date()
        if opening.date() == today:
            return self.w.fill("next_open_today", time=self.w.time(opening))
        if opening.date() == today + timedelta(days=1):
            return self.w.fill("next_open_tomorrow", time=self.w.time(opening))
        return self.w.fill("next_open_later", date=self.w.date(opening.date()), time=self.w.time(opening))


class ActionStoreHours(ShopAction):
    def name(self) -> str:
        return "action_store_hours"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Events:
        stores = self.deps.stores
        now = self.deps.now()
        query = read_query(tracker, stores, now)
        remembered = preferred_shop(tracker, stores, query)
        query = remembered or query
        shops = [stores.shops[query.shop]] if query.shop else list(stores.shops.values())
        answer = _Answer(dispatcher, HoursFormatter(Wording(domain)), now)
        if query.kind == "now":
            answer.now(shops)
        elif query.kind == "date" and query.day:
            answer.on_date(shops, date.fromisoformat(query.day), stores)
        elif query.kind == "weekday" and query.weekday is not None:
            answer.on_weekday(shops, query.weekday, stores)
        else:
            answer.week(shops, stores)
        if remembered is not None:
            utter(dispatcher, "utter_hours_your_shop", shop_name=shops[0].name)
        return [SlotSet("hours_query", asdict(query))]


class _Answer:
    def __init__(self, dispatcher: CollectingDispatcher, fmt: HoursFormatter, now: datetime) -> None:
        self.d = dispatcher
        self.f = fmt
        self.w = fmt.w
        self.moment = now

    def now_open(self, shop: Shop) -> tuple[bool, dict[str, str]]:
        local = shop.local(self.moment)
        current = shop.open_range_at(self.moment)
        values = {"shop_name": shop.name, "local_time": self.w.time(local)}
        if current is not None:
            return True, {**values, "closes": self.w.time(current.end)}
        return False, {**values, "next_open": self.f.next_open(shop, self.moment)}

    def now(self, shops: list[Shop]) -> None:
        if len(shops) == 1:
            is_open, values = self.now_open(shops[0])
            utter(self.d, "utter_hours_open_now" if is_open else "utter_hours_closed_now", **values)
            return
        lines = []
        for shop in shops:
            is_open, values = self.now_open(shop)
            lines.append(self.w.fill("now_open_line" if is_open else "now_closed_line", **values))
        utter(self.d, "utter_hours_now_all", lines=self.w.lines(lines))

    def on_date(self, shops: list[Shop], day: date, stores: Stores) -> None:
        today = self.moment.astimezone(stores.timezone_default).date()
        if day < today:
            utter(self.d, "utter_hours_date_past", date=self.w.date(day))
            return
        if len(shops) == 1:
            shop = shops[0]
            hours = shop.hours_on(day)
            values = {"shop_name": shop.name, "date": self.w.date(day), "hours": self.f.hours(hours)}
            kind = "closed" if hours.closed else "open"
            if hours.note:
                utter(self.d, f"utter_hours_date_special_{kind}", note=hours.note, **values)
            else:
                utter(self.d, f"utter_hours_date_{kind}", **values)
            if day == shop.local(self.moment).date() and not hours.closed:
                is_open, now_values = self.now_open(shop)
                utter(self.d, "utter_hours_open_now" if is_open else "utter_hours_closed_now", **now_values)
            return
        lines = []
        for shop in shops:
            hours = shop.hours_on(day)
            key = "day_line_note" if hours.note else "day_line"
            lines.append(self.w.fill(key, shop_name=shop.name, hours=self.f.hours(hours), note=hours.note or ""))
        utter(self.d, "utter_hours_date_all", date=self.w.date(day), lines=self.w.lines(lines))

    def on_weekday(self, shops: list[Shop], weekday: int, stores: Stores) -> None:
        plural = self.w.weekday_plural(weekday)
        if len(shops) == 1:
            shop = shops[0]
            hours = self.f.hours(DayHours(shop.weekly.get(weekday, ())))
            utter(self.d, "utter_hours_weekday", shop_name=shop.name, weekday_plural=plural, hours=hours)
        else:
            lines = [
                self.w.fill(
                    "day_line", shop_name=s.name, hours=self.f.hours(DayHours(s.weekly.get(weekday, ()))), note=""
                )
                for s in shops
            ]
            utter(self.d, "utter_hours_weekday_all", weekday_plural=plural, lines=self.w.lines(lines))
        today = self.moment.astimezone(stores.timezone_default).date()
        upcoming = today + timedelta(days=(weekday - today.weekday()) % 7)
        self.specials(shops, upcoming, upcoming)

    def week(self, shops: list[Shop], stores: Stores) -> None:
        if len(shops) == 1:
            shop = shops[0]
            utter(
                self.d,
                "utter_hours_week_shop",
                shop_name=shop.name,
                address=shop.address,
                schedule=self.f.schedule(shop),
            )
        else:
            lines = [self.w.fill("week_line", shop_name=s.name, schedule=self.f.schedule(s)) for s in shops]
            utter(self.d, "utter_hours_week_all", lines=self.w.lines(lines))
        today = self.moment.astimezone(stores.timezone_default).date()
        self.specials(shops, today, today + timedelta(days=SPECIALS_AHEAD_DAYS))

    def specials(self, shops: list[Shop], first: date, last: date) -> None:
        found = sorted(
            ((day, shop, hours) for shop in shops for day, hours in shop.exceptions_between(first, last)),
            key=lambda item: (item[0], item[1].key),
        )
        if not found:
            return
        lines = [
            self.w.fill(
                "special_line",
                date=self.w.date(day),
                shop_name=shop.name,
                hours=self.f.hours(hours),
                note=hours.note or "",
            )
            for day, shop, hours in found[:MAX_SPECIALS]
        ]
        utter(self.d, "utter_hours_specials", lines=self.w.lines(lines))

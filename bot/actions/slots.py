"""Appointment slots: which times are free, and checking a requested day/time with a precise correction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from rasa_sdk.executor import CollectingDispatcher

from bot.actions._common import Deps, Wording, utter
from bot.actions.backend.protocol import ShopBackend
from bot.actions.stores import Shop
from bot.actions.when import DayPart, ImpossibleDate, Week, When, in_part

APPOINTMENT_SHOPS = ("paris", "berlin", "london")
APPOINTMENT_MINUTES = 45
BOOKING_DAYS = 14
"""Appointments can be booked from today to today + BOOKING_DAYS - 1."""


def free_times(backend: ShopBackend, shop: Shop, day: date, now: datetime) -> list[datetime]:
    """Free slot starts of `shop` on `day`, in the shop's local time, later than `now`."""
    start = datetime.combine(day, time(0), tzinfo=shop.timezone)
    slots = backend.list_slots(shop.key, start, start + timedelta(days=1))
    return [s.starts_at.astimezone(shop.timezone) for s in slots if not s.booked and s.starts_at > now]


def next_free_days(
    backend: ShopBackend, shop: Shop, today: date, now: datetime, limit: int, first: date | None = None
) -> list[tuple[date, list[datetime]]]:
    """The next days with free times (from `first` when given), within the booking window."""
    found: list[tuple[date, list[datetime]]] = []
    for offset in range(BOOKING_DAYS):
        day = today + timedelta(days=offset)
        if first is not None and day < first:
            continue
        times = free_times(backend, shop, day, now)
        if times:
            found.append((day, times))
            if len(found) >= limit:
                break
    return found


@dataclass(frozen=True)
class TimeCheck:
    """Slot updates after checking a requested time: the chosen ISO time, the day to offer times of,
    and the part of the day the customer prefers ("afternoon")."""

    time: str | None = None
    day: str | None = None
    part: str | None = None
    week: str | None = None

    def slots(self) -> dict[str, Any]:
        return {
            "appointment_time": self.time,
            "appointment_day": self.day,
            "appointment_part": self.part,
            "appointment_week": self.week,
        }


def times_in_part(times: list[datetime], part: str | None) -> list[datetime]:
    """The times in the part of the day; all of them when none is (or none would be left)."""
    chosen = [t for t in times if in_part(t.time(), part)]
    return chosen or times


def check_time(
    deps: Deps,
    dispatcher: CollectingDispatcher,
    wording: Wording,
    shop: Shop,
    when: When | DayPart | Week | ImpossibleDate | None,
    text: str,
) -> TimeCheck:
    """Is `when` a bookable slot of `shop`? Utters the specific correction when it is not."""
    now = deps.now()
    if isinstance(when, DayPart):
        return TimeCheck(part=when.part)  # the question offers such times on the next free days
    if isinstance(when, Week):  # "sometime next week": the question offers that week's free days
        last = now.astimezone(shop.timezone).date() + timedelta(days=BOOKING_DAYS - 1)
        if when.start > last:
            utter(dispatcher, "utter_appointment_too_far", last_date=wording.date(last), shop_name=shop.name)
            return TimeCheck(part=when.part)
        return TimeCheck(part=when.part, week=when.start.isoformat())
    if when is None:
        utter(dispatcher, "utter_appointment_time_unreadable", given=text)
        return TimeCheck()
    if isinstance(when, ImpossibleDate):
        month = wording.get("months")[when.month - 1]
        utter(dispatcher, "utter_date_impossible", day=when.day, month=month, max_day=when.max_day)
        return TimeCheck()
    values: dict[str, Any] = {"shop_name": shop.name, "date": wording.date(when.day)}
    if not _bookable_day(dispatcher, wording, shop, when.day, now.astimezone(shop.timezone).date(), values):
        return TimeCheck()
    free = free_times(deps.backend, shop, when.day, now)
    if not free:
        over = when.day == now.astimezone(shop.timezone).date()  # today, after its last free time
        utter(dispatcher, "utter_appointment_today_over" if over else "utter_appointment_day_full", **values)
        return TimeCheck()
    moment = when.local(shop.timezone)
    if moment is None:  # a day without a time: the question lists that day's free times
        return TimeCheck(day=when.day.isoformat(), part=when.part)
    return _check_moment(deps, dispatcher, wording, shop, moment, now, free, values)


def _bookable_day(
    dispatcher: CollectingDispatcher, wording: Wording, shop: Shop, day: date, today: date, values: dict[str, Any]
) -> bool:
    """Can `day` be booked at all (not past, not too far, the shop open)? Utters why not."""
    if day < today:
        utter(dispatcher, "utter_appointment_date_past", **values)
        return False
    last = today + timedelta(days=BOOKING_DAYS - 1)
    if day > last:
        utter(dispatcher, "utter_appointment_too_far", last_date=wording.date(last), **values)
        return False
    hours = shop.hours_on(day)
    if hours.closed:
        if hours.note:
            utter(dispatcher, "utter_appointment_shop_closed_special", note=hours.note, **values)
        else:
            utter(dispatcher, "utter_appointment_shop_closed", **values)
        return False
    return True


def _check_moment(
    deps: Deps,
    dispatcher: CollectingDispatcher,
    wording: Wording,
    shop: Shop,
    moment: datetime,
    now: datetime,
    free: list[datetime],
    values: dict[str, Any],
) -> TimeCheck:
    """A time on a bookable day with free slots: the time when it is free, else that day (and why not)."""
    day = moment.date().isoformat()
    values["time"] = wording.time(moment)
    if moment <= now:
        utter(dispatcher, "utter_appointment_time_past", **values)
        return TimeCheck(day=day)
    opening = shop.open_range_at(moment)
    if opening is None or (moment + timedelta(minutes=APPOINTMENT_MINUTES)).time() > opening.end:
        hours = shop.hours_on(moment.date())
        ranges = [wording.fill("range", start=wording.time(r.start), end=wording.time(r.end)) for r in hours.ranges]
        hours_text = str(wording.get("range_separator")).join(ranges)
        utter(dispatcher, "utter_appointment_outside_hours", hours=hours_text, **values)
        return TimeCheck(day=day)
    if moment in free:
        return TimeCheck(time=moment.isoformat(), day=day)
    values["nearest"] = wording.join([wording.time(t) for t in nearest_times(free, moment)])
    slots = deps.backend.list_slots(shop.key, moment, moment + timedelta(minutes=1))
    if slots:
        utter(dispatcher, "utter_appointment_slot_taken", **values)
    else:
        utter(dispatcher, "utter_appointment_not_a_slot", **values)
    return TimeCheck(day=day)


NEAREST = 2
"""How many of the free times closest to a refused one are named ("15:00 and 16:00" for 15:30)."""


def nearest_times(free: list[datetime], moment: datetime, count: int = NEAREST) -> list[datetime]:
    """The `count` free times closest to `moment`, in order of the day."""
    return sorted(sorted(free, key=lambda t: (abs((t - moment).total_seconds()), t))[:count])

"""A turn's reminder events read into `Reminder`s and `Cancellation`s (bot/proactive/reminders.py).

`reminder_changes(sender, events, now)` reads Rasa's `reminder` / `cancel_reminder` event dicts (what
rasa-sdk's `ReminderScheduled` / `ReminderCancelled` serialise to). A reminder due in the past, without an
intent or with an unreadable time is a `ReminderError`; times without a timezone are UTC.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from bot.proactive.errors import ReminderError
from bot.proactive.reminders import Cancellation, Reminder


def _entities(raw: Any) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return {str(k): v for k, v in raw.items()}
    if isinstance(raw, list):  # Rasa's entity list
        return {str(e["entity"]): e.get("value") for e in raw if isinstance(e, Mapping) and "entity" in e}
    return {}


def _due(raw: Any, sender: str) -> float:
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        raise ReminderError(
            f"reminder for {sender!r}: date_time {raw!r} is not an ISO date and time (e.g. 2030-05-01T09:00:00+00:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Rasa reads naive times as the server's; supportbot's are UTC
    return moment.timestamp()


def reminder_from_event(sender: str, item: Mapping[str, Any], now: float) -> Reminder:
    """A `reminder` event dict as a Reminder; ReminderError when it has no intent or is due in the past."""
    intent = item.get("intent")
    if not isinstance(intent, str) or not intent:
        raise ReminderError(f"reminder for {sender!r} has no intent: pass the intent to fire to ReminderScheduled")
    due = _due(item.get("date_time"), sender)
    if due <= now:
        when = datetime.fromtimestamp(due, UTC).isoformat(timespec="seconds")
        raise ReminderError(
            f"reminder {item.get('name') or intent!r} for {sender!r} is due at {when}, which is in the past: "
            "schedule it for a later time"
        )
    name = item.get("name") or f"{intent}_{uuid.uuid4().hex[:8]}"
    kill = bool(item.get("kill_on_user_msg", True))
    return Reminder(sender, str(name), intent, due, _entities(item.get("entities")), kill, now)


def reminder_changes(
    sender: str, events: Iterable[Mapping[str, Any]], now: float
) -> tuple[list[Reminder], list[Cancellation]]:
    """The reminders to schedule and cancel among a turn's events, in order. Raises ReminderError."""
    scheduled: list[Reminder] = []
    cancelled: list[Cancellation] = []
    for item in events:
        kind = item.get("event")
        if kind == "reminder":
            scheduled.append(reminder_from_event(sender, item, now))
        elif kind == "cancel_reminder":
            name, intent = item.get("name"), item.get("intent")
            cancelled.append(Cancellation(sender, str(name) if name else None, str(intent) if intent else None))
    return scheduled, cancelled

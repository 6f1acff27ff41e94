"""`SchedulingTrackerStore`: a tracker store that hands the reminders a turn set to the `Scheduler`.

The engine keeps the events an action returns in the conversation (`bot.dialogue.events.OtherEvent`), so
a handler's `ReminderScheduled` / `ReminderCancelled` arrive here as `reminder` / `cancel_reminder` events
among `state.new_events`. `save` reads them, saves the turn, then schedules and cancels them in the turn's
order. A reminder that cannot be kept (due in the past, no intent) is logged with the reason and not
stored; the turn itself and the turn's other reminders and cancellations are kept either way. Everything
else is the wrapped store's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bot.dialogue.state import ConversationState
from bot.dialogue.tracker_store import TrackerStore
from bot.proactive.errors import ReminderError
from bot.proactive.reminder_events import reminder_changes
from bot.proactive.reminders import Cancellation, Reminder, Scheduler

log = logging.getLogger("supportbot.proactive")


class SchedulingTrackerStore:
    def __init__(self, inner: TrackerStore, scheduler: Scheduler, clock: Callable[[], float] = time.time) -> None:
        self.inner = inner
        self.scheduler = scheduler
        self._clock = clock

    def load(self, sender_id: str) -> ConversationState | None:
        return self.inner.load(sender_id)

    def save(self, state: ConversationState) -> None:
        changes: list[Reminder | Cancellation] = []
        now = self._clock()
        for item in state.new_events:
            try:
                scheduled, cancelled = reminder_changes(state.sender_id, [item], now)
            except ReminderError as e:  # this one only: the turn's other reminders are kept
                log.error("a reminder was not scheduled: %s", e, extra={"sender": state.sender_id})
                continue
            changes.extend([*scheduled, *cancelled])
        self.inner.save(state)
        for change in changes:
            if isinstance(change, Reminder):
                self.scheduler.schedule(change)
            else:
                self.scheduler.cancel(change)

    def history(self, sender_id: str, limit: int = 200) -> list[dict[str, Any]]:
        return self.inner.history(sender_id, limit)

    def check_writable(self) -> None:
        self.inner.check_writable()

    @contextmanager
    def lock(self, sender_id: str) -> Iterator[None]:
        with self.inner.lock(sender_id):
            yield

    def __getattr__(self, name: str) -> Any:  # the wrapped store's other methods (purge, close …)
        return getattr(self.inner, name)

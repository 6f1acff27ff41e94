"""`ProactiveService`: events and reminders from the shop's side, delivered through the outbox.

    send_event(sender, name, entities)   check (EventCatalog) → run the rule (runner) → outbox row
    fire_due(worker)                      claim the due reminders → run each one's intent → outbox rows

The server calls both (`server/routes/events.py`, the reminder loop in `server/push.py`); the checks come
first, so a refused event stores nothing.

A reminder is delivered when its intent ran in the conversation and its messages are in the outbox; only
then is it marked fired. A failed delivery releases the claim (due again after a back-off; failed, and
logged, after the scheduler's `max_attempts`). The run carries the reminder's `once_key`, so a reminder
claimed again after its worker fired it and died before marking it (or after its claim expired) runs
nothing a second time: the earlier run's messages are queued only if the outbox does not hold them yet.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from bot.assistant import Assistant
from bot.proactive.events import EventCatalog
from bot.proactive.outbox import Outbox
from bot.proactive.reminders import DROPPED, Reminder, Scheduler
from bot.proactive.runner import Triggered, run_external_intent

log = logging.getLogger("supportbot.proactive")


class ProactiveService:
    def __init__(
        self,
        assistant: Assistant,
        outbox: Outbox,
        scheduler: Scheduler,
        *,
        catalog: EventCatalog | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.assistant = assistant
        self.outbox = outbox
        self.scheduler = scheduler
        self.catalog = catalog or EventCatalog.from_domain_extras(assistant.engine.domain.extras)
        self.clock = clock

    def send_event(self, sender: str, name: str, entities: Mapping[str, Any]) -> Triggered:
        """Run the event in the conversation and queue the bot's replies. Raises UnknownEventError or
        EventEntityError before anything is stored."""
        checked = self.catalog.check(name, entities)
        return self._deliver(run_external_intent(self.assistant, sender, name, checked))

    def fire_due(self, worker: str) -> list[Triggered]:
        """Fire the reminders due now that this worker claimed (each one once, whatever the workers and
        crashes); the ones delivered by this call."""
        fired: list[Triggered] = []
        for reminder in self.scheduler.claim_due(self.clock(), worker):
            try:
                dropped = reminder.kill_on_user_message and self._customer_wrote_since(reminder)
                triggered = None if dropped else self._fire(reminder)
            except Exception:  # any failure of the turn or the outbox: released for a retry, never lost
                log.exception("reminder %s for %s was not delivered", reminder.name, reminder.sender_id)
                self.scheduler.release(reminder, self.clock())
                continue
            if triggered is None:
                log.info("reminder %s dropped: the customer wrote since it was set", reminder.name)
                self.scheduler.finish(reminder, DROPPED)
            elif self.scheduler.finish(reminder):
                fired.append(triggered)
            else:
                log.warning("reminder %s: its claim expired while it fired; it was not marked here", reminder.name)
        return fired

    def _fire(self, reminder: Reminder) -> Triggered:
        once = reminder.once_key
        run = run_external_intent(self.assistant, reminder.sender_id, reminder.intent, reminder.entities, once=once)
        return self._deliver(run)

    def _deliver(self, triggered: Triggered) -> Triggered:
        messages = triggered.messages
        if not messages:
            return triggered
        first = str(messages[0].get("id") or "")
        if triggered.earlier is not None and first and self.outbox.holds(triggered.sender, first):
            return triggered  # a reminder fired again: its messages are already queued (or were delivered)
        self.outbox.put(triggered.sender, messages)
        return triggered

    def _customer_wrote_since(self, reminder: Reminder) -> bool:
        state = self.assistant.tracker_store.load(reminder.sender_id)
        if state is None:
            return False
        return any(
            e.get("event") == "user"
            and not (e.get("metadata") or {}).get("is_external")
            and float(e.get("timestamp") or 0) > reminder.created_at
            for e in state.events
        )

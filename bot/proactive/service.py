"""`ProactiveService`: events and reminders from the shop's side, delivered through the outbox.

    send_event(sender, name, entities)   check (EventCatalog) → run the rule (runner) → outbox row
    fire_due(worker)                      claim the due reminders → run each one's intent → outbox rows

The server calls both (`server/routes/events.py`, the reminder loop in `server/push.py`); the checks come
first, so a refused event stores nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from bot.assistant import Assistant
from bot.proactive.events import EventCatalog
from bot.proactive.outbox import Outbox
from bot.proactive.reminders import Reminder, Scheduler
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
        """Fire the reminders due now that this worker claimed (each one once, whatever the workers)."""
        fired: list[Triggered] = []
        for reminder in self.scheduler.claim_due(self.clock(), worker):
            try:
                if reminder.kill_on_user_message and self._customer_wrote_since(reminder):
                    log.info("reminder %s dropped: the customer wrote since it was set", reminder.name)
                else:
                    triggered = run_external_intent(
                        self.assistant, reminder.sender_id, reminder.intent, reminder.entities
                    )
                    fired.append(self._deliver(triggered))
            except Exception:
                log.exception("reminder %s for %s failed", reminder.name, reminder.sender_id)
            finally:
                self.scheduler.finish(reminder.id)
        return fired

    def _deliver(self, triggered: Triggered) -> Triggered:
        if triggered.replies:
            self.outbox.put(triggered.sender, [r.as_dict() for r in triggered.replies])
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

"""A bot that speaks first: events from the shop, durable reminders and page triggers (docs/proactive.md).

- `errors`: the proactive branch of the error tree (unknown event, bad entity, reminder in the past, trigger file);
- `events`: the external events the domain declares (`external_events:`), checked before anything is stored;
- `runner`: runs an `EXTERNAL_…` intent in a conversation, as Rasa's `trigger_intent` does;
- `outbox`: the bot's messages waiting for delivery to an open widget (SQL table, polled by every worker);
- `reminders`: `Reminder`, the `Scheduler` protocol, `SqlScheduler` (a row claimed in one transaction, the claim a
  lease; failed deliveries retried a bounded number of times) and a fake;
- `reminder_events`: a turn's `reminder` / `cancel_reminder` events read into reminders and cancellations;
- `scheduling_store`: the tracker-store wrapper that turns `ReminderScheduled`/`ReminderCancelled` into rows;
- `service`: `ProactiveService`, which ties the above together for the server and the CLI;
- `triggers`: `knowledge/triggers.yml`, validated with file:line, re-read when it changes.

Nothing here imports a web framework, and nothing is built at import.
"""

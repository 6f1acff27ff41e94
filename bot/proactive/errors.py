"""The proactive branch of the error tree (`bot/errors.py`):

SupportbotError
├── ProactiveError
│   ├── UnknownEventError     an event name the domain does not declare (no `external_events:` entry)
│   ├── EventEntityError      an entity the event does not take, or of the wrong type
│   └── ReminderError         a reminder due in the past, or without a name or intent
└── DataError
    └── TriggerFileError      knowledge/triggers.yml is invalid (carries file:line Problems)
"""

from __future__ import annotations

from bot.errors import DataError, SupportbotError


class ProactiveError(SupportbotError):
    """An event or reminder was refused; nothing was stored."""

    code = "invalid_event"


class UnknownEventError(ProactiveError):
    code = "unknown_event"


class EventEntityError(ProactiveError):
    code = "invalid_entities"


class ReminderError(ProactiveError):
    code = "invalid_reminder"


class TriggerFileError(DataError):
    """knowledge/triggers.yml has errors; the last good triggers keep serving."""

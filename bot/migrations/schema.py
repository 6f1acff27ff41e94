"""Every table the bot's stores create (`create_all`), as one list of SQLAlchemy metadata: what the baseline
migration was generated from, and what `tests/migrations` compares the migrated schema with."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from sqlalchemy import MetaData

DEFAULT_ACTION_PACKAGE = "bot.actions"


def all_metadata(action_package: str = DEFAULT_ACTION_PACKAGE) -> list[MetaData]:
    """The metadata of every store: conversations, handoff, feedback, outbox, reminders, learning
    suggestions, customer profiles, staff, unanswered questions, and the tables of the action package (the
    reference shop's), which it names through its `table_metadata()` hook (the engine and the server never
    import the shop: it is a plugin, loaded by name like its actions)."""
    from bot.customers.sql import metadata as customers
    from bot.dialogue.handoff import _metadata as handoff
    from bot.dialogue.tracker_store import _metadata as conversations
    from bot.faq.unanswered import _metadata as unanswered
    from bot.feedback import _metadata as feedback
    from bot.learning.store import _metadata as learning
    from bot.proactive.outbox import _metadata as outbox
    from bot.proactive.reminders import _metadata as reminders
    from bot.staff.tables import metadata as staff

    return [
        conversations,
        handoff,
        feedback,
        outbox,
        reminders,
        learning,
        customers,
        staff,
        unanswered,
        *_package_metadata(action_package),
    ]


def _package_metadata(action_package: str) -> list[MetaData]:
    hook: Callable[[], list[MetaData]] | None = getattr(importlib.import_module(action_package), "table_metadata", None)
    return hook() if hook is not None else []


def table_names() -> set[str]:
    return {name for metadata in all_metadata() for name in metadata.tables}

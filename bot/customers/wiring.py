"""Customer memory built from the settings, for `bot.bootstrap` (one call, when the assistant is loaded)."""

from __future__ import annotations

from bot.config import Settings
from bot.customers.sql import SqlCustomerStore
from bot.dialogue.memory import MemoryConfig


def customer_memory(settings: Settings) -> MemoryConfig:
    """The SQL customer store in the bot's database (its tables created if missing) and the token secret,
    records written behind the reply; memory off when `customer_memory` is false."""
    if not settings.customer_memory:
        return MemoryConfig(enabled=False)
    secret = settings.customer_token_secret.get_secret_value() if settings.customer_token_secret else None
    return MemoryConfig(SqlCustomerStore.from_url(settings.resolved_database_url), secret or None, write_behind=True)

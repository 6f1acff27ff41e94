"""Alembic's environment for the bot's database: run on the connection `bot.migrations.upgrade` passes (under
its lock), with every store's metadata as the target (for `alembic revision --autogenerate` in development)."""

from __future__ import annotations

from alembic import context

from bot.migrations.schema import all_metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=all_metadata(),
    # SQLite alters tables by copying them (the generated baseline was rendered without: it only creates)
    render_as_batch=context.config.attributes.get("render_as_batch", connection.dialect.name == "sqlite"),
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

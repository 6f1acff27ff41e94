"""The staff tables in the bot's database: members, console sessions and the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Column, Connection, Engine, ForeignKey, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.exc import SQLAlchemyError

from bot.sql_types import UtcDateTime
from bot.staff.errors import StaffStoreError

metadata = MetaData()

staff_members = Table(
    "staff_members",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, unique=True),  # stored lower-case: unique ignoring case
    Column("display_name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("failed_attempts", Integer, nullable=False, default=0),
    Column("locked_until", UtcDateTime(), nullable=True),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the cookie's token: a leaked table signs nobody in
    Column("staff_id", Integer, ForeignKey("staff_members.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_seen", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Index("ix_console_sessions_staff", "staff_id"),
)

console_audit = Table(
    "console_audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("staff_id", Integer, nullable=True),  # kept when the member is removed: the log outlives accounts
    Column("email", String(320), nullable=False),
    Column("action", String(80), nullable=False),
    Column("target", String(500), nullable=False),
    Column("detail", Text, nullable=False),
    Index("ix_console_audit_at", "at"),
)


class StaffDatabase:
    """The engine of the staff tables (created if missing), one transaction at a time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        try:
            metadata.create_all(engine)
        except SQLAlchemyError as e:
            raise StaffStoreError(f"cannot create the staff tables in {self.where}: {e}") from e

    @property
    def where(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self, what: str) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as e:
            raise StaffStoreError(f"staff accounts: database {what} failed ({self.where}): {e}") from e

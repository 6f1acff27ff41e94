"""`StaffServices`: the members, console sessions and audit log of one database, made from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from bot.config import Settings
from bot.staff.accounts import Clock, SqlStaffAccounts, StaffAccounts, utc_now
from bot.staff.audit import AuditLog, SqlAuditLog
from bot.staff.passwords import Passwords
from bot.staff.sessions import ConsoleSessions, SqlConsoleSessions
from bot.staff.tables import StaffDatabase


@dataclass(frozen=True)
class StaffServices:
    accounts: StaffAccounts
    sessions: ConsoleSessions
    audit: AuditLog

    @classmethod
    def from_engine(
        cls, engine: Engine, settings: Settings, *, passwords: Passwords | None = None, clock: Clock = utc_now
    ) -> StaffServices:
        database = StaffDatabase(engine)
        return cls(
            accounts=SqlStaffAccounts(
                database,
                passwords=passwords,
                lockout_failures=settings.console_lockout_failures,
                lockout_minutes=settings.console_lockout_minutes,
                clock=clock,
            ),
            sessions=SqlConsoleSessions(database, idle_hours=settings.console_session_hours, clock=clock),
            audit=SqlAuditLog(database, clock=clock),
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, passwords: Passwords | None = None) -> StaffServices:
        """The staff tables in the settings' database (`database_url`, else SQLite in the state folder)."""
        from bot.dialogue.tracker_store import make_engine

        return cls.from_engine(make_engine(settings.resolved_database_url), settings, passwords=passwords)

"""Staff accounts of the console: members with a role and an argon2 password hash, the lockout after
repeated wrong passwords, server-side console sessions and the audit log, in the bot's database.

    services = StaffServices.from_settings(settings)
    member = services.accounts.authenticate(email, password)   # SignInRefused / AccountLocked
    session = services.sessions.start(member.id)               # the cookie gets session.token
    services.audit.record(member.id, member.email, "console.sign_in")

`supportbot staff add|list|remove|reset-password` (`bot/staff/cli.py`) manages members from a terminal;
`server/console/accounts.py` from the browser. Errors: `bot/staff/errors.py`.
"""

from __future__ import annotations

from bot.staff.accounts import ROLES, SqlStaffAccounts, StaffAccount, StaffAccounts
from bot.staff.audit import AuditEntry, AuditLog, AuditPage, SqlAuditLog
from bot.staff.errors import (
    AccountLocked,
    InvalidStaffInput,
    LastAdminError,
    SignInRefused,
    StaffError,
    StaffExists,
    StaffNotFound,
    StaffStoreError,
)
from bot.staff.passwords import MIN_PASSWORD_LENGTH, Passwords
from bot.staff.sessions import ConsoleSession, ConsoleSessions, SignedIn, SqlConsoleSessions
from bot.staff.wiring import StaffServices

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "AccountLocked",
    "AuditEntry",
    "AuditLog",
    "AuditPage",
    "ConsoleSession",
    "ConsoleSessions",
    "InvalidStaffInput",
    "LastAdminError",
    "Passwords",
    "SignInRefused",
    "SignedIn",
    "SqlAuditLog",
    "SqlConsoleSessions",
    "SqlStaffAccounts",
    "StaffAccount",
    "StaffAccounts",
    "StaffError",
    "StaffExists",
    "StaffNotFound",
    "StaffServices",
    "StaffStoreError",
]

"""Staff members: add, list, change role, reset password, remove, and sign in with the lockout.

`StaffAccounts` is the seam; `SqlStaffAccounts` keeps the members in the bot's database (`staff_members`).
Emails are unique ignoring case (stored lower-case). After `lockout_failures` wrong passwords in a row an
account is locked for `lockout_minutes`; a correct password resets the count, and so does a password reset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import Connection, Row, func, select

from bot.staff.errors import (
    AccountLocked,
    InvalidStaffInput,
    LastAdminError,
    SignInRefused,
    StaffExists,
    StaffNotFound,
)
from bot.staff.passwords import Passwords, check_new_password
from bot.staff.tables import StaffDatabase, console_sessions, staff_members

Clock = Callable[[], datetime]
ROLES = ("agent", "editor", "admin")
"""Lowest to highest: agents chat and hand back; editors also change knowledge; admins also manage staff."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class StaffAccount:
    id: int
    email: str
    display_name: str
    role: str
    created_at: datetime
    failed_attempts: int = 0
    locked_until: datetime | None = None

    def locked_at(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


def normalise_email(email: str) -> str:
    cleaned = email.strip().lower()
    local, at, domain = cleaned.partition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in cleaned) or len(cleaned) > 320:
        raise InvalidStaffInput("email", f"{email!r} is not an email address (name@example.com)")
    return cleaned


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidStaffInput("role", f"{role!r} is not a role; use one of {', '.join(ROLES)}")
    return role


class StaffAccounts(Protocol):
    def add(self, email: str, password: str, role: str, display_name: str = "") -> StaffAccount: ...

    def get(self, staff_id: int) -> StaffAccount | None: ...

    def find(self, email: str) -> StaffAccount | None: ...

    def members(self) -> list[StaffAccount]:
        """Every member, by email."""
        ...

    def set_role(self, email: str, role: str) -> StaffAccount: ...

    def reset_password(self, email: str, password: str) -> StaffAccount:
        """A new password; unlocks the account and ends its console sessions."""
        ...

    def remove(self, email: str) -> StaffAccount:
        """Delete the member and their console sessions (their audit entries stay)."""
        ...

    def authenticate(self, email: str, password: str) -> StaffAccount:
        """The member, when the password is right; else `SignInRefused` or `AccountLocked`."""
        ...


class SqlStaffAccounts:
    def __init__(
        self,
        database: StaffDatabase,
        *,
        passwords: Passwords | None = None,
        lockout_failures: int = 5,
        lockout_minutes: float = 15.0,
        clock: Clock = utc_now,
    ) -> None:
        self.database = database
        self.passwords = passwords or Passwords()
        self.lockout_failures = lockout_failures
        self.lockout = timedelta(minutes=lockout_minutes)
        self.clock = clock

    def add(self, email: str, password: str, role: str, display_name: str = "") -> StaffAccount:
        email = normalise_email(email)
        check_role(role)
        check_new_password(password)
        name = display_name.strip() or email.split("@")[0]
        hashed = self.passwords.hash(password)
        t = staff_members
        with self.database.transaction("write") as conn:
            if conn.execute(select(t.c.id).where(t.c.email == email)).first() is not None:
                raise StaffExists(email)
            conn.execute(
                t.insert().values(
                    email=email,
                    display_name=name,
                    role=role,
                    password_hash=hashed,
                    created_at=self.clock(),
                    failed_attempts=0,
                )
            )
            row = conn.execute(select(t).where(t.c.email == email)).one()
        return account_from_row(row)

    def get(self, staff_id: int) -> StaffAccount | None:
        with self.database.transaction("read") as conn:
            row = conn.execute(select(staff_members).where(staff_members.c.id == staff_id)).first()
        return account_from_row(row) if row is not None else None

    def find(self, email: str) -> StaffAccount | None:
        with self.database.transaction("read") as conn:
            row = conn.execute(select(staff_members).where(staff_members.c.email == email.strip().lower())).first()
        return account_from_row(row) if row is not None else None

    def members(self) -> list[StaffAccount]:
        with self.database.transaction("read") as conn:
            return [account_from_row(r) for r in conn.execute(select(staff_members).order_by(staff_members.c.email))]

    def set_role(self, email: str, role: str) -> StaffAccount:
        check_role(role)
        t = staff_members
        with self.database.transaction("write") as conn:
            row = _existing(conn, email)
            if row.role == "admin" and role != "admin" and _admins(conn) <= 1:
                raise LastAdminError(row.email)
            conn.execute(t.update().where(t.c.id == row.id).values(role=role))
            return account_from_row(conn.execute(select(t).where(t.c.id == row.id)).one())

    def reset_password(self, email: str, password: str) -> StaffAccount:
        check_new_password(password)
        hashed = self.passwords.hash(password)
        t = staff_members
        with self.database.transaction("write") as conn:
            row = _existing(conn, email)
            conn.execute(
                t.update().where(t.c.id == row.id).values(password_hash=hashed, failed_attempts=0, locked_until=None)
            )
            conn.execute(console_sessions.delete().where(console_sessions.c.staff_id == row.id))
            return account_from_row(conn.execute(select(t).where(t.c.id == row.id)).one())

    def remove(self, email: str) -> StaffAccount:
        t = staff_members
        with self.database.transaction("write") as conn:
            row = _existing(conn, email)
            if row.role == "admin" and _admins(conn) <= 1:
                raise LastAdminError(row.email)
            conn.execute(console_sessions.delete().where(console_sessions.c.staff_id == row.id))
            conn.execute(t.delete().where(t.c.id == row.id))
        return account_from_row(row)

    def authenticate(self, email: str, password: str) -> StaffAccount:
        t = staff_members
        wanted = email.strip().lower()
        with self.database.transaction("read") as conn:
            row = conn.execute(select(t).where(t.c.email == wanted)).first()
        now = self.clock()
        if row is None:
            self.passwords.verify(None, password)  # as long as a wrong password takes
            raise SignInRefused()
        account = account_from_row(row)
        if account.locked_at(now):
            assert account.locked_until is not None
            raise AccountLocked(account.email, account.locked_until, self.lockout_failures)
        if not self.passwords.verify(row.password_hash, password):
            self._failed(account, now)
        changes: dict[str, object] = {"failed_attempts": 0, "locked_until": None}
        if self.passwords.needs_rehash(row.password_hash):
            changes["password_hash"] = self.passwords.hash(password)
        with self.database.transaction("write") as conn:
            conn.execute(t.update().where(t.c.id == account.id).values(**changes))
        return StaffAccount(account.id, account.email, account.display_name, account.role, account.created_at)

    def _failed(self, account: StaffAccount, now: datetime) -> None:
        """Count a wrong password (in one UPDATE, so parallel attempts all count); lock at the limit."""
        t = staff_members
        until: datetime | None = None
        with self.database.transaction("write") as conn:
            conn.execute(
                t.update()
                .where(t.c.id == account.id)
                .values(failed_attempts=t.c.failed_attempts + 1, locked_until=None)
            )
            failures = conn.execute(select(t.c.failed_attempts).where(t.c.id == account.id)).scalar_one()
            if failures >= self.lockout_failures:
                until = now + self.lockout
                conn.execute(t.update().where(t.c.id == account.id).values(failed_attempts=0, locked_until=until))
        if until is not None:
            raise AccountLocked(account.email, until, self.lockout_failures)
        raise SignInRefused()


def _existing(conn: Connection, email: str) -> Row[tuple[object, ...]]:
    row = conn.execute(select(staff_members).where(staff_members.c.email == email.strip().lower())).first()
    if row is None:
        raise StaffNotFound(email)
    return row


def _admins(conn: Connection) -> int:
    count = conn.execute(select(func.count()).where(staff_members.c.role == "admin")).scalar_one()
    return int(count)


def account_from_row(row: Row[tuple[object, ...]]) -> StaffAccount:
    m = row._mapping
    return StaffAccount(
        id=int(m["id"]),
        email=str(m["email"]),
        display_name=str(m["display_name"]),
        role=str(m["role"]),
        created_at=m["created_at"],
        failed_attempts=int(m["failed_attempts"] or 0),
        locked_until=m["locked_until"],
    )

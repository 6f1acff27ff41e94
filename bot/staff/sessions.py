"""Console sign-in sessions kept on the server (`console_sessions`).

The browser holds only a random token; the table holds its SHA-256, the member, the session's CSRF token
and when it expires. A session ends after `idle_hours` without a request (each use moves the expiry on),
at sign-out, or when the member's password is reset or the member removed.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select

from bot.staff.accounts import Clock, StaffAccount, account_from_row, utc_now
from bot.staff.tables import StaffDatabase, console_sessions, staff_members

TOUCH_EVERY = timedelta(minutes=1)
"""A session's last use is written at most this often: most requests only read."""


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ConsoleSession:
    token: str
    """the cookie's value; only its hash is stored"""
    staff_id: int
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class SignedIn:
    """A live session with its member, as the console sees each request."""

    member: StaffAccount
    csrf_token: str
    expires_at: datetime


class ConsoleSessions(Protocol):
    def start(self, staff_id: int) -> ConsoleSession: ...

    def lookup(self, token: str) -> SignedIn | None:
        """The member and CSRF token of a live session (its expiry moved on); None when the token is unknown,
        expired or its member removed."""
        ...

    def end(self, token: str) -> None: ...


class SqlConsoleSessions:
    def __init__(self, database: StaffDatabase, *, idle_hours: float = 12.0, clock: Clock = utc_now) -> None:
        self.database = database
        self.idle = timedelta(hours=idle_hours)
        self.clock = clock

    def start(self, staff_id: int) -> ConsoleSession:
        token, csrf, now = new_token(), new_token(), self.clock()
        expires = now + self.idle
        t = console_sessions
        with self.database.transaction("write") as conn:
            conn.execute(t.delete().where((t.c.staff_id == staff_id) & (t.c.expires_at <= now)))  # stale ones
            conn.execute(
                t.insert().values(
                    token_hash=token_hash(token),
                    staff_id=staff_id,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen=now,
                    expires_at=expires,
                )
            )
        return ConsoleSession(token, staff_id, csrf, expires)

    def lookup(self, token: str) -> SignedIn | None:
        if not token:
            return None
        key, now = token_hash(token), self.clock()
        s, m = console_sessions, staff_members
        query = select(s.c.csrf_token, s.c.last_seen, s.c.expires_at, m).join(m, m.c.id == s.c.staff_id)
        with self.database.transaction("read") as conn:
            row = conn.execute(query.where(s.c.token_hash == key)).first()
        if row is None:
            return None
        if row.expires_at <= now:
            self.end(token)
            return None
        expires = row.expires_at
        if now - row.last_seen >= TOUCH_EVERY:
            expires = now + self.idle
            with self.database.transaction("write") as conn:
                conn.execute(s.update().where(s.c.token_hash == key).values(last_seen=now, expires_at=expires))
        return SignedIn(account_from_row(row), str(row.csrf_token), expires)

    def end(self, token: str) -> None:
        with self.database.transaction("write") as conn:
            conn.execute(console_sessions.delete().where(console_sessions.c.token_hash == token_hash(token)))

"""The console's audit log (`console_audit`): who did what to what, and when. Newest first when read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select

from bot.staff.accounts import Clock, utc_now
from bot.staff.tables import StaffDatabase, console_audit


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    staff_id: int | None
    email: str
    action: str
    """area.verb, e.g. "console.sign_in", "staff.add", "knowledge.edit\""""
    target: str
    detail: str


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


class AuditLog(Protocol):
    def record(self, staff_id: int | None, email: str, action: str, target: str = "", detail: str = "") -> None: ...

    def entries(
        self, *, email: str | None = None, action: str | None = None, page: int = 1, per_page: int = 50
    ) -> AuditPage:
        """One page of entries, newest first; `email` and `action` filter (an action ending in "." is a
        prefix: "staff." is every staff change)."""
        ...

    def actions(self) -> list[str]:
        """The actions present in the log, sorted."""
        ...


class SqlAuditLog:
    def __init__(self, database: StaffDatabase, *, clock: Clock = utc_now) -> None:
        self.database = database
        self.clock = clock

    def record(self, staff_id: int | None, email: str, action: str, target: str = "", detail: str = "") -> None:
        with self.database.transaction("write") as conn:
            conn.execute(
                console_audit.insert().values(
                    at=self.clock(),
                    staff_id=staff_id,
                    email=email[:320],
                    action=action[:80],
                    target=target[:500],
                    detail=detail,
                )
            )

    def entries(
        self, *, email: str | None = None, action: str | None = None, page: int = 1, per_page: int = 50
    ) -> AuditPage:
        a = console_audit
        where = []
        if email:
            where.append(a.c.email == email.strip().lower())
        if action:
            where.append(
                a.c.action.startswith(action, autoescape=True) if action.endswith(".") else a.c.action == action
            )
        page = max(1, page)
        with self.database.transaction("read") as conn:
            total = int(conn.execute(select(func.count()).select_from(a).where(*where)).scalar_one())
            rows = conn.execute(
                select(a)
                .where(*where)
                .order_by(a.c.at.desc(), a.c.id.desc())
                .limit(per_page)
                .offset((page - 1) * per_page)
            ).all()
        entries = [AuditEntry(r.id, r.at, r.staff_id, r.email, r.action, r.target, r.detail) for r in rows]
        return AuditPage(entries, total, page, per_page)

    def actions(self) -> list[str]:
        with self.database.transaction("read") as conn:
            return [
                str(a)
                for a in conn.execute(
                    select(console_audit.c.action).distinct().order_by(console_audit.c.action)
                ).scalars()
            ]

"""Who is at the console, and what they may do: the contract every console page uses.

    staff = Depends(RequireRole(StaffRole.AGENT))   # any signed-in member; EDITOR / ADMIN for more
    Depends(require_csrf)                            # on every state-changing route (form field or header)
    render(request, "console/inbox.html", {...})     # a page with `staff`, `csrf_token`, `nav` in its context
    audit(request, "knowledge.edit", "faq/returns.md#exchange")   # the audit log: who did what

The session middleware (`server/console/sessions.py`) sets `request.state.console_staff` (a `StaffMember`
or None) and `request.state.console_csrf` (the session's CSRF token) on every `/console` request. Tests of a
single page may install `StaticConsoleSession` instead, which signs in a fixed member.

Not signed in: `ConsoleLoginRequired` (a 303 to `/console/login?next=...` for a page, a 401 in the JSON
error shape for `/console/api/...`). Signed in without the role: `ConsoleForbidden` (403). A missing or
wrong CSRF token: `ConsoleCsrfRejected` (403). `server/console/__init__.py` installs the handlers. Nothing a
person typed is lost to an expired session: a form route that holds such text checks `csrf_valid` itself and
shows the form again with the text (the knowledge editor does).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from server.routes.pages import TEMPLATES_DIR

templates = Jinja2Templates(directory=TEMPLATES_DIR)

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class StaffRole(StrEnum):
    """Agents chat and hand back; editors also change knowledge and accept suggestions; admins also manage
    staff and customers' data."""

    AGENT = "agent"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return {"agent": 1, "editor": 2, "admin": 3}[self.value]

    def allows(self, needed: StaffRole) -> bool:
        return self.rank >= needed.rank


@dataclass(frozen=True)
class StaffMember:
    id: int
    email: str
    display_name: str
    role: StaffRole

    def may(self, needed: StaffRole) -> bool:
        return self.role.allows(needed)


class ConsoleError(Exception):
    status_code = 403
    code = "forbidden"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConsoleLoginRequired(ConsoleError):
    status_code = 401
    code = "unauthorized"


class ConsoleForbidden(ConsoleError):
    pass


class ConsoleCsrfRejected(ConsoleError):
    code = "csrf_rejected"


def current_staff(request: Request) -> StaffMember | None:
    staff = getattr(request.state, "console_staff", None)
    return staff if isinstance(staff, StaffMember) else None


def csrf_token(request: Request) -> str:
    token = getattr(request.state, "console_csrf", None)
    return token if isinstance(token, str) else ""


class RequireRole:
    """A dependency: the signed-in `StaffMember` when their role allows `role`."""

    def __init__(self, role: StaffRole) -> None:
        self.role = role

    def __call__(self, request: Request) -> StaffMember:
        staff = current_staff(request)
        if staff is None:
            raise ConsoleLoginRequired("sign in to the console first")
        if not staff.may(self.role):
            raise ConsoleForbidden(
                f"this page needs the {self.role.value} role; you are signed in as {staff.role.value}"
            )
        return staff


async def csrf_valid(request: Request) -> bool:
    """Whether the session's CSRF token came back in the `X-CSRF-Token` header or the `csrf_token` form field."""
    expected = csrf_token(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    return bool(expected and sent and hmac.compare_digest(sent.encode(), expected.encode()))


CSRF_REJECTED = "the form's security token is missing or out of date: reload the page and try again"


async def require_csrf(request: Request) -> None:
    """A dependency for every state-changing console route: the session's token must come back in the
    `X-CSRF-Token` header or the `csrf_token` form field. A route that holds text a person typed may check
    `csrf_valid` itself instead, and show the form again with that text (`knowledge.knowledge_save`)."""
    if not await csrf_valid(request):
        raise ConsoleCsrfRejected(CSRF_REJECTED)


def wants_json(request: Request) -> bool:
    """A `/console/api/...` call or a client asking for JSON: errors answer in the JSON error shape."""
    return request.url.path.startswith("/console/api/") or "application/json" in request.headers.get("accept", "")


NAV: list[tuple[str, str, StaffRole]] = [
    ("Inbox", "/console", StaffRole.AGENT),
    ("Conversations", "/console/conversations", StaffRole.AGENT),
    ("Knowledge", "/console/knowledge", StaffRole.AGENT),
    ("Suggestions", "/console/suggestions", StaffRole.EDITOR),
    ("Analytics", "/console/analytics", StaffRole.AGENT),
    ("Customers", "/console/customers", StaffRole.ADMIN),
    ("Staff", "/console/staff", StaffRole.ADMIN),
    ("Audit log", "/console/audit", StaffRole.ADMIN),
]


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> Response:
    """A console page: `context` plus `staff`, `csrf_token`, `nav` (the links the member's role allows) and
    `root_path`. Jinja2 autoescapes everything: never mark customer or knowledge text `|safe`."""
    staff = current_staff(request)
    nav = [(label, href) for label, href, role in NAV if staff is not None and staff.may(role)]
    full = {
        "staff": staff,
        "csrf_token": csrf_token(request),
        "nav": nav,
        "root_path": request.scope.get("root_path", ""),
        **(context or {}),
    }
    return templates.TemplateResponse(request, template, full, status_code=status_code)


def audit(request: Request, action: str, target: str = "", detail: str = "") -> None:
    """Record in the audit log that the signed-in member did `action` (e.g. "handoff.take", "knowledge.edit")
    to `target`. `accounts` installs the recorder as `app.state.console_audit`; without it, nothing is kept."""
    recorder = getattr(request.app.state, "console_audit", None)
    staff = current_staff(request)
    if recorder is not None:
        recorder(staff, action, target, detail)


class StaticConsoleSession:
    """For tests of one page: every request is signed in as `staff`, with CSRF token `csrf`."""

    def __init__(self, app: ASGIApp, staff: StaffMember | None, csrf: str = "test-csrf") -> None:
        self.app, self.staff, self.csrf = app, staff, csrf

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            state = scope.setdefault("state", {})
            state["console_staff"] = self.staff
            state["console_csrf"] = self.csrf
        await self.app(scope, receive, send)

"""Console sign-in sessions: a pure-ASGI middleware that says who is at the console.

For every request under `/console` it reads the cookie `supportbot_console`, loads the server-side
session (`bot.staff.sessions`) and sets `scope["state"]["console_staff"]` (a `StaffMember` or None) and
`scope["state"]["console_csrf"]`: the session's CSRF token, or for a signed-out visitor a token kept in the
cookie `supportbot_console_csrf`, so the sign-in form is protected too. A cookie whose session expired or
whose member was removed is cleared. Other paths pass straight through: customers' turns pay nothing.

Cookies are HttpOnly, SameSite=Strict, Path=/console, and Secure when the request came over https (its
scheme, or `X-Forwarded-Proto: https` from the proxy in front).

`install_sessions` also sets `app.state.console_audit`, the recorder `access.audit()` calls. The staff
tables live in the settings' database; a test may set `app.state.staff_services` before the first request.
"""

from __future__ import annotations

import re
import threading
from http.cookies import SimpleCookie
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.config import Settings
from bot.staff import StaffAccount, StaffServices
from bot.staff.sessions import SignedIn, new_token
from server.console.access import StaffMember, StaffRole

SESSION_COOKIE = "supportbot_console"
CSRF_COOKIE = "supportbot_console_csrf"
COOKIE_PATH = "/console"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,128}")
_LOCK = threading.Lock()


def install_sessions(app: FastAPI, settings: Settings) -> None:
    """Sign console requests in (the middleware) and record audit entries (`app.state.console_audit`)."""
    app.state.console_settings = settings
    app.state.console_audit = AuditRecorder(app)
    app.add_middleware(ConsoleSessionMiddleware, owner=app)


def staff_services(app: Any) -> StaffServices:
    """The app's staff services: `app.state.staff_services`, made from the settings on first use."""
    services = getattr(app.state, "staff_services", None)
    if isinstance(services, StaffServices):
        return services
    with _LOCK:
        services = getattr(app.state, "staff_services", None)
        if not isinstance(services, StaffServices):
            services = StaffServices.from_settings(app.state.console_settings)
            app.state.staff_services = services
        return services


def member_of(account: StaffAccount) -> StaffMember:
    return StaffMember(account.id, account.email, account.display_name, StaffRole(account.role))


class AuditRecorder:
    """`access.audit()`'s recorder: one row of the audit log per call, under the signed-in member."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def __call__(self, staff: StaffMember | None, action: str, target: str = "", detail: str = "") -> None:
        email = staff.email if staff is not None else "(signed out)"
        staff_services(self.app).audit.record(staff.id if staff else None, email, action, target, detail)


def is_https(scope: Scope) -> bool:
    if scope.get("scheme") in ("https", "wss"):
        return True
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-proto":
            proto: str = bytes(value).decode("latin-1").split(",")[0].strip().lower()
            return proto == "https"
    return False


def cookie_header(name: str, value: str, *, secure: bool, clear: bool = False) -> str:
    parts = [f"{name}={'' if clear else value}", f"Path={COOKIE_PATH}", "HttpOnly", "SameSite=Strict"]
    if clear:
        parts.append("Max-Age=0")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.headers.append("set-cookie", cookie_header(SESSION_COOKIE, token, secure=is_https(request.scope)))


def clear_session_cookie(response: Response, request: Request) -> None:
    response.headers.append("set-cookie", cookie_header(SESSION_COOKIE, "", secure=is_https(request.scope), clear=True))


def _is_console(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path == COOKIE_PATH or path.startswith(COOKIE_PATH + "/")


def _cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header: treat as no cookies
                return {}
    return {key: morsel.value for key, morsel in jar.items()}


def _lookup(app: FastAPI, token: str) -> SignedIn | None:
    return staff_services(app).sessions.lookup(token)


class ConsoleSessionMiddleware:
    def __init__(self, app: ASGIApp, *, owner: FastAPI) -> None:
        self.app = app
        self.owner = owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not _is_console(scope):
            await self.app(scope, receive, send)
            return
        if (
            scope.get("state", {}).get("console_staff") is not None
        ):  # signed in by an outer StaticConsoleSession (tests)
            await self.app(scope, receive, send)
            return
        cookies = _cookies(scope)
        token = cookies.get(SESSION_COOKIE, "")
        signed = None
        if _TOKEN.fullmatch(token):
            signed = await run_in_threadpool(_lookup, self.owner, token)
        state = scope.setdefault("state", {})
        secure = is_https(scope)
        extra: list[str] = []
        if signed is not None:
            state["console_staff"] = member_of(signed.member)
            state["console_csrf"] = signed.csrf_token
        else:
            state["console_staff"] = None
            if token:
                extra.append(cookie_header(SESSION_COOKIE, "", secure=secure, clear=True))
            csrf = cookies.get(CSRF_COOKIE, "")
            if not _TOKEN.fullmatch(csrf):
                csrf = new_token()
                extra.append(cookie_header(CSRF_COOKIE, csrf, secure=secure))
            state["console_csrf"] = csrf
        if not extra or scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                already = {c.split("=", 1)[0] for c in headers.getlist("set-cookie")}
                for cookie in extra:
                    if cookie.split("=", 1)[0] not in already:  # the route's own cookie (sign-in) wins
                        headers.append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookies)

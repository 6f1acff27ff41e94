"""The staff console at `/console` (docs/console.md): server-rendered jinja2 pages for support staff.

One module per area, each with its own `router`: `accounts` (sign in/out, staff, audit log), `inbox` (live
agent handoff), `conversations` (transcript search and review), `knowledge` (entries, test panel,
suggestions), `analytics`, `customers` (admins: what is stored about a customer, export, delete). `access`
is the contract they share (roles, CSRF, `render`); `sessions` signs members in.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.responses import Response

from bot.config import Settings
from server.console import accounts, analytics, conversations, customers, inbox, knowledge
from server.console.access import ConsoleError, ConsoleLoginRequired, render, wants_json
from server.console.sessions import install_sessions
from server.errors import error_body


def install_console(app: FastAPI, settings: Settings) -> None:
    install_sessions(app, settings)
    app.add_exception_handler(ConsoleError, _console_error)  # type: ignore[arg-type]
    for module in (accounts, inbox, conversations, knowledge, analytics, customers):
        app.include_router(module.router)


async def _console_error(request: Request, exc: ConsoleError) -> Response:
    if wants_json(request):
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status_code)
    if isinstance(exc, ConsoleLoginRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import quote

        return RedirectResponse(f"/console/login?next={quote(target, safe='')}", status_code=303)
    return render(request, "console/error.html", {"message": exc.message}, status_code=exc.status_code)

"""Console: sign in and out, the staff page (admins add members, change roles, reset passwords, remove)
and the audit log. The members, sessions and log are `bot.staff`'s; `sessions` says who is signed in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from bot.staff import (
    ROLES,
    AccountLocked,
    InvalidStaffInput,
    LastAdminError,
    SignInRefused,
    StaffAccount,
    StaffError,
    StaffExists,
    StaffNotFound,
)
from server.console.access import (
    ConsoleError,
    RequireRole,
    StaffMember,
    StaffRole,
    audit,
    csrf_token,
    current_staff,
    render,
    require_csrf,
)
from server.console.sessions import clear_session_cookie, set_session_cookie, staff_services

router = APIRouter(prefix="/console", include_in_schema=False)

Admin = Annotated[StaffMember, Depends(RequireRole(StaffRole.ADMIN))]
Member = Annotated[StaffMember, Depends(RequireRole(StaffRole.AGENT))]
Csrf = Depends(require_csrf)
AUDIT_PAGE_SIZE = 50
_STATUS = {InvalidStaffInput: 400, StaffNotFound: 404, StaffExists: 409, LastAdminError: 409}


class ConsoleNotFound(ConsoleError):
    status_code = 404
    code = "not_found"


def safe_next(target: str | None) -> str:
    """`target` when it is a page of the console on this site; else the inbox."""
    if not target or "\\" in target or target.startswith("//"):
        return "/console"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not (parts.path == "/console" or parts.path.startswith("/console/")):
        return "/console"
    return target


def _redirect(request: Request, target: str) -> RedirectResponse:
    return RedirectResponse(request.scope.get("root_path", "") + target, status_code=303)


# -- sign in / out ------------------------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, next: str = "/console") -> Response:
    if current_staff(request) is not None:
        return _redirect(request, safe_next(next))
    return render(request, "console/login.html", {"next": safe_next(next), "email": "", "error": None})


@router.post("/login", dependencies=[Csrf])
async def login(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/console",
) -> Response:
    services = staff_services(request.app)
    target = safe_next(next)
    try:
        account = await run_in_threadpool(services.accounts.authenticate, email, password)
    except (SignInRefused, AccountLocked) as e:
        locked = isinstance(e, AccountLocked)
        detail = (
            f"locked until {e.until:%Y-%m-%d %H:%M} UTC" if isinstance(e, AccountLocked) else "wrong email or password"
        )
        await run_in_threadpool(
            services.audit.record, None, email.strip().lower()[:320], "console.sign_in_failed", "", detail
        )
        context: dict[str, Any] = {
            "next": target,
            "email": email,
            "error": "locked" if locked else "refused",
            "locked_until": e.until if isinstance(e, AccountLocked) else None,
        }
        return render(request, "console/login.html", context, status_code=423 if locked else 401)
    session = await run_in_threadpool(services.sessions.start, account.id)
    await run_in_threadpool(services.audit.record, account.id, account.email, "console.sign_in")
    response = _redirect(request, target)
    set_session_cookie(response, request, session.token)
    return response


@router.post("/logout", dependencies=[Csrf])
async def logout(request: Request, staff: Member) -> Response:
    services = staff_services(request.app)
    token = request.cookies.get("supportbot_console", "")
    if token:
        await run_in_threadpool(services.sessions.end, token)
    await run_in_threadpool(audit, request, "console.sign_out", staff.email)
    response = _redirect(request, "/console/login")
    clear_session_cookie(response, request)
    return response


@router.get("/api/session")
def session_api(request: Request, staff: Member) -> Response:
    """The signed-in member and their session's CSRF token (401 when signed out), for a page whose form outlived
    the session it was loaded in: `static/console/keep.js` refreshes the form's token before posting it again."""
    body = {"email": staff.email, "role": staff.role.value, "csrf_token": csrf_token(request)}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


# -- staff ----------------------------------------------------------------------------------------------------


def _staff_page(
    request: Request, *, error: str | None = None, status_code: int = 200, form: dict[str, str] | None = None
) -> Response:
    members = staff_services(request.app).accounts.members()
    context = {
        "members": members,
        "roles": ROLES,
        "error": error,
        "done": request.query_params.get("done"),
        "who": request.query_params.get("who", ""),
        "form": form or {},
        "now": datetime.now(UTC),
    }
    return render(request, "console/staff.html", context, status_code=status_code)


def _member(request: Request, staff_id: int) -> StaffAccount:
    account = staff_services(request.app).accounts.get(staff_id)
    if account is None:
        raise ConsoleNotFound(f"no staff member {staff_id}: they may have been removed meanwhile — reload the list")
    return account


def _refused(request: Request, error: StaffError, form: dict[str, str] | None = None) -> Response:
    status = next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 400)
    return _staff_page(request, error=str(error), status_code=status, form=form)


@router.get("/staff")
def staff_page(request: Request, _: Admin) -> Response:
    return _staff_page(request)


@router.post("/staff", dependencies=[Csrf])
def staff_add(
    request: Request,
    _: Admin,
    email: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "agent",
    password: Annotated[str, Form()] = "",
) -> Response:
    try:
        member = staff_services(request.app).accounts.add(email, password, role, display_name)
    except StaffError as e:
        return _refused(request, e, {"email": email, "display_name": display_name, "role": role})
    audit(request, "staff.add", member.email, f"role {member.role}")
    return _redirect(request, f"/console/staff?done=added&who={quote(member.email)}")


@router.post("/staff/{staff_id}/role", dependencies=[Csrf])
def staff_role(request: Request, staff_id: int, staff: Admin, role: Annotated[str, Form()] = "") -> Response:
    member = _member(request, staff_id)
    try:
        changed = staff_services(request.app).accounts.set_role(member.email, role)
    except StaffError as e:
        return _refused(request, e)
    audit(request, "staff.role", changed.email, f"{member.role} -> {changed.role}")
    if changed.id == staff.id and changed.role != "admin":
        return _redirect(request, "/console")  # no longer allowed on this page
    return _redirect(request, f"/console/staff?done=role&who={quote(changed.email)}")


@router.post("/staff/{staff_id}/password", dependencies=[Csrf])
def staff_password(request: Request, staff_id: int, staff: Admin, password: Annotated[str, Form()] = "") -> Response:
    member = _member(request, staff_id)
    services = staff_services(request.app)
    try:
        changed = services.accounts.reset_password(member.email, password)
    except StaffError as e:
        return _refused(request, e)
    audit(request, "staff.reset_password", changed.email)
    response = _redirect(request, f"/console/staff?done=password&who={quote(changed.email)}")
    if changed.id == staff.id:  # a reset ends every session of the member: keep this browser signed in
        set_session_cookie(response, request, services.sessions.start(staff.id).token)
    return response


@router.post("/staff/{staff_id}/remove", dependencies=[Csrf])
def staff_remove(request: Request, staff_id: int, staff: Admin) -> Response:
    member = _member(request, staff_id)
    try:
        removed = staff_services(request.app).accounts.remove(member.email)
    except StaffError as e:
        return _refused(request, e)
    audit(request, "staff.remove", removed.email, f"was {removed.role}")
    if removed.id == staff.id:
        return _redirect(request, "/console/login")
    return _redirect(request, f"/console/staff?done=removed&who={quote(removed.email)}")


# -- audit log ------------------------------------------------------------------------------------------------


@router.get("/audit")
def audit_page(request: Request, _: Admin, member: str = "", action: str = "", page: int = 1) -> Response:
    log = staff_services(request.app).audit
    entries = log.entries(email=member or None, action=action or None, page=max(1, page), per_page=AUDIT_PAGE_SIZE)
    context = {
        "log": entries,
        "member": member,
        "action": action,
        "actions": log.actions(),
        "members": [m.email for m in staff_services(request.app).accounts.members()],
    }
    return render(request, "console/audit.html", context)

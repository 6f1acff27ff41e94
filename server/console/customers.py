"""Console: what is stored about a customer, for admins (docs/console.md, docs/customers.md).

    GET  /console/customers?who=EMAIL          look a customer up: their profile and how much else is stored
    POST /console/customers/export             {who}: everything stored, as a JSON download
    GET  /console/customers/delete?who=EMAIL   the confirmation page: what will be deleted
    POST /console/customers/delete             {who, confirm}: delete it all once `confirm` repeats `who`

`who` is an email address or the shop's customer id of a signed-in customer. The work is `PersonalRecords`
(bot/customers/records.py), the same as `supportbot customers show|export|delete` and `/admin/customers/`,
over the same records (`get_records`). Admins only; every POST needs the CSRF token; look-ups, exports and
deletions are in the audit log (`customers.show`, `customers.export`, `customers.delete`, with the counts).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from bot.customers.records import PersonalRecords
from bot.customers.store import CustomerNotFoundError
from bot.errors import BackendError
from server.console.access import RequireRole, StaffMember, StaffRole, audit, render, require_csrf
from server.routes.admin_customers import get_records

T = TypeVar("T")

router = APIRouter(prefix="/console/customers", include_in_schema=False)

Admin = Annotated[StaffMember, Depends(RequireRole(StaffRole.ADMIN))]
Csrf = Depends(require_csrf)
MAX_WHO = 254
_FILE_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.@+-]+")


class Refused(Exception):
    """A customer operation that did not happen: the message and status for the page."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.message, self.status_code = message, status_code


async def _call(records: PersonalRecords, function: Callable[[str], T], who: str) -> T:
    if not who:
        raise Refused("type the customer's email address (or the shop's customer id) first", 400)
    if len(who) > MAX_WHO:
        raise Refused(f"that is {len(who)} characters: an email address has at most {MAX_WHO}", 400)
    try:
        return await run_in_threadpool(function, who)
    except CustomerNotFoundError as e:
        raise Refused(f"Nothing is stored about {who}: check the spelling, or try their other email.", 404) from e
    except BackendError as e:
        raise Refused(f"The customer data could not be read or changed now ({e}); try again shortly.", 503) from e


def _page(request: Request, status_code: int = 200, **context: Any) -> Response:
    full = {"who": "", "shown": None, "error": None, "deleted": None, **context}
    return render(request, "console/customers.html", full, status_code=status_code)


def _stored(shown: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in shown["stored"].items())


@router.get("")
async def customers_page(request: Request, _: Admin, who: str = "") -> Response:
    who = who.strip()
    if not who:
        return _page(request)
    records = get_records(request)
    try:
        shown = await _call(records, records.show, who)
    except Refused as e:
        return _page(request, e.status_code, who=who, error=e.message)
    audit(request, "customers.show", who, _stored(shown))
    return _page(request, who=who, shown=shown)


@router.post("/export", dependencies=[Csrf])
async def customers_export(request: Request, _: Admin, who: Annotated[str, Form()] = "") -> Response:
    who = who.strip()
    records = get_records(request)
    try:
        data = await _call(records, records.export, who)
    except Refused as e:
        return _page(request, e.status_code, who=who, error=e.message)
    audit(request, "customers.export", who, f"{len(data['conversations'])} conversation(s)")
    body = json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"
    name = _FILE_NAME_UNSAFE.sub("_", who)[:80] or "customer"
    headers = {"Content-Disposition": f'attachment; filename="customer-{name}.json"', "Cache-Control": "no-store"}
    return Response(body, media_type="application/json", headers=headers)


@router.get("/delete")
async def customers_delete_page(request: Request, _: Admin, who: str = "") -> Response:
    who = who.strip()
    records = get_records(request)
    try:
        shown = await _call(records, records.show, who)
    except Refused as e:
        return _page(request, e.status_code, who=who, error=e.message)
    return render(request, "console/customer_delete.html", {"who": who, "shown": shown, "error": None})


@router.post("/delete", dependencies=[Csrf])
async def customers_delete(
    request: Request, _: Admin, who: Annotated[str, Form()] = "", confirm: Annotated[str, Form()] = ""
) -> Response:
    who = who.strip()
    records = get_records(request)
    if confirm.strip().lower() != who.lower() or not who:
        try:
            shown = await _call(records, records.show, who)
        except Refused as e:
            return _page(request, e.status_code, who=who, error=e.message)
        error = f"Nothing was deleted: type {who} in the box to confirm."
        context = {"who": who, "shown": shown, "error": error}
        return render(request, "console/customer_delete.html", context, status_code=400)
    try:
        deleted = await _call(records, records.delete, who)
    except Refused as e:
        return _page(request, e.status_code, who=who, error=e.message)
    audit(request, "customers.delete", who, f"{deleted.total} row(s): {deleted.summary()}")
    return _page(request, deleted={"who": who, "total": deleted.total, "summary": deleted.summary()})

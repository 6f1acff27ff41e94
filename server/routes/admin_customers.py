"""Staff endpoints over what is stored about a customer (`/admin/customers/`), and the retention purge.

`GET /admin/customers/{who}` shows the profile and counts, `GET …/{who}/export` is the complete JSON,
`DELETE …/{who}` deletes it all, `POST /admin/customers/purge` purges old conversation text now; `who`
is an email or the shop's customer id of a signed-in customer (the same as `supportbot customers …`).
Unknown: 404 `not_found`; a database failure: 503 `store_unavailable`.

The router's lifespan purges conversation text older than `conversation_retention_days` when the server
starts and then every `PURGE_EVERY_SECONDS` (a failed purge is logged and tried again next time).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Request
from starlette.concurrency import run_in_threadpool

from bot.config import Settings
from bot.customers.records import PersonalRecords
from bot.customers.retention import PURGE_EVERY_SECONDS, purge_conversations
from bot.customers.store import CustomerNotFoundError
from bot.errors import BackendError
from server.routes.admin_auth import AdminDep
from server.schemas import NOT_FOUND

log = logging.getLogger("supportbot.server")
T = TypeVar("T")

Who = Annotated[
    str,
    Path(
        min_length=1, max_length=254, description="An email address, or the shop's customer id of a signed-in customer."
    ),
]


class StoreUnavailable(HTTPException):
    """503 `store_unavailable`: the database failed; nothing was changed."""

    code = "store_unavailable"

    def __init__(self, error: BaseException) -> None:
        super().__init__(503, f"the customer data could not be read or changed now ({error}); try again shortly",
                         headers={"Retry-After": "5"})  # fmt: skip


def get_records(request: Request) -> PersonalRecords:
    """`app.state.customer_records` (set by tests or on first use): the settings' database."""
    records: PersonalRecords | None = getattr(request.app.state, "customer_records", None)
    if records is None:
        records = PersonalRecords.from_settings(request.app.state.settings)
        request.app.state.customer_records = records
    return records


RecordsDep = Annotated[PersonalRecords, Depends(get_records)]


async def _call(function: Callable[[str], T], who: str) -> T:
    try:
        return await run_in_threadpool(function, who)
    except CustomerNotFoundError as e:
        raise HTTPException(404, str(e)) from e
    except BackendError as e:
        raise StoreUnavailable(e) from e


@asynccontextmanager
async def retention_lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    stop = asyncio.Event()
    task = None
    if settings.conversation_retention_days > 0:
        task = asyncio.create_task(_purge_periodically(app, settings.conversation_retention_days, stop))
    try:
        yield
    finally:
        stop.set()
        if task is not None:
            await asyncio.wait([task], timeout=5)


async def _purge_periodically(app: FastAPI, days: int, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            records = getattr(app.state, "customer_records", None) or PersonalRecords.from_settings(app.state.settings)
            app.state.customer_records = records
            await run_in_threadpool(purge_conversations, records.database, days)
        except Exception:
            log.exception("the retention purge failed; it runs again in %d hours", PURGE_EVERY_SECONDS // 3600)
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=PURGE_EVERY_SECONDS)


router = APIRouter(prefix="/admin/customers", tags=["admin"], lifespan=retention_lifespan)


@router.post("/purge")
async def purge(_: AdminDep, records: RecordsDep, request: Request) -> dict[str, Any]:
    """Purge conversation text older than `conversation_retention_days` now (0: nothing is purged)."""
    days = request.app.state.settings.conversation_retention_days
    try:
        purged = await run_in_threadpool(purge_conversations, records.database, days)
    except BackendError as e:
        raise StoreUnavailable(e) from e
    return {"retention_days": days, "purged": purged.rows}


@router.get("/{who}", responses=NOT_FOUND)
async def show_customer(who: Who, _: AdminDep, records: RecordsDep) -> dict[str, Any]:
    """The customer's profile and how much else is stored about them."""
    return await _call(records.show, who)


@router.get("/{who}/export", responses=NOT_FOUND)
async def export_customer(who: Who, _: AdminDep, records: RecordsDep) -> dict[str, Any]:
    """Everything stored about the customer: profile, conversations, feedback, handoff tickets, unanswered questions."""
    return await _call(records.export, who)


@router.delete("/{who}", responses=NOT_FOUND)
async def delete_customer(who: Who, _: AdminDep, records: RecordsDep) -> dict[str, Any]:
    """Delete everything stored about the customer (logged without personal data); their orders stay in the shop."""
    deleted = await _call(records.delete, who)
    return {"deleted": True, "rows": deleted.rows}

"""Admin routes for the knowledge base: status and a manual reload.

    GET  /admin/knowledge/status   {"ok", "entries", "files", "last_reload", "last_error": [...], "last_error_at",
                                    "next_retry", "failed_reloads": {"invalid", "failed"}, "warnings", ...}
    POST /admin/knowledge/reload   reloads now; 200 with the status, 422 with it when the files are invalid,
                                   503 with it when the reload failed (a disk or cache fault; the watcher retries)

`ok` is false while the last reload failed or found errors; the last good version keeps answering meanwhile.

The service is `request.app.state.knowledge` (a `bot.faq.service.KnowledgeService`).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from bot.faq.reload_health import ReloadOutcome
from bot.faq.service import KnowledgeService
from server.routes.admin_auth import require_admin

router = APIRouter(prefix="/admin/knowledge", tags=["admin"], dependencies=[Depends(require_admin)])


def get_knowledge(request: Request) -> KnowledgeService:
    service: Any = getattr(request.app.state, "knowledge", None)
    if not isinstance(service, KnowledgeService):
        raise RuntimeError("app.state.knowledge is not set: the app must create the KnowledgeService at start-up")
    return service


KnowledgeDep = Annotated[KnowledgeService, Depends(get_knowledge)]
_RELOAD_STATUS: dict[ReloadOutcome, int] = {"ok": 200, "invalid": 422, "failed": 503}


@router.get("/status")
def knowledge_status(knowledge: KnowledgeDep) -> dict[str, Any]:
    return knowledge.status()


@router.post(
    "/reload",
    responses={
        422: {
            "description": "The knowledge files have errors (listed in `last_error`); the last good version answers."
        },
        503: {
            "description": "The reload failed (a disk or cache fault); the last good version answers; it is retried."
        },
    },
)
async def knowledge_reload(knowledge: KnowledgeDep) -> JSONResponse:
    outcome = await asyncio.to_thread(knowledge.reload_outcome)
    return JSONResponse(knowledge.status(), status_code=_RELOAD_STATUS[outcome])

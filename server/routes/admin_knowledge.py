"""Admin routes for the knowledge base: status and a manual reload.

    GET  /admin/knowledge/status   {"ok", "entries", "files", "last_reload", "last_error": [...], ...}
    POST /admin/knowledge/reload   reloads now; 200 with the status, or 422 with it when the files are invalid

The service is `request.app.state.knowledge` (a `bot.faq.service.KnowledgeService`).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from bot.faq.service import KnowledgeService
from server.routes.admin_auth import require_admin

router = APIRouter(prefix="/admin/knowledge", tags=["admin"], dependencies=[Depends(require_admin)])


def get_knowledge(request: Request) -> KnowledgeService:
    service: Any = getattr(request.app.state, "knowledge", None)
    if not isinstance(service, KnowledgeService):
        raise RuntimeError("app.state.knowledge is not set: the app must create the KnowledgeService at start-up")
    return service


KnowledgeDep = Annotated[KnowledgeService, Depends(get_knowledge)]


@router.get("/status")
def knowledge_status(knowledge: KnowledgeDep) -> dict[str, Any]:
    return knowledge.status()


@router.post("/reload")
async def knowledge_reload(knowledge: KnowledgeDep) -> JSONResponse:
    ok = await asyncio.to_thread(knowledge.reload)
    return JSONResponse(knowledge.status(), status_code=200 if ok else 422)

"""Liveness and readiness.

`/healthz` answers as long as the process serves HTTP. `/readyz` answers 200 only when the model, the
knowledge base (when a knowledge folder exists) and the database are ready, with one entry per check:

    {"status": "ready", "checks": {"model": {"status": "ok", ...}, "knowledge": {...}, "database": {...}}}
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

log = logging.getLogger("supportbot.server")
router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """The model, indexes and database are loaded; one check each."""
    state = request.app.state
    assistant = getattr(state, "assistant", None)
    checks: dict[str, dict[str, Any]] = {
        "model": _model_check(assistant),
        "knowledge": _knowledge_check(getattr(state, "knowledge", None), assistant),
        "database": await run_in_threadpool(_database_check, assistant),
    }
    ready = all(c["status"] in ("ok", "off") for c in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "starting", "checks": checks}, status_code=200 if ready else 503
    )


def _model_check(assistant: Any) -> dict[str, Any]:
    if assistant is None:
        return {"status": "starting"}
    encoder = assistant.encoder
    return {"status": "ok", "encoder": str(encoder.fingerprint), "intents": len(assistant.nlu.intents)}


def _knowledge_check(knowledge: Any, assistant: Any) -> dict[str, Any]:
    if assistant is None:
        return {"status": "starting"}
    if knowledge is None:
        return {"status": "off"}
    if not getattr(knowledge, "loaded", True):
        return {"status": "error", "message": "the knowledge base is not loaded"}
    status = getattr(knowledge, "status", None)
    entries = status().get("entries") if callable(status) else None
    return {"status": "ok", "entries": entries} if entries is not None else {"status": "ok"}


def _database_check(assistant: Any) -> dict[str, Any]:
    if assistant is None:
        return {"status": "starting"}
    try:
        assistant.tracker_store.load("__readyz__")
    except Exception as e:  # any driver error means "not ready", reported, never raised
        log.warning("readiness: the tracker store is not reachable: %s", e)
        return {"status": "error", "message": f"the tracker store is not reachable: {type(e).__name__}"}
    return {"status": "ok"}

"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """The model, indexes and database are loaded."""
    ready = getattr(request.app.state, "assistant", None) is not None
    return JSONResponse({"status": "ready" if ready else "starting"}, status_code=200 if ready else 503)

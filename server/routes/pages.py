"""The demo storefront at `/` (an Atelier Nord shop page with the chat widget) and the `/static` mount."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from server.dependencies import SettingsDep

SERVER_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = SERVER_DIR / "static"
TEMPLATES_DIR = SERVER_DIR / "templates"

router = APIRouter(tags=["pages"])
templates = Jinja2Templates(directory=TEMPLATES_DIR)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index(request: Request, settings: SettingsDep) -> HTMLResponse:
    """The demo shop page, with the widget embedded by its one script tag (its message limit is the
    server's `max_message_chars`)."""
    context = {"root_path": request.scope.get("root_path", ""), "max_message_chars": settings.max_message_chars}
    return templates.TemplateResponse(request, "index.html", context)


def mount_static(app: FastAPI) -> None:
    """Serve `server/static/` (widget.js and its icons) at `/static`."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

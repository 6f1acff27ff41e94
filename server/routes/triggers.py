"""Page triggers for the widget: `GET /widget/triggers`, and `GET /admin/triggers` for staff (docs/proactive.md).

The widget fetches the triggers once per page and evaluates them itself (page pattern, seconds on the
page, returning visitor, the page's values, caps, typing, dismissal). The file is re-read when it changes;
while it has errors the last good triggers keep serving and `GET /admin/triggers` lists the problems
with file:line.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from bot.config import Settings
from bot.errors import display_path
from bot.proactive.triggers import TriggerFile
from server.routes.admin_auth import AdminDep

router = APIRouter(tags=["widget"])
_lock = threading.Lock()


def trigger_file(state: Any) -> TriggerFile:
    """`app.state.triggers`, created on first use from the settings."""
    with _lock:
        found: TriggerFile | None = getattr(state, "triggers", None)
        if found is None:
            settings: Settings = state.settings
            path = settings.path(settings.triggers_file)
            found = TriggerFile(path, display_path(path, settings.project_dir))
            state.triggers = found
        return found


@router.get("/widget/triggers")
async def widget_triggers(request: Request, response: Response) -> dict[str, Any]:
    """The page triggers (the last good ones while the file has errors)."""
    current = await run_in_threadpool(trigger_file(request.app.state).current)
    response.headers["Cache-Control"] = "no-cache"
    return current.as_json()


@router.get("/admin/triggers")
async def admin_triggers(request: Request, _admin: AdminDep) -> dict[str, Any]:
    """The triggers serving now and the problems of the file on disk (empty when it is valid)."""
    file = trigger_file(request.app.state)
    current = await run_in_threadpool(file.current)
    return {**current.as_json(), "file": file.display, "problems": [p.as_dict() for p in file.problems]}

"""Liveness and readiness (docs/operations.md).

`/healthz` answers as long as the process serves HTTP. `/readyz` answers 200 when the bot can take
messages, with one entry per check:

    {"status": "ready", "checks": {"model": {"status": "ok", ...}, "knowledge": {...}, "database": {...},
                                   "actions": {"status": "ok", "runner": "remote", "breaker": "closed"}}}

- `database` loads a conversation and writes a probe row, checking the SQLite file is still the one opened;
  the outcome is cached for `DATABASE_PROBE_SECONDS`, so probes cost one small write every few seconds.
  A store that cannot write is `error`: 503, since every turn would be refused.
- `actions` reports the remote action server's circuit breaker. While it is open the check is `degraded`
  and the answer stays 200 with `"status": "degraded"`: knowledge questions and small talk are answered
  as usual, task actions (orders, returns, appointments, handoff) answer with an apology until a probe
  call closes the breaker. In-process actions are always `ok`.

Top-level `status`: `ready`, `degraded` (200), `starting` (no assistant yet) or `not_ready` (503).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bot.dialogue.action_runner import RemoteActionRunner
from bot.dialogue.tracker_store import TrackerStoreError

log = logging.getLogger("supportbot.server")
router = APIRouter(tags=["operations"])

DATABASE_PROBE_SECONDS = 2.0
READY = ("ok", "off", "degraded")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """The model, indexes and database are ready; the action server's breaker is reported. One check each."""
    state = request.app.state
    assistant = getattr(state, "assistant", None)
    checks: dict[str, dict[str, Any]] = {
        "model": _model_check(assistant),
        "knowledge": _knowledge_check(getattr(state, "knowledge", None), assistant),
        "database": await run_in_threadpool(_database_probe(state).check, assistant),
        "actions": _actions_check(assistant),
    }
    statuses = [c["status"] for c in checks.values()]
    ready = all(s in READY for s in statuses)
    if assistant is None:
        status = "starting"
    elif not ready:
        status = "not_ready"
    else:
        status = "degraded" if "degraded" in statuses else "ready"
    return JSONResponse({"status": status, "checks": checks}, status_code=200 if ready else 503)


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


def _actions_check(assistant: Any) -> dict[str, Any]:
    if assistant is None:
        return {"status": "starting"}
    runner = getattr(getattr(assistant, "engine", None), "runner", None)
    if runner is None:
        return {"status": "off"}
    if not isinstance(runner, RemoteActionRunner):
        return {"status": "ok", "runner": "in-process"}
    breaker = runner.status()
    check: dict[str, Any] = {"status": "ok", "runner": "remote", "breaker": breaker.state}
    if breaker.state == "open":
        check["status"] = "degraded"
        check["retry_in_seconds"] = breaker.retry_in_seconds
        check["message"] = (
            f"the action server failed {breaker.consecutive_failures} times in a row: task actions answer with "
            "an apology until a probe call succeeds; knowledge questions are answered as usual"
        )
    return check


@dataclass
class _Probe:
    store_id: int
    at: float
    check: dict[str, Any]


class DatabaseProbe:
    """The database check, cached for `DATABASE_PROBE_SECONDS`; changes between ok and error are logged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: _Probe | None = None

    def check(self, assistant: Any) -> dict[str, Any]:
        if assistant is None:
            return {"status": "starting"}
        store = assistant.tracker_store
        with self._lock:
            last = self._last
            if last is not None and last.store_id == id(store) and time.monotonic() - last.at < DATABASE_PROBE_SECONDS:
                return last.check
            check = _probe_store(store)
            if last is not None and last.check["status"] != check["status"]:
                log.warning("readiness: the database check is %s now", check["status"])
            self._last = _Probe(id(store), time.monotonic(), check)
            return check


def _probe_store(store: Any) -> dict[str, Any]:
    try:
        store.load("__readyz__")
        store.check_writable()
    except TrackerStoreError as e:
        log.warning("readiness: %s", e)
        return {"status": "error", "message": f"the conversation store cannot save turns: {e.reason}"}
    except Exception as e:  # any driver error means "not ready", reported, never raised
        log.warning("readiness: the tracker store is not reachable: %s", e)
        return {"status": "error", "message": f"the tracker store is not reachable: {type(e).__name__}"}
    return {"status": "ok"}


def _database_probe(state: Any) -> DatabaseProbe:
    """The app's probe (made on the event loop's thread, so never twice)."""
    probe: DatabaseProbe | None = getattr(state, "database_probe", None)
    if probe is None:
        probe = DatabaseProbe()
        state.database_probe = probe
    return probe

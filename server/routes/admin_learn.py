"""Admin API of learning (the staff console's): review suggestions, accept or reject them, follow the retraining.

    GET  /admin/learn/suggestions?state=open        {"suggestions": [...]} (open | accepted | rejected | all)
    POST /admin/learn/refresh                       read the signals, store the suggestions; {"signals", "groups",
                                                    "resolved_groups", "suggestions"}
    GET  /admin/learn/suggestions/{id}              {"suggestion", "diff", "base_hash", "conflict"}
    POST /admin/learn/suggestions/{id}/preview      the same for a body of changes (entry, intent, question, …)
    POST /admin/learn/suggestions/{id}/accept       {"by", "base_hash"?, changes…} → {"suggestion", "change",
                                                    "knowledge"?, "retrain"?}
    POST /admin/learn/suggestions/{id}/reject       {"by", "note"?} → {"suggestion"}
    GET  /admin/learn/audit                         {"audit": [...]} newest first
    GET  /admin/learn/model                         the background retraining: state, serving model, last outcome
    POST /admin/learn/retrain                       202: retrain now if the data changed

Errors (the JSON error shape): 404 `not_found`; 409 `already_decided` (accepted or rejected before: nothing
changed) or `file_changed` (the file was edited since the diff: nothing written); 422 `not_applicable` (the
change cannot be made, e.g. a new entry without an answer) or `invalid_request`; 503 `not_ready` while starting.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from bot.learning.changes import FileChange, Overrides
from bot.learning.errors import FileChanged, LearningError, SuggestionDecided, SuggestionNotFound
from bot.learning.learner import Learner
from bot.learning.suggestions import SUGGESTION_STATES
from server.dependencies import SettingsDep
from server.errors import ErrorOut
from server.routes.admin_auth import require_admin
from server.turns import ready_assistant

router = APIRouter(prefix="/admin/learn", tags=["admin"], dependencies=[Depends(require_admin)])

SuggestionId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The suggestion's id.")]
_STATUS = {SuggestionNotFound: 404, SuggestionDecided: 409, FileChanged: 409}


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _error("No suggestion has this id (`not_found`).")}
DECISION_ERRORS: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    409: _error(
        "`already_decided`: the suggestion was accepted or rejected before, nothing changed; `file_changed`: the "
        "file was edited since the diff was made, nothing written (refresh, check the new diff, accept again)."
    ),
    422: _error("`not_applicable`: the change cannot be made as asked (the message says why); nothing written."),
}


class LearningHTTPError(HTTPException):
    """A `LearningError` as an HTTP error; its `code` names it in the JSON error shape."""

    def __init__(self, error: LearningError) -> None:
        super().__init__(_STATUS.get(type(error), 422), str(error))
        self.code = error.code


class Changes(BaseModel):
    """What the person accepting changes of the suggestion (all optional)."""

    entry: str | None = Field(None, max_length=200, description="Add the phrasings to this knowledge entry instead.")
    intent: str | None = Field(None, max_length=200, description="Add the examples to this intent instead.")
    question: str | None = Field(None, max_length=500, description="A new entry's question (default: the draft).")
    answer: str | None = Field(None, max_length=20000, description="A new entry's answer: required for a new entry.")
    file: str | None = Field(None, max_length=500, description="A new entry's file, e.g. knowledge/payments.md.")
    phrasings: list[str] | None = Field(None, max_length=50, description="Add only these phrasings.")

    def overrides(self) -> Overrides:
        phrasings = tuple(self.phrasings) if self.phrasings is not None else None
        return Overrides(self.entry, self.intent, self.question, self.answer, self.file, phrasings)


class AcceptRequest(Changes):
    by: str = Field(min_length=1, max_length=200, description="Who accepts (a staff name or login), for the audit.")
    base_hash: str | None = Field(
        None,
        max_length=64,
        description="The `base_hash` of the diff the person saw (GET or preview); default: the one the suggestion "
        "was prepared from. Another content of the file now is a 409 `file_changed`.",
    )


class RejectRequest(BaseModel):
    by: str = Field(min_length=1, max_length=200, description="Who rejects, for the audit.")
    note: str | None = Field(None, max_length=2000, description="Why (kept in the audit).")


_learner_lock = threading.Lock()


def get_learner(request: Request) -> Learner:
    """The app's learner, made on first use (503 while the bot is starting)."""
    app = request.app
    ready_assistant(app)
    learner: Learner | None = getattr(app.state, "learner", None)
    if learner is not None:
        return learner
    with _learner_lock:
        learner = getattr(app.state, "learner", None)
        if learner is None:
            learner = _make_learner(app)
            app.state.learner = learner
    return learner


def _make_learner(app: Any) -> Learner:
    from bot.learning.wiring import OneAtATime, make_learner

    def parse(text: str) -> tuple[str, float, bool]:
        result = ready_assistant(app).parse(text)
        return result.intent.name, result.intent.confidence, result.abstained

    def changed(change: FileChange) -> None:
        if change.area == "knowledge" and app.state.knowledge is not None:
            app.state.knowledge.reload_outcome()  # as the watcher would on a hand edit, before the answer
        refresher = getattr(app.state, "model_refresher", None)
        if change.area == "intents" and refresher is not None:
            refresher.request(f"accepted suggestion changed {change.shown}")

    return make_learner(
        app.state.settings,
        encoder=OneAtATime(ready_assistant(app).encoder),
        knowledge=app.state.knowledge,
        intent_parser=parse,
        on_change=changed,
    )


LearnerDep = Annotated[Learner, Depends(get_learner)]


async def _call(function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await run_in_threadpool(function, *args, **kwargs)
    except LearningError as e:
        raise LearningHTTPError(e) from e


@router.get("/suggestions")
async def list_suggestions(learner: LearnerDep, state: str = "open", limit: int = 200) -> dict[str, Any]:
    """Suggestions as the last refresh stored them: open ones biggest first, decided ones newest first."""
    if state not in (*SUGGESTION_STATES, "all"):
        raise HTTPException(422, f"state '{state}' is not one of: {', '.join(SUGGESTION_STATES)}, all")
    if not 1 <= limit <= 1000:
        raise HTTPException(422, f"limit must be between 1 and 1000; got {limit}")
    items = await _call(learner.suggestions, None if state == "all" else state, limit)
    return {"suggestions": [s.as_dict() for s in items]}


@router.post("/refresh")
async def refresh(learner: LearnerDep) -> dict[str, Any]:
    """Read the signals of the window, group them and store the suggestions (the open ones are replaced; a
    suggestion for the same change keeps its id)."""
    report = await _call(learner.refresh)
    return {
        "signals": report.signals,
        "groups": report.groups,
        "resolved_groups": report.resolved_groups,
        "suggestions": [s.as_dict() for s in report.suggestions],
    }


async def _preview(learner: Learner, suggestion_id: int, changes: Changes) -> dict[str, Any]:
    preview = await _call(learner.preview, suggestion_id, changes.overrides())
    change = preview.change
    return {
        "suggestion": preview.suggestion.as_dict(),
        "file": change.shown if change is not None else None,
        "diff": preview.diff if change is not None else None,
        "base_hash": change.before_hash if change is not None else None,
        "conflict": preview.conflict,
    }


@router.get("/suggestions/{suggestion_id}", responses=NOT_FOUND)
async def get_suggestion(suggestion_id: SuggestionId, learner: LearnerDep) -> dict[str, Any]:
    """The suggestion and the diff accepting it would write now (`conflict`: the file changed since it was
    prepared; refresh first). A new entry's diff shows a placeholder where its answer goes."""
    return await _preview(learner, suggestion_id, Changes())


@router.post("/suggestions/{suggestion_id}/preview", responses=DECISION_ERRORS)
async def preview_suggestion(suggestion_id: SuggestionId, body: Changes, learner: LearnerDep) -> dict[str, Any]:
    """The diff accepting with these changes would write now, and the `base_hash` to accept it with."""
    return await _preview(learner, suggestion_id, body)


@router.post("/suggestions/{suggestion_id}/accept", responses=DECISION_ERRORS)
async def accept_suggestion(
    suggestion_id: SuggestionId, body: AcceptRequest, learner: LearnerDep, request: Request
) -> dict[str, Any]:
    """Write the change into the file a person would edit, validate it as a hand edit, record who and when.
    A knowledge change is live when this answers; an intents change starts a background retrain."""
    accepted = await _call(learner.accept, suggestion_id, body.by, body.overrides(), expected_hash=body.base_hash)
    change = accepted.change
    out: dict[str, Any] = {
        "suggestion": accepted.suggestion.as_dict(),
        "change": {"file": change.shown, "diff": change.diff()} if change is not None else None,
    }
    state = request.app.state
    if change is not None and change.area == "knowledge" and state.knowledge is not None:
        out["knowledge"] = state.knowledge.status()
    refresher = getattr(state, "model_refresher", None)
    if change is not None and change.area == "intents" and refresher is not None:
        out["retrain"] = refresher.status()
    return out


@router.post("/suggestions/{suggestion_id}/reject", responses=DECISION_ERRORS)
async def reject_suggestion(suggestion_id: SuggestionId, body: RejectRequest, learner: LearnerDep) -> dict[str, Any]:
    """Record the rejection: the suggestion's messages are not suggested again."""
    rejected = await _call(learner.reject, suggestion_id, body.by, body.note)
    return {"suggestion": rejected.as_dict()}


@router.get("/audit")
async def audit(learner: LearnerDep, limit: int = 200) -> dict[str, Any]:
    """Every decision: who accepted or rejected which suggestion, when, and the diff written."""
    if not 1 <= limit <= 1000:
        raise HTTPException(422, f"limit must be between 1 and 1000; got {limit}")
    records = await _call(learner.audit, limit)
    return {"audit": [r.as_dict() for r in records]}


@router.get("/model")
def model_status(request: Request, settings: SettingsDep) -> dict[str, Any]:
    """The background retraining: `state` idle | waiting | training | failed | invalid, the serving `model`,
    the last outcome and its message."""
    refresher = getattr(request.app.state, "model_refresher", None)
    if refresher is None:
        return {"state": "off" if not settings.learning_retrain else "starting"}
    status: dict[str, Any] = refresher.status()
    return status


@router.post("/retrain", status_code=202, responses={503: _error("The bot is starting (`not_ready`).")})
def retrain(request: Request) -> JSONResponse:
    """Retrain in the background if the intents data changed since the serving model was trained."""
    ready_assistant(request.app)
    refresher = getattr(request.app.state, "model_refresher", None)
    if refresher is None:
        raise HTTPException(422, "background retraining is off (learning_retrain = false): run `supportbot train`")
    refresher.request("POST /admin/learn/retrain")
    return JSONResponse(refresher.status(), status_code=202)


def start_retraining(app: Any, serving: Any, encoder: Any, stop: asyncio.Event) -> asyncio.Task[None] | None:
    """The model swap, started by the lifespan: with `learning_retrain`, a `ModelRefresher` retrains in the
    background when intents/ changes (or on request) and puts each new assistant on `app.state.assistant`,
    where every channel takes it per message (`server.turns.TurnPath.of`); None when it is off."""
    settings = app.state.settings
    if not settings.learning_retrain:
        return None
    from bot.learning.serving import model_refresher

    def swap(assistant: Any) -> None:
        app.state.assistant = assistant

    refresher = model_refresher(settings, serving, encoder, swap)
    app.state.model_refresher = refresher
    return asyncio.create_task(refresher.watch(settings.intents_path, stop))

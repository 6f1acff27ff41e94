"""Console: the knowledge base (browse, search, edit an entry, the test panel) and the learning suggestions.

    GET  /console/knowledge?q=…                  entries grouped by topic (the file's title), with file:line
    GET  /console/knowledge/test?q=…             the test panel: top 5 entries, intent ranking, the customer's answer
    GET  /console/knowledge/{entry id}           one entry (a form for editors, read-only for agents)
    POST /console/knowledge/{entry id}           editors: write the edit to its Markdown file, then reload
                                                 (session ended / stale CSRF token: the form again, text kept)
    GET  /console/suggestions                    editors: the open learning suggestions with their evidence
    POST /console/suggestions/{id}/accept|reject editors: decide one (the same `Learner` as /admin/learn)

An edit goes through `bot.faq.editing.save_entry`: the whole knowledge base is re-validated with the edit before
anything is written; an invalid edit is shown with the file:line and fix of each problem and nothing is written
(the last good index keeps serving); a file changed since the form was loaded is refused with the person's text
shown back. After a write the running knowledge base reloads at once (the file watcher would within ~1 s).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from bot.errors import KnowledgeError, Problem
from bot.faq.editing import EntryEdit, KnowledgeFileChanged, file_hash, read_text, save_entry
from bot.faq.entry import KnowledgeEntry
from bot.faq.service import KnowledgeService
from bot.faq.trial import Trial, try_question
from bot.learning.changes import Overrides
from bot.learning.errors import LearningError
from bot.learning.learner import Learner
from server.console.access import (
    CSRF_REJECTED,
    ConsoleCsrfRejected,
    ConsoleLoginRequired,
    RequireRole,
    StaffMember,
    StaffRole,
    audit,
    csrf_valid,
    current_staff,
    render,
    require_csrf,
    wants_json,
)
from server.routes.admin_learn import LearningHTTPError, get_learner
from server.turns import NotReady, ready_assistant

router = APIRouter(prefix="/console", include_in_schema=False)

AgentDep = Annotated[StaffMember, Depends(RequireRole(StaffRole.AGENT))]
EditorDep = Annotated[StaffMember, Depends(RequireRole(StaffRole.EDITOR))]
CsrfDep = Depends(require_csrf)
MAX_QUERY = 500
MAX_ANSWER = 20_000
SUGGESTIONS_SHOWN = 50


def _knowledge(request: Request) -> KnowledgeService | None:
    service = getattr(request.app.state, "knowledge", None)
    return service if isinstance(service, KnowledgeService) and service.loaded else None


def _not_ready(request: Request) -> Response:
    return render(
        request,
        "console/error.html",
        {"message": "the knowledge base is still loading: try again in a moment"},
        status_code=503,
    )


def _matches(entry: KnowledgeEntry, words: list[str]) -> bool:
    text = " ".join((entry.question, *entry.alternates, entry.answer, entry.id)).casefold()
    return all(word in text for word in words)


# -- browse --------------------------------------------------------------------------------------------------
@router.get("/knowledge")
def knowledge_list(request: Request, staff: AgentDep, q: str = "") -> Response:
    service = _knowledge(request)
    if service is None:
        return _not_ready(request)
    query = q.strip()[:MAX_QUERY]
    words = query.casefold().split()
    topics: dict[tuple[str, str], list[KnowledgeEntry]] = defaultdict(list)
    entries = service.snapshot.entries
    shown = [e for e in entries if _matches(e, words)] if words else list(entries)
    for entry in shown:
        topics[(entry.title, entry.file)].append(entry)
    context = {
        "topics": sorted(topics.items()),
        "q": query,
        "count": len(shown),
        "total": len(entries),
        "can_edit": staff.may(StaffRole.EDITOR),
    }
    return render(request, "console/knowledge.html", context)


# -- the test panel (before /knowledge/{id}: ids may contain "/") ------------------------------------------------
@router.get("/knowledge/test")
async def knowledge_test(request: Request, staff: AgentDep, q: str = "") -> Response:
    service = _knowledge(request)
    question = q.strip()[:MAX_QUERY]
    trial: Trial | None = None
    error: str | None = None
    if question:
        try:
            assistant = ready_assistant(request.app)
        except NotReady:
            assistant = None
        if service is None or assistant is None:
            error = "the bot is still starting: try again in a moment"
        else:
            trial = await run_in_threadpool(_try, assistant, service, question)
    return render(request, "console/knowledge_test.html", {"q": question, "trial": trial, "error": error})


def _try(assistant: Any, service: KnowledgeService, text: str) -> Trial:
    """The serving assistant's parse of `text` (one encoder pass) and the knowledge base's answer; read-only."""
    encoded = assistant.encode([text])
    parse = assistant.parse(text, encoded)
    return try_question(parse, encoded.vectors[0], service.snapshot.responder)


# -- one entry ---------------------------------------------------------------------------------------------------
EntryId = Annotated[str, Path(max_length=300)]


def _entry_page(
    request: Request,
    entry: KnowledgeEntry,
    staff: StaffMember,
    *,
    form: dict[str, str] | None = None,
    problems: list[Problem] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    service = _knowledge(request)
    root = service.root if service is not None else None
    try:
        current_hash = file_hash(read_text(root / entry.file)) if root is not None else ""
    except OSError:
        current_hash = ""
    values = form or {
        "question": entry.question,
        "alternates": "\n".join(entry.alternates),
        "answer": entry.answer,
        "file_hash": current_hash,
    }
    context = {
        "entry": entry,
        "form": values,
        "problems": problems or [],
        "message": message,
        "saved": request.query_params.get("saved") == "1",
        "editable": staff.may(StaffRole.EDITOR),
        "is_markdown": entry.file.lower().endswith(".md"),
    }
    return render(request, "console/knowledge_entry.html", context, status_code=status_code)


@router.get("/knowledge/{entry_id:path}")
def knowledge_entry(request: Request, entry_id: EntryId, staff: AgentDep) -> Response:
    service = _knowledge(request)
    if service is None:
        return _not_ready(request)
    entry = service.snapshot.entry(entry_id)
    if entry is None:
        return render(request, "console/error.html", {"message": f"there is no entry '{entry_id}'"}, status_code=404)
    return _entry_page(request, entry, staff)


async def _kept(request: Request, entry_id: str, form: dict[str, str]) -> Response | None:
    """When the edit cannot be saved because the session ended or the form's CSRF token is out of date (a
    new session since the page was loaded): the form again with the person's text and what to do, so
    nothing typed is lost. None when the edit may go on. JSON clients get the usual 403 / 401."""
    staff = current_staff(request)
    if staff is not None:
        RequireRole(StaffRole.EDITOR)(request)  # an agent is refused (403) whatever the token
    valid = await csrf_valid(request)
    if staff is not None and valid:
        return None
    if wants_json(request):
        if not valid:
            raise ConsoleCsrfRejected(CSRF_REJECTED)
        raise ConsoleLoginRequired("sign in to the console first")
    context = {"entry_id": entry_id, "form": form, "signed_out": staff is None}
    return render(request, "console/knowledge_kept.html", context, status_code=401 if staff is None else 403)


@router.post("/knowledge/{entry_id:path}")
async def knowledge_save(
    request: Request,
    entry_id: EntryId,
    question: Annotated[str, Form(max_length=2000)] = "",
    alternates: Annotated[str, Form(max_length=20_000)] = "",
    answer: Annotated[str, Form(max_length=MAX_ANSWER)] = "",
    file_hash: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Save an edit (editors; the CSRF token is checked by `_kept`, which keeps the text when it fails)."""
    form = {"question": question, "alternates": alternates, "answer": answer, "file_hash": file_hash}
    kept = await _kept(request, entry_id, form)
    if kept is not None:
        return kept
    staff = RequireRole(StaffRole.EDITOR)(request)
    service = _knowledge(request)
    if service is None:
        return _not_ready(request)
    entry = service.snapshot.entry(entry_id)
    if entry is None:
        return render(request, "console/error.html", {"message": f"there is no entry '{entry_id}'"}, status_code=404)
    edit = EntryEdit.from_form(question, alternates, answer)
    try:
        await run_in_threadpool(
            save_entry, service.knowledge_path, service.root, entry.file, entry.id, edit, expected_hash=file_hash
        )
    except KnowledgeFileChanged as e:
        return _entry_page(request, entry, staff, form=form, problems=list(e.problems), status_code=409)
    except KnowledgeError as e:
        message = "nothing was written: fix the problems below and save again"
        return _entry_page(request, entry, staff, form=form, problems=list(e.errors), message=message, status_code=422)
    outcome = await run_in_threadpool(service.reload_outcome)  # live now, not at the watcher's next pass
    audit(request, "knowledge.edit", f"{entry.file}#{entry.id}", f"reload {outcome}")
    new_id = entry.id if entry.explicit_id else _id_after(service, entry, edit)
    return RedirectResponse(f"{request.scope.get('root_path', '')}/console/knowledge/{new_id}?saved=1", 303)


def _id_after(service: KnowledgeService, entry: KnowledgeEntry, edit: EntryEdit) -> str:
    """The id of an entry without `{#id}` after its question changed (it is made from the question)."""
    found = next(
        (e for e in service.snapshot.entries if e.file == entry.file and e.question == edit.question),
        None,
    )
    return found.id if found is not None else entry.id


# -- learning suggestions ----------------------------------------------------------------------------------------
SuggestionId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _learner(request: Request) -> Learner | None:
    try:
        return get_learner(request)
    except NotReady:
        return None


def _suggestions_page(
    request: Request, learner: Learner, *, error: str | None = None, done: str | None = None, status_code: int = 200
) -> Response:
    items = []
    for suggestion in learner.suggestions("open", SUGGESTIONS_SHOWN):
        assert suggestion.id is not None
        try:
            preview = learner.preview(suggestion.id)
            change = preview.change
            diff, base, conflict = (change.diff(), change.before_hash, preview.conflict) if change else ("", "", False)
        except LearningError as e:
            diff, base, conflict = f"(cannot be applied: {e})", "", False
        items.append({"s": suggestion, "diff": diff, "base_hash": base, "conflict": conflict})
    context = {"items": items, "error": error, "done": done}
    return render(request, "console/suggestions.html", context, status_code=status_code)


@router.get("/suggestions")
async def suggestions(request: Request, staff: EditorDep) -> Response:
    learner = _learner(request)
    if learner is None:
        return _not_ready(request)
    done = {"accepted": "Accepted: the change is written.", "rejected": "Rejected."}.get(
        request.query_params.get("done", "")
    )
    return await run_in_threadpool(lambda: _suggestions_page(request, learner, done=done))


async def _refused(request: Request, learner: Learner, error: LearningError) -> Response:
    """The suggestions again, with why the decision was refused (the API's status for the same error)."""
    status, message = LearningHTTPError(error).status_code, str(error)
    return await run_in_threadpool(lambda: _suggestions_page(request, learner, error=message, status_code=status))


@router.post("/suggestions/{suggestion_id}/accept", dependencies=[CsrfDep])
async def suggestion_accept(
    request: Request,
    suggestion_id: SuggestionId,
    staff: EditorDep,
    base_hash: Annotated[str, Form(max_length=64)] = "",
    answer: Annotated[str, Form(max_length=MAX_ANSWER)] = "",
) -> Response:
    learner = _learner(request)
    if learner is None:
        return _not_ready(request)
    overrides = Overrides(answer=answer if answer.strip() else None)
    try:
        await run_in_threadpool(learner.accept, suggestion_id, staff.email, overrides, expected_hash=base_hash or None)
    except LearningError as e:
        return await _refused(request, learner, e)
    audit(request, "suggestion.accept", f"suggestion/{suggestion_id}")
    return RedirectResponse(f"{request.scope.get('root_path', '')}/console/suggestions?done=accepted", 303)


@router.post("/suggestions/{suggestion_id}/reject", dependencies=[CsrfDep])
async def suggestion_reject(
    request: Request,
    suggestion_id: SuggestionId,
    staff: EditorDep,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    learner = _learner(request)
    if learner is None:
        return _not_ready(request)
    try:
        await run_in_threadpool(learner.reject, suggestion_id, staff.email, note.strip() or None)
    except LearningError as e:
        return await _refused(request, learner, e)
    audit(request, "suggestion.reject", f"suggestion/{suggestion_id}")
    return RedirectResponse(f"{request.scope.get('root_path', '')}/console/suggestions?done=rejected", 303)

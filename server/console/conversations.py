"""Console: conversation review (`/console/conversations`) and one conversation turn by turn.

    GET /console/conversations?q=&start=&end=&intent=&outcome=&feedback=&sentiment=&page=
    GET /console/conversations/{sender_id}

Search and transcripts come from `bot.review` (SQL over the stored conversations, in a worker thread). Agents
and editors see personal data masked (emails, phone and order numbers, the names of verified customers);
admins see it as written. Every customer text is escaped by the templates.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from bot.analytics import DateRangeError
from bot.analytics.definitions import FEEDBACK_CHOICES, OUTCOME_LABELS, OUTCOMES, SENTIMENTS
from bot.review import (
    ReviewQuery,
    ReviewQueryError,
    load_transcript,
    mask_personal,
    search_conversations,
)
from bot.review.search import ConversationPage, known_intents
from bot.review.transcript import names_by_sender
from server.console.access import RequireRole, StaffMember, StaffRole, render
from server.console.analytics import ConsoleRecords, Records

router = APIRouter(prefix="/console", include_in_schema=False)
Agent = Annotated[StaffMember, Depends(RequireRole(StaffRole.AGENT))]


def sees_personal_data(staff: StaffMember) -> bool:
    return staff.may(StaffRole.ADMIN)


def _page_number(value: str) -> int:
    try:
        number = int(value or "1")
    except ValueError as e:
        raise ReviewQueryError(f"page {value!r} is not a number") from e
    return max(1, number)


def _masked_page(records: ConsoleRecords, page: ConversationPage) -> ConversationPage:
    names = names_by_sender(records.engine, [item.sender_id for item in page.items])
    items = tuple(
        replace(item, preview=mask_personal(item.preview, names.get(item.sender_id, frozenset())))
        for item in page.items
    )
    return replace(page, items=items)


@router.get("/conversations")
def conversations_page(
    request: Request,
    staff: Agent,
    records: Records,
    q: str = "",
    start: str = "",
    end: str = "",
    intent: str = "",
    outcome: str = "",
    feedback: str = "",
    sentiment: str = "",
    page: str = "1",
) -> Response:
    filters = {"q": q, "start": start, "end": end, "intent": intent, "outcome": outcome, "feedback": feedback,
               "sentiment": sentiment}  # fmt: skip
    context: dict[str, Any] = {
        "filters": filters,
        "outcomes": [(o, OUTCOME_LABELS[o]) for o in OUTCOMES],
        "feedback_choices": FEEDBACK_CHOICES,
        "sentiments": SENTIMENTS,
        "outcome_labels": OUTCOME_LABELS,
        "masked": not sees_personal_data(staff),
        "zone": str(records.zone),
        "error": None,
        "intents": [],
        "results": None,
    }
    try:
        date_range = records.date_range(start, end)
        query = ReviewQuery(date_range, q.strip(), intent.strip(), outcome, feedback, sentiment, _page_number(page))
    except (DateRangeError, ReviewQueryError) as e:
        context["error"] = str(e)
        return render(request, "console/conversations.html", context, status_code=400)
    found = search_conversations(records.engine, query)
    if not sees_personal_data(staff):
        found = _masked_page(records, found)
    filters.update(start=date_range.start.isoformat(), end=date_range.end.isoformat())
    context.update(
        results=found,
        intents=known_intents(records.engine, date_range),
        when=lambda ts: datetime.fromtimestamp(ts, records.zone).strftime("%Y-%m-%d %H:%M"),
        page_link=lambda number: _query({**filters, "page": str(number)}),
    )
    return render(request, "console/conversations.html", context)


def _query(values: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode({k: v for k, v in values.items() if v})


@router.get("/conversations/{sender_id}")
def conversation_page(sender_id: str, request: Request, staff: Agent, records: Records) -> Response:
    transcript = load_transcript(records.engine, sender_id)
    if transcript is None:
        message = f"There is no conversation {sender_id!r}: it may have been deleted or purged."
        return render(
            request, "console/conversation.html", {"missing": message, "sender_id": sender_id}, status_code=404
        )
    if not sees_personal_data(staff):
        transcript = transcript.masked()
    context = {
        "transcript": transcript,
        "masked": not sees_personal_data(staff),
        "outcome_labels": OUTCOME_LABELS,
        "zone": str(records.zone),
        "when": lambda ts: datetime.fromtimestamp(ts, records.zone).strftime("%Y-%m-%d %H:%M:%S"),
    }
    return render(request, "console/conversation.html", context)

"""Transcript search for the console's conversation review: filter the conversations of a date range by the
text said (by the customer or the bot), an intent, the outcome, feedback and sentiment; newest first, a page
at a time. One SQL query over `bot.analytics.facts` (filters and paging run in the database)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import Engine, and_, exists, func, select
from sqlalchemy.orm import aliased

from bot.analytics.dates import DateRange
from bot.analytics.definitions import FEEDBACK_CHOICES, OUTCOMES, SENTIMENTS
from bot.analytics.facts import EventColumns, conversation_facts, ensure_tables
from bot.dialogue.tracker_store import history
from bot.errors import SupportbotError

PER_PAGE = 25
MAX_TEXT = 200


class ReviewQueryError(SupportbotError):
    """A search the review page cannot run (an unknown filter value); the message names it and the choices."""


@dataclass(frozen=True)
class ReviewQuery:
    date_range: DateRange
    text: str = ""
    intent: str = ""
    outcome: str = ""
    feedback: str = ""
    sentiment: str = ""
    page: int = 1
    per_page: int = PER_PAGE

    def __post_init__(self) -> None:
        for field, value, choices in (
            ("outcome", self.outcome, OUTCOMES),
            ("feedback", self.feedback, FEEDBACK_CHOICES),
            ("sentiment", self.sentiment, SENTIMENTS),
        ):
            if value and value not in choices:
                raise ReviewQueryError(f"{field} {value!r} is not one of {', '.join(choices)}")
        if len(self.text) > MAX_TEXT:
            raise ReviewQueryError(f"the search text has {len(self.text)} characters; use at most {MAX_TEXT}")
        if self.page < 1 or self.per_page < 1:
            raise ReviewQueryError(f"page {self.page} of {self.per_page} per page: both must be at least 1")


@dataclass(frozen=True)
class ConversationSummary:
    sender_id: str
    first_at: float
    last_at: float
    messages: int
    outcome: str
    sentiment: str | None
    feedback: str
    preview: str


@dataclass(frozen=True)
class ConversationPage:
    items: tuple[ConversationSummary, ...]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def search_conversations(engine: Engine, query: ReviewQuery) -> ConversationPage:
    ensure_tables(engine)
    dialect = engine.dialect.name
    start, end = query.date_range.bounds()
    facts = conversation_facts(dialect, start, end)
    conditions = []
    said = aliased(history, name="said")
    s = EventColumns(dialect, said)
    same = and_(said.c.sender_id == facts.c.sender_id, s.in_range(start, end))
    if query.text.strip():
        needle = query.text.strip()
        conditions.append(
            exists().where(same, said.c.event.in_(("user", "bot")), s.text.icontains(needle, autoescape=True))
        )
    if query.intent.strip():
        conditions.append(exists().where(same, s.customer_message(), s.intent == query.intent.strip()))
    for column, value in (("outcome", query.outcome), ("feedback", query.feedback), ("sentiment", query.sentiment)):
        if value:
            conditions.append(facts.c[column] == value)
    first = aliased(history, name="first_said")
    f = EventColumns(dialect, first)
    preview = (
        select(f.text)
        .where(first.c.sender_id == facts.c.sender_id, f.customer_message(), f.in_range(start, end))
        .order_by(first.c.id)
        .limit(1)
        .scalar_subquery()
    )
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(facts).where(*conditions)).scalar_one())
        rows = conn.execute(
            select(facts, preview.label("preview"))
            .where(*conditions)
            .order_by(facts.c.last_at.desc(), facts.c.sender_id)
            .limit(query.per_page)
            .offset((query.page - 1) * query.per_page)
        ).mappings()
        items = tuple(
            ConversationSummary(
                sender_id=str(r["sender_id"]),
                first_at=float(r["first_at"]),
                last_at=float(r["last_at"]),
                messages=int(r["messages"]),
                outcome=str(r["outcome"]),
                sentiment=None if r["sentiment"] is None else str(r["sentiment"]),
                feedback=str(r["feedback"]),
                preview=str(r["preview"] or ""),
            )
            for r in rows
        )
    return ConversationPage(items, total, query.page, query.per_page)


def known_intents(engine: Engine, date_range: DateRange) -> list[str]:
    """The intents customers' messages had in the range, for the search form's choice."""
    ensure_tables(engine)
    e = EventColumns(engine.dialect.name)
    start, end = date_range.bounds()
    with engine.connect() as conn:
        rows = conn.execute(
            select(e.intent).where(e.customer_message(), e.in_range(start, end), e.intent.is_not(None)).distinct()
        ).all()
    return sorted(str(r[0]) for r in rows)

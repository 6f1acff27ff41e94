"""One row of facts per conversation, in SQL: the subquery both the report and the transcript search read.

`conversation_facts` groups the events of a date range by sender (one pass over the range, using the
`(sender_id, event, id)` index for the correlated parts) and derives each conversation's outcome, sentiment
and feedback with CASE expressions, so a search can filter and page on them in the database.
`bot.analytics.definitions` says what each column means.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Select, and_, case, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from bot.analytics.definitions import (
    AGENT_METADATA_KEY,
    ENGINE_ACTIONS,
    EXTERNAL_INTENT_PREFIX,
    NOT_REPLIES,
    UNHELPFUL_ACTIONS,
)
from bot.analytics.sql import json_float, json_text
from bot.dialogue.tracker_store import history
from bot.feedback import feedback_table


def ensure_tables(engine: Engine) -> None:
    """Create the conversation and feedback tables when missing (a database no conversation reached yet),
    as their stores do, so the report reads them empty instead of failing."""
    history.create(engine, checkfirst=True)
    feedback_table.create(engine, checkfirst=True)


class EventColumns:
    """The JSON values of `conversation_events.data` the figures read, for one dialect."""

    def __init__(self, dialect: str, table: Any = history) -> None:
        data = table.c.data
        self.table = table
        self.name = json_text(data, dialect, "name")
        self.text = json_text(data, dialect, "text")
        self.intent = json_text(data, dialect, "parse_data", "intent", "name")
        self.confidence = json_float(data, dialect, "parse_data", "intent", "confidence")
        self.sentiment = json_text(data, dialect, "parse_data", "sentiment", "label")
        self.sentiment_score = json_float(data, dialect, "parse_data", "sentiment", "score")
        self.agent = json_text(data, dialect, "metadata", AGENT_METADATA_KEY, "id")
        self.entry_id = json_text(data, dialect, "data", "sources", 0, "id")
        self.entry_title = json_text(data, dialect, "data", "sources", 0, "title")

    def customer_message(self) -> ColumnElement[bool]:
        """A `user` event the customer wrote (not an event the shop fired)."""
        return and_(
            self.table.c.event == "user",
            func.coalesce(self.intent, "").not_like(EXTERNAL_INTENT_PREFIX + "%"),
        )

    def action(self) -> ColumnElement[bool]:
        return self.table.c.event == "action"  # type: ignore[no-any-return]

    def unhelpful(self) -> ColumnElement[bool]:
        return and_(self.action(), self.name.in_(sorted(UNHELPFUL_ACTIONS)))

    def helpful(self) -> ColumnElement[bool]:
        return and_(self.action(), self.name.not_in(sorted(UNHELPFUL_ACTIONS | NOT_REPLIES)))

    def task(self) -> ColumnElement[bool]:
        return and_(
            self.action(),
            self.name.like("action%"),
            self.name.not_in(sorted(ENGINE_ACTIONS)),
            self.name.not_like("action_knowledge%"),
            self.name.not_like("action_ask%"),
        )

    def agent_reply(self) -> ColumnElement[bool]:
        return and_(self.table.c.event == "bot", self.agent.is_not(None))

    def in_range(self, start: float, end: float) -> ColumnElement[bool]:
        return and_(self.table.c.timestamp >= start, self.table.c.timestamp < end)


def _when(condition: ColumnElement[bool], value: Any) -> Any:
    return case((condition, value), else_=None)


def _count(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def conversation_facts(dialect: str, start: float, end: float, sender: str | None = None) -> Any:
    """A subquery: one row per conversation with a customer message in `[start, end)` (epoch seconds); only
    `sender`'s when given.

    Columns: sender_id, first_at, last_at, messages, pause_at, agent_at, agent_replies, outcome, sentiment,
    sentiment_score (mean), negative, neutral, positive, feedback, ups, downs."""
    e = EventColumns(dialect)
    t = history
    customer = e.customer_message()
    grouped = (
        select(
            t.c.sender_id.label("sender_id"),
            func.min(_when(customer, t.c.timestamp)).label("first_at"),
            func.max(t.c.timestamp).label("last_at"),
            _count(customer).label("messages"),
            func.min(_when(t.c.event == "pause", t.c.timestamp)).label("pause_at"),
            func.min(_when(e.agent_reply(), t.c.timestamp)).label("agent_at"),
            _count(e.agent_reply()).label("agent_replies"),
            _count(e.task()).label("tasks"),
            func.max(_when(customer, t.c.id)).label("last_user"),
            func.max(_when(e.helpful(), t.c.id)).label("last_helpful"),
            func.max(_when(e.unhelpful(), t.c.id)).label("last_unhelpful"),
            _count(and_(customer, e.sentiment == "negative")).label("negative"),
            _count(and_(customer, e.sentiment == "neutral")).label("neutral"),
            _count(and_(customer, e.sentiment == "positive")).label("positive"),
            func.avg(_when(customer, e.sentiment_score)).label("sentiment_score"),
        )
        .where(e.in_range(start, end), *([t.c.sender_id == sender] if sender is not None else []))
        .group_by(t.c.sender_id)
        .having(_count(customer) > 0)
        .subquery("grouped")
    )
    f = feedback_table
    votes = (
        select(
            f.c.sender_id.label("sender_id"),
            _count(f.c.value == "up").label("ups"),
            _count(f.c.value == "down").label("downs"),
        )
        .where(*([f.c.sender_id == sender] if sender is not None else []))
        .group_by(f.c.sender_id)
        .subquery("votes")
    )
    g = grouped.c
    outcome = case(
        (g.pause_at.is_not(None), literal("handed_off")),
        (g.tasks > 0, literal("task_done")),
        (
            and_(
                g.last_helpful.is_not(None),
                g.last_helpful > g.last_user,
                or_(g.last_unhelpful.is_(None), g.last_unhelpful < g.last_user),
            ),
            literal("answered"),
        ),
        else_=literal("abandoned"),
    )
    sentiment = case(
        (g.negative > 0, literal("negative")),
        (g.positive > 0, literal("positive")),
        (g.neutral > 0, literal("neutral")),
        else_=None,
    )
    ups, downs = func.coalesce(votes.c.ups, 0), func.coalesce(votes.c.downs, 0)
    feedback = case((downs > 0, literal("down")), (ups > 0, literal("up")), else_=literal("none"))
    query: Select[Any] = select(
        g.sender_id,
        g.first_at,
        g.last_at,
        g.messages,
        g.pause_at,
        g.agent_at,
        g.agent_replies,
        outcome.label("outcome"),
        sentiment.label("sentiment"),
        g.sentiment_score,
        g.negative,
        g.neutral,
        g.positive,
        feedback.label("feedback"),
        ups.label("ups"),
        downs.label("downs"),
    ).select_from(grouped.outerjoin(votes, votes.c.sender_id == g.sender_id))
    return query.subquery("facts")

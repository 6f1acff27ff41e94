"""The analytics report over a date range: every figure and table of `/console/analytics`, from SQL.

`build_report(engine, date_range, clusters)` runs a handful of grouped queries over the stored conversations
(`conversation_events`, `feedback`; SQLite or PostgreSQL) and shapes them into `ReportTable`s, each of which
is also a CSV file. Counting happens in the database; Python only moves the hour buckets into the shop's
timezone and takes the median. `bot.analytics.definitions` says what each figure means. Nothing here runs on
a customer's turn.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine, and_, distinct, func, select
from sqlalchemy.orm import aliased

from bot.analytics.dates import DateRange
from bot.analytics.definitions import KNOWLEDGE_ACTIONS, OUTCOME_LABELS, OUTCOMES, SENTIMENTS
from bot.analytics.facts import EventColumns, conversation_facts, ensure_tables
from bot.analytics.sql import hour_index
from bot.analytics.tables import Cell, ReportTable, ratio, table
from bot.dialogue.tracker_store import history
from bot.feedback import feedback_table
from bot.learning.signals import FALLBACK_ACTIONS

TOP = 10


@dataclass(frozen=True)
class UnansweredCluster:
    """A group of similar questions the bot did not answer well (a learning suggestion's messages); it is
    listed for a range it was asked in (first and last asked overlap it), with its count of all time."""

    label: str
    count: int
    kind: str
    first_seen: float
    last_seen: float


@dataclass(frozen=True)
class Figures:
    conversations: int
    messages: int
    handed_off: int
    containment: float | None
    handoff_rate: float | None
    fallback_messages: int
    fallback_rate: float | None
    knowledge_lookups: int
    abstentions: int
    abstention_rate: float | None
    agent_replied: int
    median_first_agent_reply: float | None
    ups: int
    downs: int
    csat: float | None


@dataclass(frozen=True)
class AnalyticsReport:
    date_range: DateRange
    figures: Figures
    tables: dict[str, ReportTable]


def build_report(
    engine: Engine, date_range: DateRange, clusters: Sequence[UnansweredCluster] = (), *, top: int = TOP
) -> AnalyticsReport:
    ensure_tables(engine)
    dialect = engine.dialect.name
    start, end = date_range.bounds()
    e = EventColumns(dialect)
    t = history
    in_range = e.in_range(start, end)
    customer = and_(e.customer_message(), in_range)
    hour = hour_index(t.c.timestamp, dialect)
    facts = conversation_facts(dialect, start, end)
    with engine.connect() as conn:
        conversations = conn.execute(select(facts).order_by(facts.c.first_at)).mappings().all()
        hours = conn.execute(select(hour, func.count()).where(customer).group_by(hour)).all()
        moods = conn.execute(
            select(hour, e.sentiment, func.count(), func.sum(e.sentiment_score))
            .where(customer, e.sentiment.is_not(None))
            .group_by(hour, e.sentiment)
        ).all()
        lookups: dict[str, int] = dict(
            conn.execute(
                select(e.name, func.count())
                .where(e.action(), in_range, e.name.in_(sorted(KNOWLEDGE_ACTIONS)))
                .group_by(e.name)
            )
            .tuples()
            .all()
        )
        fallback_messages = int(conn.execute(_fallback_messages(dialect, start, end)).scalar_one() or 0)
        count = func.count().label("n")
        intents = conn.execute(
            select(e.intent, count).where(customer).group_by(e.intent).order_by(count.desc(), e.intent).limit(top)
        ).all()
        entries = conn.execute(
            select(e.entry_id, func.max(e.entry_title), count)
            .where(t.c.event == "bot", in_range, e.entry_id.is_not(None))
            .group_by(e.entry_id)
            .order_by(count.desc(), e.entry_id)
            .limit(top)
        ).all()
        f = feedback_table
        votes: dict[str, int] = dict(
            conn.execute(
                select(f.c.value, func.count()).where(f.c.updated_at >= start, f.c.updated_at < end).group_by(f.c.value)
            ).all()
        )
    total = len(conversations)
    messages = sum(int(row["messages"]) for row in conversations)
    outcomes = Counter(str(row["outcome"]) for row in conversations)
    delays = [
        float(row["agent_at"]) - float(row["pause_at"])
        for row in conversations
        if row["pause_at"] is not None and row["agent_at"] is not None and row["agent_at"] >= row["pause_at"]
    ]
    handed_off = outcomes["handed_off"]
    knowledge_lookups = sum(int(n) for n in lookups.values())
    abstentions = sum(int(n) for name, n in lookups.items() if name != "action_knowledge_answer")
    ups, downs = int(votes.get("up", 0)), int(votes.get("down", 0))
    figures = Figures(
        conversations=total,
        messages=messages,
        handed_off=handed_off,
        containment=ratio(total - handed_off, total),
        handoff_rate=ratio(handed_off, total),
        fallback_messages=fallback_messages,
        fallback_rate=ratio(fallback_messages, messages),
        knowledge_lookups=knowledge_lookups,
        abstentions=abstentions,
        abstention_rate=ratio(abstentions, knowledge_lookups),
        agent_replied=len(delays),
        median_first_agent_reply=statistics.median(delays) if delays else None,
        ups=ups,
        downs=downs,
        csat=ratio(ups, ups + downs),
    )
    tables = [
        _summary(figures),
        table(
            "outcomes",
            "Outcomes",
            ("outcome", "conversations", "share"),
            [(OUTCOME_LABELS[o], outcomes[o], ratio(outcomes[o], total)) for o in OUTCOMES],
        ),
        *_volume(date_range, conversations, hours),
        _handoffs(date_range, conversations),
        table(
            "feedback",
            "Thumbs up and down",
            ("vote", "votes", "share"),
            [("up", ups, ratio(ups, ups + downs)), ("down", downs, ratio(downs, ups + downs))],
        ),
        _sentiment(date_range, moods),
        table(
            "knowledge_lookups",
            "Knowledge lookups",
            ("decision", "lookups", "share"),
            [
                (
                    name.removeprefix("action_knowledge_"),
                    int(lookups.get(name, 0)),
                    ratio(lookups.get(name, 0), knowledge_lookups),
                )
                for name in ("action_knowledge_answer", "action_knowledge_suggest", "action_knowledge_unknown")
            ],
        ),
        table(
            "top_intents",
            "Top intents",
            ("intent", "messages", "share"),
            [(str(name), int(n), ratio(n, messages)) for name, n in intents],
        ),
        table(
            "top_knowledge",
            "Top knowledge entries",
            ("entry", "title", "answers"),
            [(str(entry), str(title or ""), int(n)) for entry, title, n in entries],
        ),
        _unanswered(date_range, clusters, top),
    ]
    return AnalyticsReport(date_range, figures, {t.name: t for t in tables})


def _fallback_messages(dialect: str, start: float, end: float) -> Any:
    """The number of distinct customer messages a fallback answered: each fallback action belongs to the
    last `user` event of its conversation before it."""
    action = aliased(history, name="fallback_action")
    user = aliased(history, name="asked")
    a = EventColumns(dialect, action)
    owner = (
        select(func.max(user.c.id))
        .where(user.c.sender_id == action.c.sender_id, user.c.event == "user", user.c.id < action.c.id)
        .scalar_subquery()
    )
    return select(func.count(distinct(owner))).where(
        a.action(), a.in_range(start, end), a.name.in_(sorted(FALLBACK_ACTIONS))
    )


def _summary(f: Figures) -> ReportTable:
    rows: list[tuple[Cell, ...]] = [
        ("conversations", f.conversations, f.conversations, None),
        ("customer messages", f.messages, f.messages, None),
        ("containment", f.containment, f.conversations - f.handed_off, f.conversations),
        ("handoff rate", f.handoff_rate, f.handed_off, f.conversations),
        ("fallback rate", f.fallback_rate, f.fallback_messages, f.messages),
        ("abstention rate", f.abstention_rate, f.abstentions, f.knowledge_lookups),
        ("median first agent reply (s)", f.median_first_agent_reply, f.agent_replied, f.handed_off),
        ("CSAT", f.csat, f.ups, f.ups + f.downs),
    ]
    return table("summary", "Summary", ("figure", "value", "count", "of"), rows)


def _volume(date_range: DateRange, conversations: Sequence[Any], hours: Sequence[Any]) -> list[ReportTable]:
    by_hour: Counter[int] = Counter()
    by_day: Counter[date] = Counter()
    for index, n in hours:
        moment = date_range.local(int(index) * 3600.0)
        by_hour[moment.hour] += int(n)
        by_day[moment.date()] += int(n)
    started: Counter[date] = Counter(date_range.local(float(row["first_at"])).date() for row in conversations)
    return [
        table(
            "volume_by_hour",
            "Customer messages by hour of day",
            ("hour", "messages"),
            [(f"{h:02d}", by_hour[h]) for h in range(24)],
        ),  # fmt: skip
        table(
            "volume_by_day",
            "Conversations and messages by day",
            ("day", "conversations", "messages"),
            [(d.isoformat(), started[d], by_day[d]) for d in date_range.each_day()],
        ),  # fmt: skip
    ]


def _handoffs(date_range: DateRange, conversations: Sequence[Any]) -> ReportTable:
    rows: list[tuple[Cell, ...]] = []
    for row in conversations:
        if row["pause_at"] is None:
            continue
        waited = float(row["agent_at"]) - float(row["pause_at"]) if row["agent_at"] is not None else None
        handed = date_range.local(float(row["pause_at"])).strftime("%Y-%m-%d %H:%M:%S")
        rows.append((str(row["sender_id"]), handed, waited, int(row["agent_replies"])))
    return table(
        "handoffs",
        "Handoffs and time to first agent reply",
        ("conversation", "handed off at", "first agent reply after (s)", "agent messages"),
        rows,
    )


def _sentiment(date_range: DateRange, moods: Sequence[Any]) -> ReportTable:
    counts: dict[date, Counter[str]] = defaultdict(Counter)
    scores: dict[date, float] = defaultdict(float)
    for index, label, n, score in moods:
        day = date_range.local(int(index) * 3600.0).date()
        counts[day][str(label)] += int(n)
        scores[day] += float(score or 0.0)
    rows: list[tuple[Cell, ...]] = []
    for day in date_range.each_day():
        seen = sum(counts[day].values())
        mean = round(scores[day] / seen, 4) if seen else None
        rows.append((day.isoformat(), *(counts[day][s] for s in SENTIMENTS), mean))
    return table("sentiment_by_day", "Sentiment by day", ("day", *SENTIMENTS, "mean score"), rows)


def _unanswered(date_range: DateRange, clusters: Sequence[UnansweredCluster], top: int) -> ReportTable:
    start, end = date_range.bounds()
    kept = sorted(
        (c for c in clusters if c.first_seen < end and c.last_seen >= start),
        key=lambda c: (-c.count, c.label),
    )[:top]
    return table(
        "unanswered",
        "Top unanswered questions (groups)",
        ("question", "messages", "suggestion", "last asked"),
        [(c.label, c.count, c.kind, date_range.local(c.last_seen).strftime("%Y-%m-%d %H:%M")) for c in kept],
    )

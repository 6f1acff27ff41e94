"""The analytics report over known conversations (`bot.analytics.sample`, written through the real stores
into a real SQLite file): every figure and every CSV, worked out by hand from the sample."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.analytics import DateRangeError, UnansweredCluster, build_report, parse_range
from bot.analytics.dates import DateRange
from bot.analytics.facts import conversation_facts
from bot.analytics.sample import write_conversation
from bot.analytics.sql import hour_index
from bot.dialogue.tracker_store import SqlTrackerStore, history, make_engine
from tests.console.conftest import seeded_engine

ZONE = ZoneInfo("Europe/Paris")
DAY = date(2026, 3, 10)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from seeded_engine(request.param, tmp_path, DAY, ZONE)


def the_day() -> DateRange:
    return DateRange(DAY, DAY, ZONE)


def test_every_figure_of_the_sample_day(engine: Engine) -> None:
    f = build_report(engine, the_day()).figures
    assert (f.conversations, f.messages, f.handed_off) == (10, 14, 2)
    assert f.containment == pytest.approx(0.8)
    assert f.handoff_rate == pytest.approx(0.2)
    assert (f.fallback_messages, f.fallback_rate) == (2, 2 / 14)
    assert (f.knowledge_lookups, f.abstentions, f.abstention_rate) == (5, 2, 0.4)
    assert (f.agent_replied, f.median_first_agent_reply) == (2, 150.0)  # 90 s and 210 s
    assert (f.ups, f.downs, f.csat) == (3, 1, 0.75)


EXPECTED_CSV = {
    "summary": """figure,value,count,of
conversations,10,10,
customer messages,14,14,
containment,0.8,8,10
handoff rate,0.2,2,10
fallback rate,0.1429,2,14
abstention rate,0.4,2,5
median first agent reply (s),150,2,2
CSAT,0.75,3,4
""",
    "outcomes": """outcome,conversations,share
answered,3,0.3
task done,2,0.2
handed off,2,0.2
abandoned,3,0.3
""",
    "volume_by_hour": "hour,messages\n"
    + "".join(f"{h:02d},{ {9: 2, 10: 3, 11: 1, 14: 2, 16: 2, 18: 2, 21: 2}.get(h, 0) }\n" for h in range(24)),
    "volume_by_day": """day,conversations,messages
2026-03-10,10,14
""",
    "handoffs": """conversation,handed off at,first agent reply after (s),agent messages
c06,2026-03-10 14:00:01,90,1
c07,2026-03-10 14:20:01,210,2
""",
    "feedback": """vote,votes,share
up,3,0.75
down,1,0.25
""",
    "sentiment_by_day": """day,negative,neutral,positive,mean score
2026-03-10,3,8,3,-0.0036
""",
    "knowledge_lookups": """decision,lookups,share
answer,3,0.6
suggest,1,0.2
unknown,1,0.2
""",
    "top_intents": """intent,messages,share
faq,5,0.3571
human_handoff,2,0.1429
nlu_fallback,2,0.1429
affirm,1,0.0714
cancel_order,1,0.0714
greet,1,0.0714
order_status,1,0.0714
thank,1,0.0714
""",
    "top_knowledge": """entry,title,answers
returns-window,How long do I have to return an item?,2
opening-hours,When are you open?,1
""",
    "unanswered": """question,messages,suggestion,last asked
""",
}


@pytest.mark.parametrize("name", sorted(EXPECTED_CSV))
def test_every_csv_of_the_sample_day(engine: Engine, name: str) -> None:
    report = build_report(engine, the_day())
    assert report.tables[name].to_csv() == EXPECTED_CSV[name].replace("\n", "\r\n")


def test_every_table_is_checked(engine: Engine) -> None:
    assert set(build_report(engine, the_day()).tables) == set(EXPECTED_CSV)


def test_the_range_decides_what_counts(engine: Engine) -> None:
    two_days = build_report(engine, DateRange(date(2026, 3, 9), DAY, ZONE))
    assert two_days.figures.conversations == 11  # c11, the day before, now counts
    assert two_days.figures.csat == pytest.approx(3 / 5)  # and its thumbs down
    assert two_days.tables["volume_by_day"].rows == (("2026-03-09", 1, 1), ("2026-03-10", 10, 14))
    entries = two_days.tables["top_knowledge"]
    assert dict(zip(entries.column("entry"), entries.column("answers"), strict=True)) == {
        "returns-window": 2,
        "opening-hours": 2,
    }


def test_hours_and_days_are_the_shops_not_utc(engine: Engine) -> None:
    utc = build_report(engine, DateRange(DAY, DAY, ZoneInfo("UTC")))
    hours = dict(zip(utc.tables["volume_by_hour"].column("hour"), utc.tables["volume_by_hour"].column("messages"),
                     strict=True))  # fmt: skip
    assert hours["08"] == 2 and hours["09"] == 3 and hours["20"] == 2  # Paris is UTC+1 in March


def test_an_empty_range_has_no_rates_and_does_not_fail(engine: Engine) -> None:
    report = build_report(engine, DateRange(date(2025, 1, 1), date(2025, 1, 3), ZONE))
    f = report.figures
    assert (f.conversations, f.messages, f.ups, f.downs) == (0, 0, 0, 0)
    assert f.containment is f.handoff_rate is f.fallback_rate is f.abstention_rate is f.csat is None
    assert f.median_first_agent_reply is None
    assert report.tables["sentiment_by_day"].column("mean score") == [None, None, None]
    assert "containment,,0,0" in report.tables["summary"].to_csv()


def test_a_handoff_without_an_agent_reply_has_no_wait_yet(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'waiting.db'}")
    start = DateRange(DAY, DAY, ZONE).bounds()[0] + 3600
    parse = {"text": "a person please", "intent": {"name": "human_handoff", "confidence": 0.9}}
    write_conversation(SqlTrackerStore(engine), "w1", [
        {"event": "user", "timestamp": start, "text": "a person please", "parse_data": parse},
        {"event": "action", "timestamp": start + 1, "name": "action_human_handoff"},
        {"event": "pause", "timestamp": start + 1},
    ])  # fmt: skip
    report = build_report(engine, the_day())
    assert (report.figures.handed_off, report.figures.agent_replied) == (1, 0)
    assert report.figures.median_first_agent_reply is None
    assert report.tables["handoffs"].rows == (("w1", "2026-03-10 01:00:01", None, 0),)


def test_unanswered_groups_asked_in_the_range_are_listed_by_count(engine: Engine) -> None:
    start, end = the_day().bounds()
    clusters = [
        UnansweredCluster("Do you ship to Mars?", 4, "new entry", start + 100, start + 200),
        UnansweredCluster("gift wrapping?", 7, "alternate phrasing", start - 90_000, start + 300),
        UnansweredCluster("old question", 9, "new entry", start - 200_000, start - 100_000),
    ]
    table = build_report(engine, the_day(), clusters).tables["unanswered"]
    assert table.rows == (
        ("gift wrapping?", 7, "alternate phrasing", "2026-03-10 00:05"),
        ("Do you ship to Mars?", 4, "new entry", "2026-03-10 00:03"),
    )


def test_the_sql_reads_json_the_portable_way_on_each_dialect() -> None:
    query = select(conversation_facts("postgresql", 0.0, 1.0))
    pg = str(query.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
    assert "#>>" in pg and "CAST(conversation_events.data AS JSON)" in pg and "json_extract" not in pg.lower()
    lite = str(select(conversation_facts("sqlite", 0.0, 1.0)).compile(dialect=sqlite.dialect()))
    assert "JSON_EXTRACT(conversation_events.data" in lite and "CAST(conversation_events.data AS JSON)" not in lite
    pg_hour = hour_index(history.c.timestamp, "postgresql").compile(dialect=postgresql.dialect())  # type: ignore[no-untyped-call]
    assert "floor" in str(pg_hour)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-03-10", "2026-03-01", "ends (2026-03-01) before it starts (2026-03-10): swap the two dates"),
        ("10/03/2026", "2026-03-11", "the start date '10/03/2026' is not a date: write it as YYYY-MM-DD"),
        ("2026-03-01", "2026-02-30", "the end date '2026-02-30' is not a date"),
        ("2024-01-01", "2026-03-10", "choose at most 366"),
    ],
)
def test_a_bad_range_says_what_is_wrong(start: str, end: str, message: str) -> None:
    with pytest.raises(DateRangeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_range(start, end, today=DAY, zone=ZONE)


def test_the_default_range_is_the_last_seven_days() -> None:
    assert parse_range(None, None, today=DAY, zone=ZONE) == DateRange(date(2026, 3, 4), DAY, ZONE)
    assert parse_range("", "2026-03-20", today=DAY, zone="Europe/Paris").start == date(2026, 3, 14)

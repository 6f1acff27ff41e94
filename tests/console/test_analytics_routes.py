"""`/console/analytics` and its CSVs through the app: pages render the seeded figures, CSVs download, a bad
range is a message on the page, and nobody signed out gets in."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.analytics import DateRange, build_report
from bot.analytics.sample import seed_sample
from bot.dialogue.tracker_store import make_engine
from server.console import _console_error, analytics, conversations
from server.console.access import ConsoleError, StaffMember, StaffRole, StaticConsoleSession

ZONE = ZoneInfo("Europe/Paris")
DAY = date(2026, 3, 10)
AGENT = StaffMember(2, "agent@example.com", "Ann Agent", StaffRole.AGENT)
RANGE = "start=2026-03-10&end=2026-03-10"


def console_app(records: analytics.ConsoleRecords, staff: StaffMember | None) -> TestClient:
    app = FastAPI()
    app.include_router(analytics.router)
    app.include_router(conversations.router)
    app.add_exception_handler(ConsoleError, _console_error)  # type: ignore[arg-type]
    app.state.console_records = records
    return TestClient(StaticConsoleSession(app, staff), follow_redirects=False)


@pytest.fixture
def records(tmp_path: Path) -> analytics.ConsoleRecords:
    engine = make_engine(f"sqlite:///{tmp_path / 'console.db'}")
    seed_sample(engine, DAY, ZONE)
    return analytics.ConsoleRecords(engine, ZONE)


@pytest.fixture
def client(records: analytics.ConsoleRecords) -> TestClient:
    return console_app(records, AGENT)


def test_the_page_shows_the_seeded_figures(client: TestClient) -> None:
    page = client.get(f"/console/analytics?{RANGE}")
    assert page.status_code == 200
    text = page.text
    for label, value in [
        ("Conversations", "10"),
        ("Containment", "80.0 %"),
        ("Handoff rate", "20.0 %"),
        ("Median first agent reply", "2 min 30 s"),
        ("Fallback rate", "14.3 %"),
        ("Abstention rate", "40.0 %"),
        ("CSAT", "75.0 %"),
    ]:
        assert f'data-figure="{label}">\n    <span class="value">{value}</span>' in text
    assert "3 up, 1 down" in text
    assert '<th scope="row">faq</th><td class="num">5</td><td class="num">35.7 %</td>' in text
    assert (
        'href="/console/conversations/c07">c07</a></th><td>2026-03-10 14:20:01</td><td class="num">3 min 30 s' in text
    )


def test_charts_are_inline_svg_with_a_title_and_a_table_beside_them(client: TestClient) -> None:
    text = client.get(f"/console/analytics?{RANGE}").text
    assert text.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"') == 5
    assert '<title id="volume-by-hour-title">Customer messages by hour of day</title>' in text
    assert 'aria-labelledby="volume-by-hour-title volume-by-hour-desc"' in text
    assert "<title>10: 3</title>" in text  # the 10 o'clock bar
    assert 'id="table-volume_by_hour"' in text and 'id="table-sentiment_by_day"' in text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "start=2026-03-10&end=2026-03-01",
            "the range ends (2026-03-01) before it starts (2026-03-10): swap the two dates",
        ),
        ("start=yesterday&end=2026-03-01", "the start date &#39;yesterday&#39; is not a date: write it as YYYY-MM-DD"),
    ],
)
def test_a_bad_range_is_a_message_on_the_page(client: TestClient, query: str, message: str) -> None:
    page = client.get(f"/console/analytics?{query}")
    assert page.status_code == 400
    assert f'<p class="alert alert-error" role="alert">{message}</p>' in page.text
    assert "<svg" not in page.text and 'name="start"' in page.text  # the form is there to fix it


def test_the_default_range_is_the_last_seven_days(client: TestClient, records: analytics.ConsoleRecords) -> None:
    today = records.today()
    page = client.get("/console/analytics")
    assert page.status_code == 200
    assert f'name="end" value="{today.isoformat()}"' in page.text


def test_every_table_downloads_as_csv(client: TestClient, records: analytics.ConsoleRecords) -> None:
    report = build_report(records.engine, DateRange(DAY, DAY, ZONE))
    page = client.get(f"/console/analytics?{RANGE}").text
    for name, table in report.tables.items():
        link = f"/console/analytics/{name}.csv?{RANGE}"
        assert f'href="{link.replace("&", "&amp;")}" download' in page
        response = client.get(link)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert (
            response.headers["content-disposition"]
            == f'attachment; filename="analytics-{name}-2026-03-10-2026-03-10.csv"'
        )
        assert response.text == table.to_csv()
    assert client.get(f"/console/analytics/outcomes.csv?{RANGE}").text.splitlines() == [
        "outcome,conversations,share",
        "answered,3,0.3",
        "task done,2,0.2",
        "handed off,2,0.2",
        "abandoned,3,0.3",
    ]


def test_csv_of_an_unknown_table_or_a_bad_range_is_refused(client: TestClient) -> None:
    missing = client.get(f"/console/analytics/passwords.csv?{RANGE}", headers={"accept": "application/json"})
    assert missing.status_code == 404
    assert "no analytics table 'passwords'" in missing.json()["error"]["message"]
    backwards = client.get("/console/analytics/summary.csv?start=2026-03-10&end=2026-03-09")
    assert backwards.status_code == 400 and "swap the two dates" in backwards.text


def test_a_formula_in_a_cell_is_not_run_by_a_spreadsheet() -> None:
    from bot.analytics.tables import table

    assert (
        table("t", "T", ("question",), [("=HYPERLINK(1)",), ("-1",)]).to_csv()
        == "question\r\n'=HYPERLINK(1)\r\n'-1\r\n"
    )


@pytest.mark.parametrize("path", ["/console/analytics", f"/console/analytics/summary.csv?{RANGE}"])
def test_signed_out_visitors_are_sent_to_sign_in(records: analytics.ConsoleRecords, path: str) -> None:
    response = console_app(records, None).get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login?next=")


def test_unanswered_groups_come_from_the_learning_suggestions_masked_for_agents(
    records: analytics.ConsoleRecords,
) -> None:
    from bot.learning.store import SqlSuggestionStore
    from bot.learning.suggestions import Suggestion

    start = DateRange(DAY, DAY, ZONE).bounds()[0]
    asked = "can you send it to jo@example.com?"
    drafts = [
        Suggestion("k1", "new_entry", "no entry", 4, (asked,), start + 60, start + 120, {"abstention": 4}),
        Suggestion("k2", "ignore", "noise", 9, ("asdf",), start + 60, start + 120, {"abstention": 9}),
        Suggestion("k3", "alternate", "close", 2, ("gift wrap?",), start + 60, start + 180, {"rephrase": 2}),
    ]
    SqlSuggestionStore(records.engine).sync_open(drafts, start)
    expected = [
        "question,messages,suggestion,last asked",
        "can you send it to [email]?,4,new entry,2026-03-10 00:02",
        "gift wrap?,2,alternate phrasing,2026-03-10 00:03",
    ]
    agent_csv = console_app(records, AGENT).get(f"/console/analytics/unanswered.csv?{RANGE}").text
    assert agent_csv.splitlines() == expected
    admin = StaffMember(1, "admin@example.com", "Ada Admin", StaffRole.ADMIN)
    admin_csv = console_app(records, admin).get(f"/console/analytics/unanswered.csv?{RANGE}").text
    assert admin_csv.splitlines()[1] == f"{asked},4,new entry,2026-03-10 00:02"
    page = console_app(records, AGENT).get(f"/console/analytics?{RANGE}").text
    assert '<th scope="row">can you send it to [email]?</th><td class="num">4</td>' in page

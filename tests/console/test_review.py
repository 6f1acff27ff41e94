"""Transcript search (each filter, paging), one conversation turn by turn, masking by role, and customer
text rendered as text, over the known sample conversations in a real SQLite database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from bot.analytics import DateRange
from bot.analytics.sample import write_conversation
from bot.dialogue.tracker_store import SqlTrackerStore
from bot.review import ReviewQuery, ReviewQueryError, load_transcript, search_conversations
from server.console import _console_error, analytics, conversations
from server.console.access import ConsoleError, StaffMember, StaffRole, StaticConsoleSession
from tests.console.conftest import seeded_engine

ZONE = ZoneInfo("Europe/Paris")
DAY = date(2026, 3, 10)
THE_DAY = DateRange(DAY, DAY, ZONE)
AGENT = StaffMember(2, "agent@example.com", "Ann Agent", StaffRole.AGENT)
EDITOR = StaffMember(3, "editor@example.com", "Ed Editor", StaffRole.EDITOR)
ADMIN = StaffMember(1, "admin@example.com", "Ada Admin", StaffRole.ADMIN)
XSS = "<script>alert(1)</script><img src=x onerror=alert(1)>"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from seeded_engine(request.param, tmp_path, DAY, ZONE)


def found(engine: Engine, **filters: object) -> list[str]:
    query = ReviewQuery(THE_DAY, **filters)  # type: ignore[arg-type]
    return [c.sender_id for c in search_conversations(engine, query).items]


NEWEST_FIRST = ["c10", "c09", "c08", "c07", "c06", "c05", "c04", "c03", "c02", "c01"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, NEWEST_FIRST),
        ({"text": "mars"}, ["c05"]),  # the customer's words, any case
        ({"text": "You're welcome"}, ["c03"]),  # the bot's words
        ({"text": "Ada here"}, ["c06"]),  # an agent's words
        ({"text": "100%"}, []),  # % and _ are literal, not wildcards
        ({"text": "30 days"}, ["c08", "c02"]),
        ({"intent": "human_handoff"}, ["c07", "c06"]),
        ({"intent": "faq"}, ["c08", "c05", "c03", "c02"]),
        ({"intent": "EXTERNAL_order_shipped"}, []),  # the shop's events are not the customer's intents
        ({"outcome": "answered"}, ["c08", "c03", "c02"]),
        ({"outcome": "task_done"}, ["c09", "c01"]),
        ({"outcome": "handed_off"}, ["c07", "c06"]),
        ({"outcome": "abandoned"}, ["c10", "c05", "c04"]),
        ({"feedback": "up"}, ["c08", "c03", "c02"]),
        ({"feedback": "down"}, ["c05"]),
        ({"feedback": "none"}, ["c10", "c09", "c07", "c06", "c04", "c01"]),
        ({"sentiment": "negative"}, ["c09", "c07", "c06"]),
        ({"sentiment": "positive"}, ["c10", "c03"]),
        ({"sentiment": "neutral"}, ["c08", "c05", "c04", "c02", "c01"]),
        ({"intent": "faq", "feedback": "up", "text": "opening"}, ["c03"]),
    ],
)
def test_each_filter(engine: Engine, filters: dict[str, str], expected: list[str]) -> None:
    assert found(engine, **filters) == expected


def test_the_date_range(engine: Engine) -> None:
    before = ReviewQuery(DateRange(date(2026, 3, 9), date(2026, 3, 9), ZONE))
    assert [c.sender_id for c in search_conversations(engine, before).items] == ["c11"]
    both = ReviewQuery(DateRange(date(2026, 3, 9), DAY, ZONE))
    assert search_conversations(engine, both).total == 11


def test_pages_newest_first(engine: Engine) -> None:
    pages = [search_conversations(engine, ReviewQuery(THE_DAY, page=n, per_page=4)) for n in (1, 2, 3, 4)]
    assert [[c.sender_id for c in p.items] for p in pages] == [
        NEWEST_FIRST[:4],
        NEWEST_FIRST[4:8],
        NEWEST_FIRST[8:],
        [],
    ]
    assert (pages[0].total, pages[0].pages) == (10, 3)
    first = pages[0].items[1]
    assert (first.sender_id, first.messages, first.outcome, first.sentiment, first.feedback) == (
        "c09",
        2,
        "task_done",
        "negative",
        "none",
    )
    assert first.preview.startswith("Cancel my order AN-55555")


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"outcome": "happy"}, "outcome 'happy' is not one of answered, task_done, handed_off, abandoned"),
        ({"sentiment": "angry"}, "sentiment 'angry' is not one of negative, neutral, positive"),
        ({"feedback": "meh"}, "feedback 'meh' is not one of up, down, none"),
        ({"page": 0}, "page 0"),
        ({"text": "x" * 201}, "at most 200"),
    ],
)
def test_a_bad_filter_says_which(filters: dict[str, object], message: str) -> None:
    with pytest.raises(ReviewQueryError, match=message):
        ReviewQuery(THE_DAY, **filters)  # type: ignore[arg-type]


def test_a_conversation_turn_by_turn(engine: Engine) -> None:
    transcript = load_transcript(engine, "c08")
    assert transcript is not None
    assert (transcript.outcome, transcript.sentiment, transcript.feedback) == ("answered", "neutral", "up")
    first, second = transcript.turns
    assert (first.text, first.intent, first.confidence, first.sentiment, first.language) == (
        "Do you have the wool coat in M?",
        "faq",
        0.6,
        "neutral",
        "en",
    )
    assert first.actions == ("action_knowledge_suggest",)
    assert [(r.kind, r.entry_id, r.feedback) for r in second.replies] == [("knowledge", "returns-window", "up")]
    assert second.replies[0].entry_title == "How long do I have to return an item?"


def test_agent_messages_are_marked(engine: Engine) -> None:
    transcript = load_transcript(engine, "c07")
    assert transcript is not None
    (turn,) = transcript.turns
    assert [(r.agent, r.text) for r in turn.replies] == [
        ("", "A person will answer you here."),
        ("Ada Agent", "Sorry for the wait, I'm on it."),
        ("Ada Agent", "Your refund is on its way."),
    ]
    assert turn.actions == ("action_human_handoff",)
    assert turn.notes == ("handed over to a person (the bot paused)", "handed back to the bot")
    assert [item if isinstance(item, str) else item.text for item in turn.timeline] == [
        "handed over to a person (the bot paused)",
        "A person will answer you here.",
        "Sorry for the wait, I'm on it.",
        "Your refund is on its way.",
        "handed back to the bot",
    ]
    assert load_transcript(engine, "nobody") is None


def test_the_shop_speaking_first_is_a_turn_without_a_customer_message(engine: Engine) -> None:
    transcript = load_transcript(engine, "c01")
    assert transcript is not None
    # the shop's EXTERNAL event is stored as a user event: a note, not a customer's message
    assert [(t.text, t.intent, t.notes) for t in transcript.turns] == [
        (None, "", ("event from the shop: EXTERNAL_order_shipped",)),
        ("Where is my order AN-12345?", "order_status", ()),
    ]
    assert [r.text for r in transcript.turns[0].replies] == ["Your order AN-12345 has shipped."]


def test_masking_hides_personal_data_and_the_verified_customers_name(engine: Engine) -> None:
    transcript = load_transcript(engine, "c09")
    assert transcript is not None
    assert transcript.names == frozenset({"Jane", "Roe"})
    masked = transcript.masked()
    assert masked.turns[0].text == "Cancel my order [order], I'm [name] [name], [email]"
    assert [r.text for r in masked.turns[0].replies] == ["Cancel order [order], [name]?"]
    assert [getattr(item, "text", item) for item in masked.turns[0].timeline] == ["Cancel order [order], [name]?"]
    assert transcript.turns[0].text == "Cancel my order AN-55555, I'm Jane Roe, jane@example.com"  # unchanged


# -- through the app -----------------------------------------------------------------------------------------
def client(engine: Engine, staff: StaffMember) -> TestClient:
    app = FastAPI()
    app.include_router(analytics.router)
    app.include_router(conversations.router)
    app.add_exception_handler(ConsoleError, _console_error)  # type: ignore[arg-type]
    app.state.console_records = analytics.ConsoleRecords(engine, ZONE)
    return TestClient(StaticConsoleSession(app, staff), follow_redirects=False)


@pytest.mark.parametrize("staff", [AGENT, EDITOR])
def test_agents_and_editors_see_personal_data_masked(engine: Engine, staff: StaffMember) -> None:
    web = client(engine, staff)
    listing = web.get("/console/conversations?start=2026-03-10&end=2026-03-10&outcome=task_done").text
    detail = web.get("/console/conversations/c09").text
    for page in (listing, detail):
        assert "AN-55555" not in page and "jane@example.com" not in page and "Jane" not in page
        assert "Personal data (emails, phone and order numbers, customers' names) is masked" in page
    assert "Cancel my order [order], I&#39;m [name] [name], [email]" in detail


def test_admins_see_personal_data(engine: Engine) -> None:
    detail = client(engine, ADMIN).get("/console/conversations/c09").text
    assert "Cancel my order AN-55555, I&#39;m Jane Roe, jane@example.com" in detail
    assert "is masked" not in detail


def test_the_list_page_filters_and_links_each_conversation(engine: Engine) -> None:
    page = client(engine, AGENT).get("/console/conversations?start=2026-03-10&end=2026-03-10&sentiment=negative")
    assert page.status_code == 200
    assert "3 conversations found." in page.text
    assert [s for s in ("c09", "c07", "c06") if f'href="/console/conversations/{s}"' in page.text] == [
        "c09",
        "c07",
        "c06",
    ]
    assert 'href="/console/conversations/c10"' not in page.text


def test_the_turn_view_shows_intent_confidence_entry_and_agent(engine: Engine) -> None:
    web = client(engine, AGENT)
    c02 = web.get("/console/conversations/c02").text
    assert "intent <code>faq</code> (0.88)" in c02
    assert "entry <code>returns-window</code>" in c02 and "thumbs up" in c02
    c06 = web.get("/console/conversations/c06").text
    assert '<li class="turn agent">' in c06 and "<strong>Agent Ada Agent</strong>" in c06
    assert "negative (-0.70)" in c06


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-03-10&end=2026-03-01", "swap the two dates"),
        ("outcome=happy", "outcome &#39;happy&#39; is not one of"),
        ("page=two", "page &#39;two&#39; is not a number"),
    ],
)
def test_bad_search_input_is_a_message(engine: Engine, query: str, message: str) -> None:
    page = client(engine, AGENT).get(f"/console/conversations?{query}")
    assert page.status_code == 400
    assert message in page.text and 'role="alert"' in page.text


def test_an_unknown_conversation_is_a_404_page(engine: Engine) -> None:
    page = client(engine, AGENT).get("/console/conversations/nobody")
    assert page.status_code == 404
    assert "There is no conversation &#39;nobody&#39;" in page.text


def test_a_customers_markup_renders_as_text(engine: Engine) -> None:
    at = THE_DAY.bounds()[0] + 7200
    parse = {"text": XSS, "intent": {"name": "nlu_fallback", "confidence": 0.1}}
    write_conversation(
        SqlTrackerStore(engine), "x1", [{"event": "user", "timestamp": at, "text": XSS, "parse_data": parse}]
    )
    web = client(engine, ADMIN)
    for path in ("/console/conversations?start=2026-03-10&end=2026-03-10&q=script", "/console/conversations/x1"):
        page = web.get(path).text
        assert "<script>alert(1)" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page

"""The analytics and review pages in a real chromium, over a real SQLite database seeded with the known
sample conversations (`bot.analytics.sample`); the console's routers served by uvicorn on loopback, signed in
as a fixed agent (`StaticConsoleSession`: sign-in itself is tested elsewhere)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from playwright.sync_api import Browser, Page, Playwright, expect

from bot.analytics.sample import seed_sample
from bot.dialogue.tracker_store import make_engine
from server.console import _console_error, analytics, conversations
from server.console.access import ConsoleError, StaffMember, StaffRole, StaticConsoleSession
from server.routes.pages import STATIC_DIR
from server.testing import ServerThread

pytestmark = pytest.mark.browser

ZONE = ZoneInfo("Europe/Paris")
DAY = date(2026, 3, 10)
AGENT = StaffMember(2, "agent@example.com", "Ann Agent", StaffRole.AGENT)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip
RANGE = "start=2026-03-10&end=2026-03-10"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('console') / 'seeded.db'}")
    seed_sample(engine, DAY, ZONE)
    app = FastAPI()
    app.include_router(analytics.router)
    app.include_router(conversations.router)
    app.add_exception_handler(ConsoleError, _console_error)  # type: ignore[arg-type]
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.state.console_records = analytics.ConsoleRecords(engine, ZONE)
    with ServerThread(StaticConsoleSession(app, AGENT), lifespan=False) as url:
        yield url


@pytest.fixture(scope="module")
def browser(chromium_path: str, playwright_driver: Playwright) -> Iterator[Browser]:
    browser = playwright_driver.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
    expect.set_options(timeout=20_000)
    yield browser
    browser.close()


def open_page(browser: Browser, width: int = 1280) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-GB", accept_downloads=True)
    page = context.new_page()
    page.on("pageerror", lambda error: pytest.fail(f"the page raised: {error}"))
    return page


def test_the_analytics_page_shows_the_seeded_figures(browser: Browser, console: str) -> None:
    page = open_page(browser)
    page.goto(f"{console}/console/analytics?{RANGE}")
    expect(page.get_by_role("heading", name="Analytics", level=1)).to_be_visible()
    for figure, value in [("Conversations", "10"), ("Containment", "80.0 %"), ("Handoff rate", "20.0 %"),
                          ("Median first agent reply", "2 min 30 s"), ("Fallback rate", "14.3 %"),
                          ("Abstention rate", "40.0 %"), ("CSAT", "75.0 %")]:  # fmt: skip
        expect(page.locator(f'.kpi[data-figure="{figure}"] .value')).to_have_text(value)
    intents = page.locator("#table-top_intents tbody tr")
    expect(intents.first).to_have_text("faq535.7 %")
    hour_chart = page.get_by_role("img", name="Customer messages by hour of day")
    expect(hour_chart).to_be_visible()
    assert hour_chart.evaluate("svg => svg.tagName") == "svg"
    assert hour_chart.locator("rect").count() == 24
    assert page.locator("svg.chart").count() == 5
    page.context.close()


def test_a_csv_link_downloads_the_table(browser: Browser, console: str, tmp_path: Path) -> None:
    page = open_page(browser)
    page.goto(f"{console}/console/analytics?{RANGE}")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download “Outcomes” as CSV").click()
    assert download.value.suggested_filename == "analytics-outcomes-2026-03-10-2026-03-10.csv"
    saved = tmp_path / "outcomes.csv"
    download.value.save_as(saved)
    assert saved.read_text(encoding="utf-8").splitlines() == [
        "outcome,conversations,share",
        "answered,3,0.3",
        "task done,2,0.2",
        "handed off,2,0.2",
        "abandoned,3,0.3",
    ]
    page.context.close()


def test_a_backwards_range_typed_in_the_form_is_a_message(browser: Browser, console: str) -> None:
    page = open_page(browser)
    page.goto(f"{console}/console/analytics?{RANGE}")
    page.get_by_label("From", exact=True).fill("2026-03-12")
    page.get_by_label("To (included)", exact=True).press("Tab")  # the form is reachable by keyboard
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("alert")).to_contain_text("swap the two dates")
    page.context.close()


@pytest.mark.parametrize("width", [768, 1280])
def test_pages_fit_a_tablet_and_a_laptop(browser: Browser, console: str, width: int) -> None:
    page = open_page(browser, width)
    for path in (f"/console/analytics?{RANGE}", f"/console/conversations?{RANGE}", "/console/conversations/c07"):
        page.goto(f"{console}{path}")
        overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow} px at {width} px"
    page.context.close()


def test_review_finds_a_handoff_and_marks_the_agents_messages(browser: Browser, console: str) -> None:
    page = open_page(browser)
    page.goto(f"{console}/console/conversations?{RANGE}")
    page.get_by_label("Outcome").select_option("handed_off")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#result-count")).to_have_text("2 conversations found.")
    page.get_by_role("link", name="c07").click()
    agent = page.locator(".turn.agent")
    expect(agent).to_have_count(2)
    expect(agent.first).to_contain_text("Agent Ada Agent")
    expect(page.locator(".turn.customer")).to_contain_text("intent human_handoff (0.95)")
    page.context.close()

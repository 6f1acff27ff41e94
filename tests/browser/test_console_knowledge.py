"""An editor changes an answer in the console, and the customer's widget answers with the new text within 2 s.

The real server (real model) runs in a thread on loopback over a COPY of the knowledge folder (the repository's
files are never edited); the editor is signed in by `StaticConsoleSession`, installed innermost so it holds
whatever the real sign-in middleware does. Two browser contexts: the editor's console and the customer's shop.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.middleware import Middleware

from bot.config import Settings
from server.app import create_app
from server.console.access import StaffMember, StaffRole, StaticConsoleSession
from server.testing import ServerThread

pytestmark = [pytest.mark.browser, pytest.mark.integration]
pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EDITOR = StaffMember(1, "editor@shop.example", "Eda Editor", StaffRole.EDITOR)
ENTRY = "klarna-pay-in-3"
QUESTION = "How does Klarna pay in 3 work?"
NEW_ANSWER = "Klarna pay in 3 splits your order into three parts, marker ZEBRA-4711."


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(base URL, the knowledge copy) of a real server signed in as an editor."""
    base = tmp_path_factory.mktemp("console-knowledge")
    shutil.copytree(ROOT / "knowledge", base / "knowledge")
    models = ROOT / ".supportbot" / "models"
    if models.is_dir():  # a model trained for the current data is reused (else the server trains one)
        shutil.copytree(models, base / "state" / "models", symlinks=True)
    settings = Settings(
        project_dir=ROOT,
        knowledge_dir=base / "knowledge",
        state_dir=base / "state",
        watch_knowledge=False,  # the console reloads by itself after a save
        learning_retrain=False,
        rate_limit_per_minute=0,
        rate_limit_per_ip_per_minute=0,
    )
    app = create_app(settings)
    app.user_middleware.append(Middleware(StaticConsoleSession, staff=EDITOR, csrf="browser-csrf"))
    audit: list[tuple[str, str]] = []
    app.state.console_audit = lambda staff, action, target, detail: audit.append((action, target))
    with ServerThread(app, timeout=600) as url:
        yield url, base / "knowledge"


def open_chat(page: Page, base: str) -> None:
    page.goto(f"{base}/")
    page.get_by_role("button", name="Open chat").click()
    chat = page.locator("supportbot-chat")
    expect(chat.get_by_label("Message")).to_be_focused()
    expect(chat.locator(".msg.bot").first).to_contain_text("Atelier Nord")


def test_an_edit_in_the_console_reaches_the_widget_within_two_seconds(
    browser: Browser, console_server: tuple[str, Path]
) -> None:
    base, knowledge = console_server
    before = (ROOT / "knowledge" / "payments.md").read_text(encoding="utf-8")
    editor = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    customer = browser.new_context(viewport={"width": 768, "height": 900}).new_page()
    errors: list[str] = []
    for page in (editor, customer):
        page.on("pageerror", lambda error: errors.append(str(error)))

    open_chat(customer, base)  # the customer's widget is open before the save

    editor.goto(f"{base}/console/knowledge")
    editor.get_by_label("Search questions, alternate phrasings and answers").fill("klarna")
    editor.get_by_role("button", name="Search").click()
    editor.get_by_role("link", name=QUESTION).click()
    expect(editor.get_by_role("heading", level=1)).to_have_text(QUESTION)
    answer = editor.get_by_label("Answer")
    answer.fill(NEW_ANSWER)

    started = time.monotonic()
    editor.get_by_role("button", name="Save to").click()
    expect(editor.get_by_role("status")).to_contain_text("Saved to")
    chat = customer.locator("supportbot-chat")
    box = chat.get_by_label("Message")
    box.fill(QUESTION)
    box.press("Enter")
    expect(chat.locator(".msg.bot").last).to_contain_text("ZEBRA-4711", timeout=5_000)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"the widget answered with the new text {elapsed:.2f} s after the save click"

    assert NEW_ANSWER in (knowledge / "payments.md").read_text(encoding="utf-8")
    assert (ROOT / "knowledge" / "payments.md").read_text(encoding="utf-8") == before  # the repository is untouched
    assert not errors, errors


def test_an_invalid_edit_is_shown_with_its_line_and_nothing_is_written(
    browser: Browser, console_server: tuple[str, Path]
) -> None:
    base, knowledge = console_server
    before = (knowledge / "payments.md").read_text(encoding="utf-8")
    page = browser.new_context(viewport={"width": 768, "height": 900}).new_page()
    page.goto(f"{base}/console/knowledge/{ENTRY}")
    page.get_by_label("Answer").fill("Pay over {{ klarna_montths }} months.")
    page.get_by_role("button", name="Save to").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("nothing was written")
    expect(alert).to_contain_text("unknown variable 'klarna_montths'")
    expect(alert).to_contain_text("payments.md:")
    expect(alert).to_be_focused()
    expect(page.get_by_label("Answer")).to_have_value("Pay over {{ klarna_montths }} months.")  # nothing lost
    assert (knowledge / "payments.md").read_text(encoding="utf-8") == before


def test_the_test_panel_and_the_suggestions_with_the_real_bot(
    browser: Browser, console_server: tuple[str, Path]
) -> None:
    base, _ = console_server
    page = browser.new_context(viewport={"width": 768, "height": 900}).new_page()
    page.goto(f"{base}/console/knowledge/test")
    page.get_by_label("Question").fill("can I pay with paypal")
    page.get_by_role("button", name="Test").click()
    expect(page.locator("#kb-entries tbody tr")).to_have_count(5)
    expect(page.locator("#kb-intents tbody tr")).to_have_count(5)
    expect(page.locator("#kb-customer-answer .kb-reply").first).to_contain_text("PayPal")
    page.screenshot(path=str(ROOT / "test-artifacts" / "console-knowledge-test-768.png"), full_page=True)
    page.goto(f"{base}/console/suggestions")
    expect(page.get_by_role("heading", level=1)).to_have_text("Learning suggestions")

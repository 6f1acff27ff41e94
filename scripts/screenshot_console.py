"""Take the screenshots in docs/console.md: the staff console's inbox, a live handoff, search, test panel,
analytics and the admins' Customers page.

    .venv/bin/python scripts/screenshot_console.py        # starts its own server (trains once), writes docs/img/

It makes a fresh state folder, seeds the sample conversations (`bot.analytics.sample`) for today and adds an
admin and an agent to its database, then starts the server. A customer verifies an order and asks for a person
in the widget (one browser context); the agent, signed in to the console (another), sees the proven customer in
the inbox, takes the conversation and replies; the admin (a third) looks the customer up.
Needs Debian's chromium (`make browser-deps`).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from bot.analytics.sample import seed_sample
from bot.config import Settings
from bot.dialogue.tracker_store import make_engine
from bot.staff import StaffServices
from server.testing import ServerNotReady, ServerProcess, free_port, uvicorn_command

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
PASSWORD = "correct horse battery staple"
AGENT_EMAIL = "maria@example.com"
ADMIN_EMAIL = "ann@example.com"
CUSTOMER_EMAIL = "anna@example.com"
VIEWPORT = {"width": 1280, "height": 800}


def prepare(state: Path) -> dict[str, str]:
    """The server's environment; its database seeded with the sample conversations and two staff members."""
    env = {**os.environ, "SUPPORTBOT_PROJECT_DIR": str(ROOT), "SUPPORTBOT_STATE_DIR": str(state),
           "SUPPORTBOT_WATCH_KNOWLEDGE": "false", "SUPPORTBOT_LEARNING_RETRAIN": "false",
           "SUPPORTBOT_RATE_LIMIT_PER_MINUTE": "0", "SUPPORTBOT_RATE_LIMIT_PER_IP_PER_MINUTE": "0",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}  # fmt: skip
    settings = Settings(project_dir=ROOT, state_dir=state)
    engine = make_engine(settings.resolved_database_url)
    try:
        zone = ZoneInfo(settings.timezone)
        seed_sample(engine, datetime.now(zone).date(), zone)
        services = StaffServices.from_engine(engine, settings)
        services.accounts.add(ADMIN_EMAIL, PASSWORD, "admin", "Ann")
        services.accounts.add(AGENT_EMAIL, PASSWORD, "agent", "Maria")
    finally:
        engine.dispose()
    return env


@contextmanager
def server() -> Iterator[str]:
    port = free_port()
    state = Path(tempfile.mkdtemp(prefix="supportbot-console-screenshot-")) / "state"
    try:
        env = prepare(state)
        with ServerProcess(uvicorn_command(port), port=port, env=env, cwd=ROOT) as process:
            try:
                process.wait_ready(420)
            except ServerNotReady as e:
                raise SystemExit("the server did not start; try `supportbot serve` to see why") from e
            yield process.url
    finally:
        shutil.rmtree(state.parent, ignore_errors=True)


def new_page(browser: Browser, width: int = VIEWPORT["width"]) -> Page:
    context = browser.new_context(viewport={"width": width, "height": VIEWPORT["height"]}, locale="en-GB")
    page = context.new_page()
    page.emulate_media(reduced_motion="reduce")
    return page


def sign_in(page: Page, base: str, email: str = AGENT_EMAIL) -> None:
    page.goto(f"{base}/console")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()


def customer_asks_for_a_person(page: Page, base: str) -> tuple[Locator, int]:
    page.goto(f"{base}/")
    page.get_by_role("button", name="Open chat").click()
    chat = page.locator("supportbot-chat")
    expect(chat.locator(".msg.bot").first).to_be_visible(timeout=20_000)
    box = chat.get_by_label("Message")
    answers = chat.locator(".msg.bot").count()
    box.fill(f"where is my order AN-10001? my email is {CUSTOMER_EMAIL}")  # proves who the customer is
    box.press("Enter")
    expect(chat.locator(".msg.bot").nth(answers)).to_be_visible(timeout=20_000)
    box.fill("I want to talk to a person")
    box.press("Enter")
    handed = chat.locator(".msg.bot", has_text="ticket #")
    expect(handed).to_be_visible(timeout=20_000)
    found = re.search(r"ticket #(\d+)", handed.inner_text())
    if found is None:
        raise SystemExit("the handoff message names no ticket")
    return chat, int(found.group(1))


def shoot(page: Page, path: Path, *, full_page: bool = False) -> None:
    page.evaluate("() => document.activeElement instanceof HTMLElement && document.activeElement.blur()")
    if full_page:
        page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=full_page)
    sys.stdout.write(f"wrote {path}\n")


def take(browser: Browser, base: str, out: Path) -> None:
    agent = new_page(browser)
    sign_in(agent, base)
    customer = new_page(browser)
    chat, ticket = customer_asks_for_a_person(customer, base)

    link = agent.get_by_role("link", name=f"Conversation {ticket}", exact=True)
    expect(link).to_be_visible(timeout=20_000)
    shoot(agent, out / "console-inbox.png")

    link.click()
    agent.get_by_role("button", name="Take conversation").click()
    expect(chat.locator(".msg.bot").last).to_contain_text("Maria from our team joined the conversation.")
    reply = agent.get_by_label(re.compile("Your reply"))
    reply.fill("Hello Anna, this is Maria. I can see AN-10001 is on its way with DHL. What can I do for you?")
    reply.press("Enter")
    expect(chat.locator(".msg.bot.agent", has_text="What can I do for you?")).to_be_visible(timeout=10_000)
    expect(agent.get_by_role("log", name="Conversation")).to_contain_text("What can I do for you?")
    shoot(agent, out / "console-handoff.png", full_page=True)  # the header, transcript and reply box
    chat.locator(".messages").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    shoot(customer, out / "console-widget-agent.png")

    agent.goto(f"{base}/console/conversations?q=order")
    expect(agent.get_by_role("heading", name="Conversations", level=1)).to_be_visible()
    shoot(agent, out / "console-conversations.png")

    agent.goto(f"{base}/console/knowledge/test")
    question = agent.get_by_label("Question")
    question.fill("Can I return a sale item?")
    question.press("Enter")
    expect(agent.locator("#kb-customer-answer")).to_be_visible(timeout=20_000)
    shoot(agent, out / "console-knowledge-test.png")

    agent.goto(f"{base}/console/analytics")
    expect(agent.get_by_role("heading", name="Analytics", level=1)).to_be_visible()
    shoot(agent, out / "console-analytics.png")

    admin = new_page(browser)
    sign_in(admin, base, ADMIN_EMAIL)
    admin.goto(f"{base}/console/customers")
    admin.get_by_label("Email or shop customer id").fill(CUSTOMER_EMAIL)
    admin.get_by_label("Email or shop customer id").press("Enter")
    expect(admin.get_by_role("button", name="Export JSON")).to_be_visible()
    shoot(admin, out / "console-customers.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium is not installed: run `make browser-deps`")
    args.out.mkdir(parents=True, exist_ok=True)
    with server() as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            take(browser, base, args.out)
        finally:
            browser.close()


if __name__ == "__main__":
    main()

"""Console sign-in in a real chromium: a wrong password, the lockout, signing out, a forged CSRF token, and
an agent refused an admin page. The real app (no model: the console needs none) runs in a thread on
loopback with its own SQLite database; members are added through `bot.staff` as the CLI would.
Playwright's auto-waiting expectations only: no sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from bot.config import Settings
from bot.dialogue.tracker_store import make_engine
from bot.staff import Passwords, StaffServices
from server.app import create_app
from server.testing import ServerThread

pytestmark = pytest.mark.browser
pytest.importorskip("playwright.sync_api")
from playwright.sync_api import BrowserContext, Page, expect  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
FAILURES = 3


@pytest.fixture
def console(tmp_path: Path) -> Iterator[tuple[str, StaffServices]]:
    settings = Settings(
        project_dir=ROOT,
        state_dir=tmp_path / "state",
        database_url=f"sqlite:///{tmp_path / 'console.db'}",
        console_lockout_failures=FAILURES,
        rate_limit_per_minute=0,
        rate_limit_per_ip_per_minute=0,
    )
    engine = make_engine(settings.resolved_database_url)
    passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    services = StaffServices.from_engine(engine, settings, passwords=passwords)
    services.accounts.add("ann@example.com", PASSWORD, "admin", "Ann Admin")
    services.accounts.add("alex@example.com", PASSWORD, "agent", "Alex Agent")
    app = create_app(settings)
    app.state.staff_services = services
    with ServerThread(app, lifespan=False) as url:
        yield url, services
    engine.dispose()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"the page raised: {errors}"


def sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")  # by keyboard


def test_sign_in_after_a_wrong_password_then_sign_out(page: Page, console: tuple[str, StaffServices]) -> None:
    base, services = console
    page.goto(f"{base}/console/staff")
    expect(page).to_have_url(f"{base}/console/login?next=%2Fconsole%2Fstaff")
    expect(page.get_by_role("heading", name="Sign in to the console")).to_be_visible()
    expect(page.get_by_label("Email")).to_be_focused()

    sign_in(page, "ann@example.com", "not my password")
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password. Check both and try again.")
    expect(page.get_by_label("Email")).to_have_value("ann@example.com")
    expect(page.get_by_label("Password")).to_be_focused()

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(f"{base}/console/staff")
    expect(page.get_by_role("heading", name="Staff", exact=True)).to_be_visible()
    expect(page.get_by_text("Ann Admin (admin)")).to_be_visible()
    expect(page.locator("tr[data-email='alex@example.com']")).to_contain_text("Alex Agent")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{base}/console/login")
    page.goto(f"{base}/console/staff")
    expect(page).to_have_url(f"{base}/console/login?next=%2Fconsole%2Fstaff")
    actions = [e.action for e in services.audit.entries(email="ann@example.com").entries]
    assert actions == ["console.sign_out", "console.sign_in", "console.sign_in_failed"]


def test_the_lockout_after_repeated_wrong_passwords(page: Page, console: tuple[str, StaffServices]) -> None:
    base, _ = console
    page.goto(f"{base}/console/login")
    for _ in range(FAILURES - 1):
        sign_in(page, "alex@example.com", "not my password")
        expect(page.get_by_role("alert")).to_contain_text("Wrong email or password")
    sign_in(page, "alex@example.com", "not my password")
    expect(page.get_by_role("alert")).to_contain_text("This account is locked until")
    sign_in(page, "alex@example.com", PASSWORD)  # the right password does not open a locked account
    expect(page.get_by_role("alert")).to_contain_text("locked until")
    expect(page).to_have_url(f"{base}/console/login")


def test_an_agent_is_refused_the_staff_page(page: Page, console: tuple[str, StaffServices]) -> None:
    base, _ = console
    page.goto(f"{base}/console/login?next=%2Fconsole%2Fstaff")
    sign_in(page, "alex@example.com", PASSWORD)
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("this page needs the admin role; you are signed in as agent")
    response = page.goto(f"{base}/console/audit")
    assert response is not None and response.status == 403
    expect(page.get_by_role("navigation", name="Console").get_by_role("link", name="Staff")).to_have_count(0)


def test_a_forged_csrf_token_is_refused(page: Page, console: tuple[str, StaffServices]) -> None:
    base, services = console
    page.goto(f"{base}/console/login?next=%2Fconsole%2Fstaff")
    sign_in(page, "ann@example.com", PASSWORD)
    expect(page.get_by_role("heading", name="Staff", exact=True)).to_be_visible()
    page.locator("form[action$='/console/staff'] input[name=csrf_token]").evaluate("(el) => el.value = 'forged'")
    page.get_by_label("Email", exact=True).fill("mallory@example.com")
    page.get_by_label("Password (at least 10 characters)").fill("long enough password")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("alert")).to_contain_text("security token is missing or out of date")
    assert services.accounts.find("mallory@example.com") is None


@pytest.mark.viewport(768, 1024)
def test_the_staff_page_fits_a_tablet(page: Page, console: tuple[str, StaffServices]) -> None:
    base, _ = console
    page.goto(f"{base}/console/login?next=%2Fconsole%2Fstaff")
    sign_in(page, "ann@example.com", PASSWORD)
    expect(page.get_by_role("heading", name="Staff", exact=True)).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a 768px tablet"
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()

"""Browser-test fixtures: the real server in a subprocess, Debian's chromium driven by Playwright.

* `live_server`: `uvicorn server.app:create_app` on a free loopback port, with its own state folder
  (trained on first start); waits for `/readyz` (bounded), stops at the end of the session.
* `page`: a fresh browser context per test (so localStorage starts empty); on failure a full-page
  screenshot goes to `test-artifacts/<test>.png` and the server log to `test-artifacts/server.log`.

Chromium comes from Debian (`make browser-deps`); Playwright cannot download browsers here. Without it
the tests skip locally and fail in CI (`CI` set).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.testing import ServerNotReady, ServerProcess, free_port, uvicorn_command

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
READY_TIMEOUT_SECONDS = 420  # the first start trains the model
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "viewport(width, height): the browser viewport for a browser test")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; CI must run `make browser-deps` first")
        pytest.skip("chromium is not installed (run `make browser-deps`)")
    return path


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (no trailing slash) of a real supportbot server."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    state = tmp_path_factory.mktemp("browser") / "state"
    env = {
        **os.environ,
        "SUPPORTBOT_PROJECT_DIR": str(ROOT),
        "SUPPORTBOT_STATE_DIR": str(state),
        "SUPPORTBOT_WATCH_KNOWLEDGE": "false",
        "SUPPORTBOT_RATE_LIMIT_PER_MINUTE": "0",
        "SUPPORTBOT_RATE_LIMIT_PER_IP_PER_MINUTE": "0",
        "SUPPORTBOT_LOG_JSON": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    log_path = ARTIFACTS / "server.log"
    with ServerProcess(uvicorn_command(port), port=port, env=env, cwd=ROOT, log=log_path) as server:
        try:
            server.wait_ready(READY_TIMEOUT_SECONDS)
        except ServerNotReady as e:
            pytest.fail(f"{str(e).splitlines()[0]}; see {log_path}")
        yield server.url


@pytest.fixture(scope="session")
def browser(chromium_path: str, playwright_driver: Playwright) -> Iterator[Browser]:
    browser = playwright_driver.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
    expect.set_options(timeout=20_000)
    yield browser
    browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def _viewport(request: pytest.FixtureRequest) -> dict[str, int]:
    marker = request.node.get_closest_marker("viewport")
    return {"width": marker.args[0], "height": marker.args[1]} if marker else {"width": 1280, "height": 860}


@pytest.fixture
def context(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=_viewport(request), locale="en-GB")  # type: ignore[arg-type]
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext, live_server: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a fresh context; `live_server` is started first. Fails the test on page errors."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: (errors.append(f"unexpected dialog: {dialog.message}"), dialog.dismiss()))
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        except Exception as e:  # the page may be gone; the failure itself is what matters
            print(f"could not save a screenshot: {e}")
    assert not errors, f"the page raised: {errors}"

"""The off-the-shelf `rasa-webchat` widget (npm, unchanged) talking to supportbot's socket.io channel.

A real chromium loads a page from one loopback origin that embeds rasa-webchat@1.0.1; the widget connects
to supportbot (the real model and knowledge base) on another origin, as a shop embedding it would. The
test greets through the widget's initPayload, clicks a quick reply, and types a question.

Needs: `npm` (the package is installed into .supportbot/npm on first run) and Debian's chromium
(`make browser-deps`).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import FileResponse, HTMLResponse
from starlette.routing import Route

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
NPM_DIR = ROOT / ".supportbot" / "npm"
WEBCHAT = "rasa-webchat@1.0.1"
BUNDLE = NPM_DIR / "node_modules" / "rasa-webchat" / "lib" / "index.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop page with rasa-webchat</title></head>
<body>
<div id="webchat" style="height: 600px; width: 400px"></div>
<script src="/webchat.js"></script>
<script>
  window.WebChat.default({
    socketUrl: "%(bot)s",
    socketPath: "/socket.io/",
    initPayload: "/greet",
    embedded: true,
    title: "Atelier Nord",
    customData: {language: "en"},
    params: {storage: "session"},
    customMessageDelay: function () { return 0; }  // no reading pause between a turn's messages in tests
  }, document.getElementById("webchat"));
</script>
</body></html>
"""


def webchat_bundle() -> Path:
    if not BUNDLE.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed; it is needed to fetch rasa-webchat")
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--prefix", str(NPM_DIR), WEBCHAT, "--no-audit", "--no-fund", "--ignore-scripts"],
            check=True,
            capture_output=True,
            timeout=600,
        )
    return BUNDLE


def bound_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


class Served:
    """An ASGI app served by uvicorn in a thread on an already-bound socket."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False, timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.sock = sock
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        for _ in range(4000):
            if self.server.started:
                return
            threading.Event().wait(0.005)
        raise RuntimeError("the test server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture(scope="module")
def servers(real_settings: Any, real_serving: Any) -> Iterator[tuple[str, str]]:
    """(page url, bot url): the shop page on one origin, supportbot on another."""
    from server.app import create_app

    bundle = webchat_bundle()
    page_sock, bot_sock = bound_socket(), bound_socket()
    page_origin = f"http://127.0.0.1:{page_sock.getsockname()[1]}"
    bot_url = f"http://127.0.0.1:{bot_sock.getsockname()[1]}"

    settings = real_settings.with_overrides(cors_origins=[page_origin])
    bot_app = create_app(settings)
    bot_app.state.assistant = real_serving.assistant
    bot_app.state.knowledge = real_serving.knowledge

    async def page(_: Any) -> HTMLResponse:
        return HTMLResponse(PAGE % {"bot": bot_url})

    async def script(_: Any) -> FileResponse:
        return FileResponse(bundle, media_type="application/javascript")

    page_app = Starlette(routes=[Route("/", page), Route("/webchat.js", script)])
    bot = Served(bot_app, bot_sock)
    shop = Served(page_app, page_sock)
    try:
        yield page_origin + "/", bot_url
    finally:
        shop.stop()
        bot.stop()


@pytest.fixture(scope="module")
def browser(playwright_driver: Any) -> Iterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("chromium is not installed (make browser-deps)")
    browser = playwright_driver.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def test_rasa_webchat_talks_to_supportbot(servers: tuple[str, str], browser: Any) -> None:
    import httpx
    from playwright.sync_api import expect

    page_url, bot_url = servers
    page = browser.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(page_url)

    # initPayload "/greet": the greeting arrives with its buttons rendered as quick replies.
    responses = page.locator(".rw-response")
    expect(responses.first).to_contain_text("Atelier Nord", timeout=60_000)
    replies = page.locator(".rw-reply")
    expect(replies.filter(has_text="Opening hours")).to_be_visible()
    assert any("session_confirm" in line for line in console), console

    # Clicking a quick reply sends its payload; the bot answers it.
    shown = responses.count()
    replies.filter(has_text="Opening hours").click()
    expect(responses.nth(shown)).to_be_visible(timeout=30_000)

    # A knowledge question typed into the widget gets the knowledge base's answer.
    question = "how long does delivery to Germany take"
    expected = httpx.post(f"{bot_url}/webhooks/rest/webhook", json={"sender": "probe", "message": question}).json()
    first_words = " ".join(expected[0]["text"].replace("*", "").split()[:4])
    expect(responses.filter(has_text=first_words)).to_have_count(0)
    page.locator(".rw-new-message").fill(question)
    page.locator(".rw-new-message").press("Enter")
    expect(page.locator(".rw-client").last).to_contain_text(question)
    expect(responses.filter(has_text=first_words).first).to_be_visible(timeout=30_000)
    page.close()

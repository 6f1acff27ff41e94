"""Book, move and cancel a fitting with the buttons the bot offers, in a real chromium against the real bot.

The same customer journey runs in two widgets:

* our widget (`<supportbot-chat>` on the demo shop, WebSocket `/ws/chat`) against the `live_server`
  subprocess of `conftest.py`;
* the off-the-shelf `rasa-webchat@1.0.1` (npm, unchanged) on a page of another loopback origin, talking to
  the socket.io channel of the real bot served in-process (as in `test_rasa_webchat.py`).

The journey: type "hi", click "Book a fitting", a shop, a day, a time, type an email (the only answer
without a button), click "Yes, book it"; then move that booking (type "reschedule my fitting" unless a
button offers it, answer the reference and email questions, click a day, a time and the yes button); then
cancel it ("cancel my appointment", reference, email, "Yes, cancel it"). Day and time buttons are picked
from what is offered, so the test does not depend on the day it runs. After every turn the bot's messages
are checked: none says "outside the opening hours", and none repeats the question it just asked. A failure
shows the whole conversation: each customer message or click, then the bot's messages and their buttons.

Waiting is on the page's state only (a new bot message, the typing indicator gone): no sleeps.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect
from starlette.applications import Starlette
from starlette.responses import FileResponse, HTMLResponse
from starlette.routing import Route

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SHOP = "Berlin"
TURN_TIMEOUT_MS = 30_000  # the model answers in well under a second; rasa-webchat shows each message after ≤ 3 s

REFERENCE = re.compile(r"\bFT-[A-Z0-9]{5}\b")
DAY_BUTTON = re.compile(r"^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")
TIME_BUTTON = re.compile(r"^\d{1,2}:\d{2}$")
OUTSIDE_HOURS = "outside the opening hours"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser(chromium_path: str, playwright_driver: Playwright) -> Iterator[Browser]:
    """This module's own chromium, closed when the module ends (overrides the session one of conftest.py)."""
    browser = playwright_driver.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
    expect.set_options(timeout=20_000)
    yield browser
    browser.close()


# -- the conversation, whatever the widget ---------------------------------------------------------------
@dataclass
class BotMessage:
    text: str
    buttons: list[str]


class ChatUI(Protocol):
    """What a test needs from a chat widget on a page."""

    def bot_count(self) -> int: ...  # bot messages shown so far

    def wait_for_bot(self, shown_before: int) -> None: ...  # a new bot turn is complete

    def bot_message(self, index: int) -> BotMessage: ...

    def type(self, text: str) -> None: ...  # type and send, until shown as the customer's message

    def click(self, message_index: int, title: str) -> None: ...  # a button under that bot message


@dataclass
class Conversation:
    """Drives a widget turn by turn and keeps the transcript; checks every bot turn as it arrives."""

    ui: ChatUI
    transcript: list[str] = field(default_factory=list)
    turns: list[list[BotMessage]] = field(default_factory=list)
    turn_starts: list[int] = field(default_factory=list)
    watching: bool = False  # the repeated-question check starts once the customer has said hello

    def fail(self, problem: str) -> None:
        pytest.fail(f"{problem}\n\nThe conversation so far:\n" + "\n".join(self.transcript), pytrace=False)

    def _collect(self, shown_before: int, action: str) -> list[BotMessage]:
        self.transcript.append(action)
        try:
            self.ui.wait_for_bot(shown_before)
        except AssertionError as e:  # an expect() timed out
            self.fail(f"no complete bot reply after {action!r}: {e}")
        except Exception as e:  # Playwright's TimeoutError
            self.fail(f"no complete bot reply after {action!r}: {type(e).__name__}: {e}")
        turn = [self.ui.bot_message(i) for i in range(shown_before, self.ui.bot_count())]
        for message in turn:
            self.transcript.append(f"    bot: {message.text}")
            if message.buttons:
                self.transcript.append(f"         buttons: {message.buttons}")
        self._check(turn)
        self.turns.append(turn)
        self.turn_starts.append(shown_before)
        return turn

    def _check(self, turn: list[BotMessage]) -> None:
        for message in turn:
            if OUTSIDE_HOURS in message.text:
                self.fail(f"the bot said {OUTSIDE_HOURS!r}")
        if not self.watching or not self.turns:
            return
        previous = self.turns[-1]
        if turn[-1].text.strip() == previous[-1].text.strip():
            self.fail("the bot asked the same question twice in a row")
        if turn[0].text.strip() == previous[-1].text.strip():
            self.fail("the bot repeated its last message")
        for before, after in zip(turn, turn[1:], strict=False):
            if before.text.strip() == after.text.strip():
                self.fail("the bot sent the same message twice in a row")

    def greeting(self) -> list[BotMessage]:
        """The widget greets by itself when it opens (rasa-webchat's initPayload, our start payload)."""
        return self._collect(0, "(the widget opens and sends its start payload)")

    def say(self, text: str) -> list[BotMessage]:
        shown = self.ui.bot_count()
        self.ui.type(text)
        return self._collect(shown, f"customer types: {text}")

    def press(self, title: str) -> list[BotMessage]:
        """Click the button with exactly this title under the bot's latest turn."""
        turn, start = self.turns[-1], self.turn_starts[-1]
        for offset, message in enumerate(turn):
            if title in message.buttons:
                shown = self.ui.bot_count()
                self.ui.click(start + offset, title)
                return self._collect(shown, f"customer clicks [{title}]")
        self.fail(f"the bot's last turn offers no button {title!r}")
        raise AssertionError("unreachable")

    def buttons(self, pattern: re.Pattern[str] | None = None) -> list[str]:
        """The buttons of the bot's latest turn (those whose title matches `pattern`)."""
        titles = [b for m in self.turns[-1] for b in m.buttons]
        return [b for b in titles if pattern is None or pattern.search(b)]

    def require_buttons(self, pattern: re.Pattern[str], what: str) -> list[str]:
        found = self.buttons(pattern)
        if not found:
            self.fail(f"expected {what} buttons, the bot offered {self.buttons()}")
        return found

    def last_text(self) -> str:
        return "\n".join(m.text for m in self.turns[-1])

    def require_text(self, pattern: str, what: str) -> str:
        text = self.last_text()
        if not re.search(pattern, text, re.I):
            self.fail(f"expected {what} (/{pattern}/) in the bot's last turn")
        return text


@dataclass
class Booking:
    reference: str
    email: str
    day: str  # the day button's title, e.g. "Monday 7 December": the bot's confirmations use the same words
    time: str  # the time button's title, e.g. "11:00"


def book_a_fitting(chat: Conversation, email: str) -> Booking:
    chat.greeting()
    chat.say("hi")
    chat.watching = True
    chat.require_buttons(re.compile(r"^Book a fitting$"), "'Book a fitting'")
    chat.press("Book a fitting")
    chat.require_buttons(re.compile(f"^{SHOP}$"), "shop")
    chat.press(SHOP)
    days = chat.require_buttons(DAY_BUTTON, "day")
    day = days[1] if len(days) > 1 else days[0]  # not today: its last free time may pass during the test
    chat.press(day)
    chat.require_text(re.escape(day), "the chosen day")
    time = chat.require_buttons(TIME_BUTTON, "time")[0]
    chat.press(time)
    chat.require_text(re.escape(day), "the chosen day")
    chat.require_text(rf"\b{re.escape(time)}\b", "the chosen time")
    chat.require_text(r"e-?mail", "a question for the email address")
    chat.say(email)
    chat.require_buttons(re.compile(r"^Yes, book it$"), "'Yes, book it'")
    chat.press("Yes, book it")
    text = chat.require_text(REFERENCE.pattern, "a booking reference FT-xxxxx")
    chat.require_text(SHOP, "the shop")
    chat.require_text(re.escape(day), "the chosen day")
    chat.require_text(rf"\b{re.escape(time)}\b", "the chosen time")
    match = REFERENCE.search(text)
    assert match is not None
    return Booking(match.group(0), email, day, time)


def identify(
    chat: Conversation, booking: Booking, request: str, button: re.Pattern[str], done: re.Pattern[str]
) -> None:
    """Start a task on an existing booking (its button if the bot offers one, else typed), then answer
    the reference and email questions in the order the bot asks them, until `done` buttons appear."""
    offered = chat.buttons(button)
    if offered:
        chat.press(offered[0])
    else:
        chat.say(request)
    answered: set[str] = set()
    while not chat.buttons(done):
        question = chat.turns[-1][-1].text.lower()
        if "reference" in question and "reference" not in answered:
            answered.add("reference")
            chat.say(booking.reference)
        elif "email" in question and "email" not in answered:
            answered.add("email")
            chat.say(booking.email)
        else:
            chat.fail(f"after {request!r}: expected a question for the booking reference or the email, "
                      f"or the buttons /{done.pattern}/")  # fmt: skip
    if answered != {"reference", "email"}:
        chat.fail(f"the bot went on without asking for {sorted({'reference', 'email'} - answered)}")


def reschedule(chat: Conversation, booking: Booking) -> Booking:
    identify(chat, booking, "reschedule my fitting", re.compile(r"move|reschedule", re.I), DAY_BUTTON)
    days = chat.require_buttons(DAY_BUTTON, "day")
    later = [d for d in days[1:] if d != booking.day] or [d for d in days if d != booking.day] or days
    day = later[0]
    chat.press(day)
    chat.require_text(re.escape(day), "the chosen day")
    times = chat.require_buttons(TIME_BUTTON, "time")
    time = ([t for t in times if t != booking.time] if day == booking.day else times)[0]
    chat.press(time)
    chat.require_text(re.escape(booking.day), "the old day in the confirmation question")
    chat.require_text(re.escape(day), "the new day in the confirmation question")
    yes = chat.require_buttons(re.compile(r"^Yes\b"), "a yes")
    chat.press(yes[0])
    chat.require_text(booking.reference, "the booking reference")
    chat.require_text(re.escape(day), "the new day")
    chat.require_text(rf"\b{re.escape(time)}\b", "the new time")
    chat.require_text(SHOP, "the shop")
    if re.search(r"\b(not|unchanged|stays|sorry)\b", chat.last_text(), re.I):
        chat.fail("the reschedule was not confirmed")
    return Booking(booking.reference, booking.email, day, time)


def cancel(chat: Conversation, booking: Booking) -> None:
    identify(chat, booking, "cancel my appointment", re.compile(r"^cancel", re.I), re.compile(r"^Yes, cancel it$"))
    chat.require_text(re.escape(booking.day), "the appointment's day in the cancel question")
    chat.require_text(rf"\b{re.escape(booking.time)}\b", "the appointment's time in the cancel question")
    chat.press("Yes, cancel it")
    chat.require_text(r"\bcancell?ed\b", "the cancellation")
    chat.require_text(re.escape(booking.day), "the cancelled appointment's day")
    chat.require_text(rf"\b{re.escape(booking.time)}\b", "the cancelled appointment's time")


def book_move_and_cancel(chat: Conversation) -> None:
    booking = book_a_fitting(chat, f"buttons-{uuid.uuid4().hex[:8]}@example.com")
    moved = reschedule(chat, booking)
    cancel(chat, moved)
    print("\n".join(chat.transcript))  # shown with `pytest -rP`


def exact(title: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*{re.escape(title)}\s*$")


def ends_with(title: str) -> re.Pattern[str]:  # our widget's bubbles start with a hidden "You: "
    return re.compile(rf"{re.escape(title)}\s*$")


# -- our widget ------------------------------------------------------------------------------------------
class SupportbotWidget:
    def __init__(self, page: Page) -> None:
        self.root = page.locator("supportbot-chat")
        self.bots = self.root.locator(".msg.bot")

    def bot_count(self) -> int:
        return self.bots.count()

    def wait_for_bot(self, shown_before: int) -> None:
        # the widget renders a turn's replies together, from one frame, and hides the typing indicator then
        expect(self.bots.nth(shown_before)).to_be_attached(timeout=TURN_TIMEOUT_MS)
        expect(self.root.locator(".typing")).to_be_hidden(timeout=TURN_TIMEOUT_MS)

    def bot_message(self, index: int) -> BotMessage:
        message = self.bots.nth(index)
        text = message.locator(".bubble").inner_text().strip().removeprefix("Assistant:").strip()
        return BotMessage(text, message.locator(".quick button").all_inner_texts())

    def type(self, text: str) -> None:
        box = self.root.get_by_label("Message")
        box.fill(text)
        box.press("Enter")
        expect(self.root.locator(".msg.user").last).to_contain_text(text)

    def click(self, message_index: int, title: str) -> None:
        self.bots.nth(message_index).locator(".quick").get_by_role("button", name=title, exact=True).click()
        expect(self.root.locator(".msg.user").last.locator(".bubble")).to_have_text(ends_with(title))


def test_our_widget_books_moves_and_cancels_a_fitting_by_buttons(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/")
    page.get_by_role("button", name="Open chat").click()
    ui = SupportbotWidget(page)
    expect(ui.root.get_by_label("Message")).to_be_focused()
    book_move_and_cancel(Conversation(ui))


# -- the off-the-shelf rasa-webchat ----------------------------------------------------------------------
NPM_DIR = ROOT / ".supportbot" / "npm"
WEBCHAT = "rasa-webchat@1.0.1"
WEBCHAT_BUNDLE = NPM_DIR / "node_modules" / "rasa-webchat" / "lib" / "index.js"
WEBCHAT_PAGE = """<!doctype html>
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
# a bot message of rasa-webchat: its text in `.rw-response`, its buttons in `.rw-replies` (until one is used);
# the typing indicator (`.rw-typing-indication`) is outside the message groups
WEBCHAT_BOT = ".rw-group-message.rw-from-response .rw-message"
WEBCHAT_TURN_DONE = """([selector, before]) =>
  document.querySelectorAll(selector).length > before && !document.querySelector(".rw-typing-indication")"""


def webchat_bundle() -> Path:
    if not WEBCHAT_BUNDLE.exists():
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
    return WEBCHAT_BUNDLE


def loopback_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def url_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


class Served:
    """An ASGI app served by uvicorn in a thread on an already-bound socket."""

    def __init__(self, app: Any, sock: socket.socket) -> None:
        config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False, timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.sock = sock
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        started = threading.Event()
        for _ in range(4000):  # bounded: uvicorn offers no event to wait on
            if self.server.started:
                return
            started.wait(0.005)
        raise RuntimeError("the test server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture(scope="module")
def webchat_servers(real_settings: Any, real_serving: Any) -> Iterator[str]:
    """The shop page's URL: rasa-webchat on one loopback origin, the real bot (socket.io) on another."""
    from server.app import create_app

    bundle = webchat_bundle()
    page_sock, bot_sock = loopback_socket(), loopback_socket()
    bot_app = create_app(real_settings.with_overrides(cors_origins=[url_of(page_sock)]))
    bot_app.state.assistant = real_serving.assistant
    bot_app.state.knowledge = real_serving.knowledge

    async def page(_: Any) -> HTMLResponse:
        return HTMLResponse(WEBCHAT_PAGE % {"bot": url_of(bot_sock)})

    async def script(_: Any) -> FileResponse:
        return FileResponse(bundle, media_type="application/javascript")

    page_app = Starlette(routes=[Route("/", page), Route("/webchat.js", script)])
    bot = Served(bot_app, bot_sock)
    shop = Served(page_app, page_sock)
    try:
        yield url_of(page_sock) + "/"
    finally:
        shop.stop()
        bot.stop()


@pytest.fixture
def webchat_page(context: BrowserContext, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a fresh context (empty sessionStorage: a new conversation); a screenshot on failure."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        except Exception as e:  # the page may be gone; the failure itself is what matters
            print(f"could not save a screenshot: {e}")
    assert not errors, f"the page raised: {errors}"


class RasaWebchat:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.bots = page.locator(WEBCHAT_BOT)

    def bot_count(self) -> int:
        return self.bots.count()

    def wait_for_bot(self, shown_before: int) -> None:
        # rasa-webchat queues the messages of a turn and shows them one by one (a delay per message), with
        # its typing indicator on until the queue is empty; the server emits a turn's messages together
        self.page.wait_for_function(WEBCHAT_TURN_DONE, arg=[WEBCHAT_BOT, shown_before], timeout=TURN_TIMEOUT_MS)

    def bot_message(self, index: int) -> BotMessage:
        message = self.bots.nth(index)
        return BotMessage(message.locator(".rw-response").inner_text(), message.locator(".rw-reply").all_inner_texts())

    def type(self, text: str) -> None:
        box = self.page.locator(".rw-new-message")
        box.fill(text)
        box.press("Enter")
        expect(self.page.locator(".rw-client").last).to_contain_text(text)

    def click(self, message_index: int, title: str) -> None:
        self.bots.nth(message_index).locator(".rw-reply").filter(has_text=exact(title)).click()
        expect(self.page.locator(".rw-client").last).to_have_text(exact(title))


@pytest.mark.integration
def test_rasa_webchat_books_moves_and_cancels_a_fitting_by_quick_replies(
    webchat_servers: str, webchat_page: Page
) -> None:
    webchat_page.goto(webchat_servers)
    book_move_and_cancel(Conversation(RasaWebchat(webchat_page)))

"""Product cards in a real chromium: our widget's carousel, and rasa-webchat's (npm, unchanged).

The bot is scripted (`ScriptedAssistant`, no model) and the catalogue in memory, so these tests check
the channels and the widget, not the product search; the server is the real app in a thread of this
process. Only Playwright's auto-waiting expectations are used: no sleeps.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Playwright, expect

from bot.config import Settings
from bot.products.cards import product_card
from bot.products.catalogue import Product
from bot.products.memory import InMemoryCatalogue
from bot.testing.fakes import ScriptedAssistant
from bot.types import Button, Card, Reply
from server.app import create_app
from server.testing import ServerThread

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
NPM_DIR = ROOT / ".supportbot" / "npm"
WEBCHAT = "rasa-webchat@1.0.1"
WEBCHAT_BUNDLE = NPM_DIR / "node_modules" / "rasa-webchat" / "lib" / "index.js"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip

PRODUCTS = [
    Product("KN-104", "Fjell merino crew-neck", "knitwear", "sweater", "Extra-fine merino.", 14000,
            ("navy", "oat"), ("S", "M", "L"), stock={"paris": {"S": 2, "M": 1}, "online": {"L": 3}}),
    Product("KN-221", "Vinter cable cardigan with a rather long name", "knitwear", "cardigan", "Chunky wool.",
            18900, ("ecru",), ("M", "L"), stock={"berlin": {"M": 1}}),
    Product("CO-310", "Havn wool overcoat", "coats", "overcoat", "Boiled wool.", 39000, ("charcoal",),
            ("S", "M"), stock={}),
]  # fmt: skip
SIMILAR = {p.sku: Button("Similar pieces", f'/product_similar{{"sku":"{p.sku}"}}') for p in PRODUCTS}
CARDS = tuple(product_card(p, [SIMILAR[p.sku], Button("Pairs well with", f"/product_pairing{{\"sku\":\"{p.sku}\"}}")])
              for p in PRODUCTS)  # fmt: skip
GREETING = "Hi! Looking for something?"
XSS = "<img src=x onerror=alert(1)>"
HOSTILE = Card(XSS, XSS, XSS, XSS, "javascript:alert(2)", "javascript:alert(3)", (XSS,), (XSS,), (Button(XSS, "/x"),))
SCRIPT = {
    "/greet": [Reply(GREETING)],
    "warm sweaters": [Reply("Here are three warm pieces:", cards=CARDS)],
    "hostile": [Reply("", cards=(HOSTILE,))],
}


def assistant() -> ScriptedAssistant:
    return ScriptedAssistant(SCRIPT, fallback=lambda text: [Reply(f"You asked: {text}")])


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[str, ScriptedAssistant]]:
    """The demo shop with the widget, a scripted bot and an in-memory catalogue, on a loopback port."""
    app = create_app(Settings(project_dir=ROOT, state_dir=tmp_path / "state", rate_limit_per_minute=0))
    bot = assistant()
    app.state.assistant = bot
    app.state.catalogue = InMemoryCatalogue(PRODUCTS)
    with ServerThread(app, lifespan=False) as url:
        yield url, bot


@pytest.fixture(scope="module")
def browser(chromium_path: str, playwright_driver: Playwright) -> Iterator[Browser]:
    """This module's own chromium, closed when the module ends (overrides the session one of conftest.py)."""
    browser = playwright_driver.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
    expect.set_options(timeout=20_000)
    yield browser
    browser.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: (errors.append(f"unexpected dialog: {dialog.message}"), dialog.dismiss()))
    yield page
    assert not errors, f"the page raised: {errors}"


def ask_for_cards(page: Page, base: str, question: str = "warm sweaters", count: int = len(CARDS)) -> Locator:
    """Open the widget on the shop page, ask, and return the reply's list of cards."""
    page.goto(f"{base}/")
    page.get_by_role("button", name="Open chat").click()
    chat = page.locator("supportbot-chat")
    expect(chat.locator(".msg.bot").first).to_contain_text(GREETING)
    box = chat.get_by_label("Message")
    box.fill(question)
    box.press("Enter")
    cards = chat.get_by_role("list", name="Products")
    expect(cards.get_by_role("listitem")).to_have_count(count)
    return cards


def focused_card_title(page: Page) -> str:
    title: str = page.evaluate(
        """() => {
          const el = document.querySelector("supportbot-chat").shadowRoot.activeElement;
          return el && el.classList.contains("card") ? el.querySelector(".card-title").textContent : "";
        }"""
    )
    return title


# -- our widget -----------------------------------------------------------------------------------------
def test_the_widget_shows_each_card_under_the_reply(page: Page, shop: tuple[str, ScriptedAssistant]) -> None:
    base, _ = shop
    cards = ask_for_cards(page, base)
    reply = page.locator("supportbot-chat .msg.bot").last
    expect(reply.locator(".bubble")).to_contain_text("Here are three warm pieces:")
    first = cards.get_by_role("listitem").first
    image = first.get_by_role("img", name="Fjell merino crew-neck")
    expect(image).to_have_attribute("src", f"{base}/products/KN-104/image.svg")
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") > 0  # the server drew it
    expect(first.locator(".card-title")).to_have_text("Fjell merino crew-neck")
    expect(first.locator(".card-price")).to_have_text("€140")
    expect(first).to_contain_text("Colours: navy, oat")
    expect(first).to_contain_text("In stock: S M L")
    expect(cards.get_by_role("listitem").nth(2)).to_contain_text("Sold out")
    link = first.get_by_role("link", name="View product")
    expect(link).to_have_attribute("href", f"{base}/products/KN-104")
    expect(first.get_by_role("button")).to_have_text(["Similar pieces", "Pairs well with"])


def test_arrow_keys_move_between_cards_and_tab_reaches_each(page: Page, shop: tuple[str, ScriptedAssistant]) -> None:
    cards = ask_for_cards(page, shop[0])
    items = cards.get_by_role("listitem")
    items.first.focus()
    assert focused_card_title(page) == "Fjell merino crew-neck"
    page.keyboard.press("ArrowRight")
    expect(items.nth(1)).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # the last card keeps the focus
    expect(items.nth(2)).to_be_focused()
    expect(items.nth(2)).to_be_in_viewport(ratio=1)  # scrolled into view, whole
    page.keyboard.press("ArrowLeft")
    expect(items.nth(1)).to_be_focused()
    page.keyboard.press("Home")
    expect(items.first).to_be_focused()
    page.keyboard.press("End")
    expect(items.nth(2)).to_be_focused()

    # Tab: a card, its link, its two buttons, then the next card; arrows work from inside a card too
    items.first.focus()
    for name in ("View product", "Similar pieces", "Pairs well with"):
        page.keyboard.press("Tab")
        expect(
            items.first.get_by_role("link", name=name).or_(items.first.get_by_role("button", name=name))
        ).to_be_focused()
    page.keyboard.press("Tab")
    expect(items.nth(1)).to_be_focused()
    expect(items.nth(1)).to_be_in_viewport(ratio=1)
    outline = items.nth(1).evaluate("el => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth")
    assert outline == "solid 3px"  # visible focus
    items.nth(1).get_by_role("button", name="Similar pieces").focus()
    page.keyboard.press("ArrowLeft")
    expect(items.first).to_be_focused()


def test_a_card_button_sends_its_payload_and_shows_its_title(page: Page, shop: tuple[str, ScriptedAssistant]) -> None:
    base, bot = shop
    cards = ask_for_cards(page, base)
    cards.get_by_role("listitem").nth(1).get_by_role("button", name="Similar pieces").click()
    chat = page.locator("supportbot-chat")
    expect(chat.locator(".msg.user").last).to_have_text(re.compile(r"Similar pieces$"))
    expect(chat.locator(".msg.bot").last).to_contain_text('You asked: /product_similar{"sku":"KN-221"}')
    message = bot.messages[-1]
    assert (message.text, message.metadata.get("display")) == ('/product_similar{"sku":"KN-221"}', "Similar pieces")
    expect(cards.get_by_role("button", name="Similar pieces")).to_have_count(3)  # the cards keep their buttons


def test_the_link_opens_the_product_page(page: Page, shop: tuple[str, ScriptedAssistant]) -> None:
    base, _ = shop
    cards = ask_for_cards(page, base)
    cards.get_by_role("listitem").first.get_by_role("link", name="View product").click()
    expect(page).to_have_url(f"{base}/products/KN-104")
    expect(page.get_by_role("heading", level=1)).to_have_text("Fjell merino crew-neck")
    # the page's own photo (the widget's restored cards carry the same alt text)
    expect(page.get_by_role("article").get_by_role("img", name="Fjell merino crew-neck")).to_be_visible()
    expect(page.get_by_role("link", name="Back to the shop")).to_have_attribute("href", "/#products")
    # the widget came along, open, with the conversation
    expect(page.locator("supportbot-chat .msg.user")).to_have_text([re.compile(r"warm sweaters$")])


def test_card_text_is_never_html_and_unsafe_addresses_are_dropped(
    page: Page, shop: tuple[str, ScriptedAssistant]
) -> None:
    card = ask_for_cards(page, shop[0], "hostile", 1).get_by_role("listitem")
    expect(card.locator(".card-title")).to_have_text(XSS)
    expect(card).to_contain_text(f"Colours: {XSS}")
    expect(card.get_by_role("button")).to_have_text([XSS])
    expect(card.locator("img")).to_have_count(0)  # neither the text's nor a javascript: image
    expect(card.locator("a")).to_have_count(0)  # no javascript: link
    expect(page.locator("supportbot-chat .msg.bot").last.locator(".bubble")).to_have_count(0)  # no empty bubble
    # the page fixture fails the test if an alert() or a page error happened


@pytest.mark.viewport(360, 740)
def test_cards_on_a_360_px_phone(page: Page, shop: tuple[str, ScriptedAssistant]) -> None:
    cards = ask_for_cards(page, shop[0])
    first = cards.get_by_role("listitem").first
    box = first.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
    sizes = cards.evaluate("el => [el.scrollWidth, el.clientWidth, getComputedStyle(el).scrollSnapType]")
    assert sizes[0] > sizes[1] and sizes[2] == "x mandatory"  # the list scrolls, card by card
    assert page.evaluate("document.documentElement.scrollWidth") <= 360  # the page does not
    expect(first.get_by_role("button", name="Similar pieces")).to_be_in_viewport()
    first.focus()
    page.keyboard.press("ArrowRight")  # the card that peeked in is scrolled in whole
    expect(cards.get_by_role("listitem").nth(1)).to_be_in_viewport(ratio=1)
    page.keyboard.press("End")
    expect(cards.get_by_role("listitem").last).to_be_in_viewport(ratio=1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


@pytest.mark.viewport(360, 740)
def test_product_page_on_a_360_px_phone(page: Page, shop: tuple[str, ScriptedAssistant]) -> None:
    page.goto(f"{shop[0]}/products/KN-104")
    expect(page.get_by_role("heading", level=1)).to_have_text("Fjell merino crew-neck")
    expect(page.get_by_role("table", name="Pieces in stock per size")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    response = page.goto(f"{shop[0]}/products/NOPE")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("We couldn't find this product")


# -- rasa-webchat ----------------------------------------------------------------------------------------
WEBCHAT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop page with rasa-webchat</title></head>
<body>
<div id="webchat" style="height: 700px; width: 420px"></div>
<script src="/webchat.js"></script>
<script>
  window.WebChat.default({socketUrl: "%(bot)s", socketPath: "/socket.io/", initPayload: "warm sweaters",
    embedded: true, title: "Atelier Nord", params: {storage: "session"},
    customMessageDelay: function () { return 0; }}, document.getElementById("webchat"));
</script>
</body></html>
"""


def webchat_bundle() -> Path:
    if not WEBCHAT_BUNDLE.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed; it is needed to fetch rasa-webchat")
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        command = [npm, "install", "--prefix", str(NPM_DIR), WEBCHAT, "--no-audit", "--no-fund", "--ignore-scripts"]
        subprocess.run(command, check=True, capture_output=True, timeout=600)
    return WEBCHAT_BUNDLE


@pytest.fixture
def webchat(tmp_path: Path) -> Iterator[tuple[str, str, ScriptedAssistant]]:
    """(page url, bot url, bot): a page with rasa-webchat on one origin, supportbot on another."""
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, HTMLResponse
    from starlette.routing import Route

    bundle = webchat_bundle()
    bot = assistant()
    holder: dict[str, str] = {}

    async def shop_page(_: Any) -> HTMLResponse:
        return HTMLResponse(WEBCHAT_PAGE % {"bot": holder["bot"]})

    async def script(_: Any) -> FileResponse:
        return FileResponse(bundle, media_type="application/javascript")

    page_app = Starlette(routes=[Route("/", shop_page), Route("/webchat.js", script)])
    with ServerThread(page_app, lifespan=False) as page_url:
        settings = Settings(project_dir=ROOT, state_dir=tmp_path / "state", cors_origins=[page_url])
        bot_app = create_app(settings)
        bot_app.state.assistant = bot
        bot_app.state.catalogue = InMemoryCatalogue(PRODUCTS)
        with ServerThread(bot_app, lifespan=False) as bot_url:
            holder["bot"] = bot_url
            yield page_url + "/", bot_url, bot


def test_rasa_webchat_shows_the_cards_as_its_carousel(page: Page, webchat: tuple[str, str, ScriptedAssistant]) -> None:
    page_url, bot_url, bot = webchat
    page.goto(page_url)
    cards = page.locator(".rw-carousel-container .rw-carousel-card")
    expect(cards).to_have_count(len(CARDS), timeout=30_000)
    first = cards.first
    expect(first.locator(".rw-carousel-card-title")).to_have_text("Fjell merino crew-neck")
    expect(first.locator(".rw-carousel-card-subtitle")).to_have_text("€140 · navy, oat · S M L")
    image = first.locator("img.rw-carousel-card-image")
    expect(image).to_have_attribute("src", f"{bot_url}/products/KN-104/image.svg")  # absolute: another site
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") > 0
    expect(first.locator("a.rw-reply")).to_have_attribute("href", f"{bot_url}/products/KN-104")
    expect(first.locator("a.rw-reply")).to_have_text("View product")

    first.locator("div.rw-reply", has_text="Pairs well with").click()
    expect(page.locator(".rw-client").last).to_contain_text("Pairs well with")
    expect(page.locator(".rw-response").last).to_contain_text('You asked: /product_pairing{"sku":"KN-104"}')
    assert bot.messages[-1].text == '/product_pairing{"sku":"KN-104"}'

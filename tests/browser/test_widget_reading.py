"""Reading and writing in the widget: knowledge answers as customers see them, long answers shown from
their top, long messages never cut, emails and phone numbers as links, and labelled feedback buttons.

Real chromium against the real server (fixtures in conftest.py); where a test needs an exact reply
(a very long one, hostile text), the page's socket is answered by a small fake bot instead.
Only Playwright's auto-waiting expectations are used, plus one bounded wait for scrolling to settle.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, WebSocketRoute, expect

pytestmark = pytest.mark.browser

LONG_ANSWER = "\n\n".join(
    f"Step {n}: this paragraph of the very long answer explains one more thing the customer should know."
    for n in range(1, 41)
)


# -- helpers ---------------------------------------------------------------------------------------------
def widget(page: Page) -> Locator:
    return page.locator("supportbot-chat")


def open_chat(page: Page, base: str) -> Locator:
    """Load the shop, open the widget and wait for the bot's first message."""
    page.goto(f"{base}/")
    page.get_by_role("button", name="Open chat").click()
    chat = widget(page)
    expect(chat.get_by_label("Message")).to_be_focused()
    expect(chat.locator(".msg.bot").first).to_be_visible()
    return chat


def ask(chat: Locator, text: str) -> None:
    box = chat.get_by_label("Message")
    box.fill(text)
    box.press("Enter")
    expect(chat.locator(".msg.user").last).to_contain_text(text[:40])


def fake_bot(page: Page, answers: dict[str, list[dict[str, Any]]]) -> None:
    """Answer the page's socket with canned replies: `answers[text]`, else a short echo."""
    ids = itertools.count(1)

    def handle(ws: WebSocketRoute) -> None:
        def on_message(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame["type"] == "history":
                ws.send(json.dumps({"type": "history", "sender": frame["sender"], "messages": []}))
            elif frame["type"] == "message":
                replies = answers.get(frame["text"], [{"text": f"You said: {frame['text']}"}])
                full = [{"id": f"r{next(ids)}", "buttons": [], "sources": [], **reply} for reply in replies]
                ws.send(json.dumps({"type": "replies", "replies": full, "in_reply_to": frame.get("id")}))

        ws.on_message(on_message)

    page.route_web_socket(re.compile(r"/ws/chat$"), handle)


def wait_for_scrolling_to_stop(page: Page) -> None:
    """The log scrolls smoothly: wait (bounded) until its position has not changed for 10 frames."""
    page.evaluate("delete window.__sbScroll")
    page.wait_for_function(
        """() => {
          const list = document.querySelector("supportbot-chat").shadowRoot.querySelector(".messages");
          const s = window.__sbScroll || (window.__sbScroll = { top: -1, same: 0 });
          if (list.scrollTop === s.top) s.same += 1;
          else Object.assign(s, { top: list.scrollTop, same: 0 });
          return s.same >= 10;
        }""",
        polling="raf",
        timeout=10_000,
    )


def placement(message: Locator) -> dict[str, float | bool]:
    """Where `message` is in the visible part of the message log."""
    result: dict[str, float | bool] = message.evaluate(
        """el => {
          const list = el.closest(".messages");
          const l = list.getBoundingClientRect();
          const m = el.getBoundingClientRect();
          return { listTop: l.top, listBottom: l.bottom, top: m.top, bottom: m.bottom,
                   atEnd: list.scrollTop + list.clientHeight >= list.scrollHeight - 2 };
        }"""
    )
    return result


def history_texts(base: str, page: Page) -> list[str]:
    """What the customer said, as the server keeps it (read with the conversation's token, as the widget does)."""
    sender, token = page.evaluate("['conversation', 'token'].map((k) => localStorage.getItem(`supportbot:${k}`))")
    response = httpx.get(f"{base}/conversations/{sender}/history", headers={"X-Conversation-Token": token}, timeout=10)
    response.raise_for_status()
    return [m["text"] for m in response.json()["messages"] if m["role"] == "user"]


# -- knowledge answers ------------------------------------------------------------------------------------
def test_a_knowledge_answer_links_other_pages_by_url_and_cites_its_title_only(page: Page, live_server: str) -> None:
    chat = open_chat(page, live_server)
    ask(chat, "Which payment methods do you accept?")
    answer = chat.locator(".msg.bot").last
    expect(answer).to_contain_text("gift cards")
    # `[gift cards](gift-cards-and-promotions.md)` in the knowledge file: the help-centre page, not a 404
    expect(answer.get_by_role("link", name="gift cards")).to_have_attribute(
        "href", "https://ateliernord.example/help/gift-cards"
    )
    expect(answer.locator('a[href*=".md"]')).to_have_count(0)
    # the source line: the file's title as a link, without the internal entry id
    expect(answer.locator(".bubble")).to_contain_text(re.compile(r"Source: Payments$"))
    expect(answer.get_by_role("link", name="Payments")).to_have_attribute(
        "href", "https://ateliernord.example/help/payments"
    )
    expect(answer).not_to_contain_text("payment-methods")


# -- long answers are read from their top -------------------------------------------------------------------
def test_an_answer_taller_than_the_log_is_shown_from_its_top(page: Page, live_server: str) -> None:
    fake_bot(page, {"/greet": [{"text": "Hello!"}], "Tell me everything": [{"text": LONG_ANSWER}]})
    chat = open_chat(page, live_server)
    for n in range(4):  # enough conversation for the log to scroll already
        ask(chat, f"Question {n}")
    ask(chat, "Tell me everything")
    answer = chat.locator(".msg.bot").last
    expect(answer).to_contain_text("Step 40")
    wait_for_scrolling_to_stop(page)
    where = placement(answer)
    assert where["listTop"] - 1 <= where["top"] <= where["listTop"] + 24, where  # its first line is in view
    assert where["bottom"] > where["listBottom"], where  # and the customer scrolls on to read the rest
    expect(answer.get_by_text("Step 1:", exact=False)).to_be_in_viewport()


def test_several_new_replies_are_shown_from_the_first_one(page: Page, live_server: str) -> None:
    replies = [{"text": "Here is everything about it:"}, {"text": LONG_ANSWER}]
    fake_bot(page, {"/greet": [{"text": "Hello!"}], "Tell me everything": replies})
    chat = open_chat(page, live_server)
    ask(chat, "Tell me everything")
    expect(chat.locator(".msg.bot").last).to_contain_text("Step 40")
    wait_for_scrolling_to_stop(page)
    where = placement(chat.locator(".msg.bot", has_text="Here is everything about it:"))
    assert where["listTop"] - 1 <= where["top"] <= where["listTop"] + 24, where


def test_a_short_answer_still_scrolls_to_the_end(page: Page, live_server: str) -> None:
    fake_bot(page, {"/greet": [{"text": "Hello!"}], "Tell me everything": [{"text": LONG_ANSWER}]})
    chat = open_chat(page, live_server)
    ask(chat, "Tell me everything")
    expect(chat.locator(".msg.bot").last).to_contain_text("Step 40")
    ask(chat, "Thanks")
    answer = chat.locator(".msg.bot").last
    expect(answer).to_have_text(re.compile("You said: Thanks$"))
    wait_for_scrolling_to_stop(page)
    where = placement(answer)
    assert where["atEnd"] and where["listTop"] <= where["top"] and where["bottom"] <= where["listBottom"], where


# -- long messages are never cut ------------------------------------------------------------------------------
def test_a_long_paste_is_kept_counted_and_not_sent_until_shortened(page: Page, live_server: str) -> None:
    chat = open_chat(page, live_server)
    box = chat.get_by_label("Message")
    limit = chat.locator(".limit")
    box.fill("x" * 1500)  # 75 % of the server's 2,000 characters: no counter yet
    expect(limit).to_be_hidden()
    box.fill("x" * 1600)
    expect(limit).to_have_text("1600 / 2000 characters")
    expect(box).to_have_accessible_description("1600 / 2000 characters")
    expect(box).not_to_have_attribute("aria-invalid", "true")

    pasted = ("My parcel arrived damaged and here is the whole story. " * 60)[:2999] + "!"
    box.fill("")
    box.focus()
    page.keyboard.insert_text(pasted)  # what a paste does
    assert box.input_value() == pasted  # nothing cut
    expect(limit).to_have_text("Your message is too long to send (3000 / 2000 characters). Please shorten it.")
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_have_accessible_error_message(re.compile("too long"))
    box.press("Enter")
    chat.get_by_role("button", name="Send").click()
    expect(chat.locator(".msg.user")).to_have_count(0)  # not sent, and still all there
    assert box.input_value() == pasted
    expect(box).to_be_focused()
    expect(chat.locator("[aria-live=polite]")).to_contain_text("too long")

    shortened = pasted[:1989] + "."  # the customer cuts it down
    box.fill(shortened)
    expect(limit).to_have_text("1990 / 2000 characters")
    expect(box).not_to_have_attribute("aria-invalid", "true")
    box.press("Enter")
    expect(chat.locator(".msg.user")).to_have_count(1)
    expect(chat.locator(".msg.bot")).to_have_count(2)
    expect(limit).to_be_hidden()
    assert history_texts(live_server, page) == [shortened]


def test_the_limit_follows_the_data_max_length_option(page: Page, live_server: str) -> None:
    chat = open_chat(page, live_server)
    expect(chat).to_have_attribute("data-max-length", "2000")  # the demo page passes the server's setting
    chat.evaluate("el => { el.dataset.maxLength = '100'; }")
    box = chat.get_by_label("Message")
    box.fill("é" * 79)
    expect(chat.locator(".limit")).to_be_hidden()
    box.fill("😀" * 80)  # characters, as the server counts them, not UTF-16 units
    expect(chat.locator(".limit")).to_have_text("80 / 100 characters")
    box.fill("x" * 101)
    expect(chat.locator(".limit")).to_contain_text("too long to send (101 / 100 characters)")


# -- emails and phone numbers ------------------------------------------------------------------------------------
def test_emails_and_phone_numbers_in_answers_are_safe_links(page: Page, live_server: str) -> None:
    text = (
        "Write to **help@ateliernord.example** or call +33 1 00 00 00 00 (Monday–Friday, 9:00-18:00), "
        "or the London shop on +44 (0)20 0000 0000.\n"
        "Order AN-10001 left on 2026-12-24 at 10:30; 30 days; €4.90; version 1.2.3; +5 points.\n"
        'Not addresses: <img src=x onerror=alert(1)>@evil.example, "><b>x</b>@a.example and a@b.\n'
        "Already a link: [mail us](mailto:orders@ateliernord.example), and `news@ateliernord.example` is code."
    )
    fake_bot(page, {"/greet": [{"text": "Hello!"}], "How can I reach you?": [{"text": text}]})
    chat = open_chat(page, live_server)
    ask(chat, "How can I reach you? I am anna@example.com, +49 30 0000 0000")
    mine = chat.locator(".msg.user").last
    expect(mine.locator("a")).to_have_count(0)  # what customers type stays plain text
    ask(chat, "How can I reach you?")
    bubble = chat.locator(".msg.bot").last.locator(".bubble")
    expect(bubble).to_contain_text("Already a link")

    mail = bubble.locator('a[href^="mailto:"]')
    expect(mail).to_have_text(["help@ateliernord.example", "mail us"])
    assert [mail.nth(i).get_attribute("href") for i in range(2)] == [
        "mailto:help@ateliernord.example",
        "mailto:orders@ateliernord.example",
    ]
    expect(bubble.locator("strong > a")).to_have_text("help@ateliernord.example")
    phone = bubble.locator('a[href^="tel:"]')
    expect(phone).to_have_text(["+33 1 00 00 00 00", "+44 (0)20 0000 0000"])
    assert [phone.nth(i).get_attribute("href") for i in range(2)] == ["tel:+33100000000", "tel:+442000000000"]
    expect(bubble.locator("a")).to_have_count(4)  # no order number, date, time, price or version became a link
    expect(bubble.locator("code")).to_have_text("news@ateliernord.example")
    expect(bubble).to_contain_text("<img src=x onerror=alert(1)>@evil.example")
    expect(chat.locator("img, b")).to_have_count(0)


# -- feedback buttons --------------------------------------------------------------------------------------------
def test_feedback_buttons_are_labelled_with_visible_text_and_big_enough(page: Page, live_server: str) -> None:
    chat = open_chat(page, live_server)
    ask(chat, "How do returns work?")
    expect(chat.locator(".msg.bot").last).to_contain_text("30 days")
    # pinned by position: after "Not helpful" the bot may add a message, which `.last` would then point to
    answer = chat.locator(".msg.bot").nth(chat.locator(".msg.bot").count() - 1)
    expect(answer).to_contain_text("30 days")
    for name in ("Helpful", "Not helpful"):
        button = answer.get_by_role("button", name=name, exact=True)
        expect(button).to_be_visible()
        expect(button).to_have_text(name)  # visible words, not only an icon with a tooltip
        box = button.bounding_box()
        assert box is not None and box["width"] >= 32 and box["height"] >= 32, (name, box)
    expect(answer.get_by_role("group", name="Was this answer helpful?")).to_be_visible()
    answer.get_by_role("button", name="Not helpful", exact=True).click()
    expect(answer.get_by_role("button", name="Not helpful", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(answer.get_by_role("button", name="Helpful", exact=True)).to_have_attribute("aria-pressed", "false")


@pytest.mark.viewport(360, 740)
def test_feedback_wording_comes_from_the_strings_table(page: Page, live_server: str) -> None:
    source = {"id": "s", "title": "Returns", "file": "knowledge/returns.md", "url": "https://ateliernord.example/r"}
    fake_bot(page, {"/greet": [{"text": "Hallo!"}], "Rückgabe?": [{"text": "30 Tage.", "sources": [source]}]})
    page.goto(f"{live_server}/")
    chat = widget(page)
    chat.evaluate(
        """el => Object.assign(el.dataset, {
          helpfulLabel: "Hilfreich", notHelpfulLabel: "Nicht hilfreich", feedbackLabel: "War das hilfreich?" })"""
    )
    page.get_by_role("button", name="Open chat").click()
    ask(chat, "Rückgabe?")
    answer = chat.locator(".msg.bot").last
    group = answer.get_by_role("group", name="War das hilfreich?")
    expect(group.get_by_role("button")).to_have_text(["Hilfreich", "Nicht hilfreich"])
    for name in ("Hilfreich", "Nicht hilfreich"):
        box = group.get_by_role("button", name=name, exact=True).bounding_box()
        assert box is not None and box["width"] >= 32 and box["height"] >= 32, (name, box)
        assert box["x"] + box["width"] <= 360

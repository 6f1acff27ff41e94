"""Issue 12: a follow-up answered by the entry just given gets the passage that answers it, not the
whole answer again ("how long will you hold it for me?" after the click & collect answer: "We keep your
order for 10 days."). A first answer, or an answer from another entry, stays whole."""

from __future__ import annotations

from pathlib import Path

from bot.encoding import FakeEncoder
from bot.faq.passage import best_passage, sentences
from bot.faq.service import KnowledgeService
from bot.faq.thresholds import Thresholds
from bot.types import KnowledgeQuery

from .conftest import ServiceFactory, write

COLLECT = """\
---
title: Shops
---
## How does click & collect work? {#click-and-collect}
Also asked:
- pick up my online order in a shop
- collect my order at the shop

Choose **click & collect** at checkout and pick a shop. It's **free**, whatever you spend.

Bring your **order number** and **photo ID**.
We keep your order for **{{ hold_days }} days** in the shop. After that, it's returned and refunded.

## Can I pay with PayPal? {#paypal}

Yes, PayPal works for every order.
"""


def service(tmp_path: Path, make_service: ServiceFactory) -> KnowledgeService:
    """Every question is answered (thresholds 0): the tests are about what the answer shows."""
    folder = tmp_path / "knowledge"
    write(folder / "shops.md", COLLECT)
    write(folder / "variables.yml", 'hold_days: "10"\n')
    built = make_service(folder, FakeEncoder(), thresholds=Thresholds(answer=0.0, suggest=0.0))
    built.reload()
    return built


def test_sentences_split_lines_and_sentences() -> None:
    text = "One two three four. Five six seven eight!\n\n- **item** one two three\n_Source: x_"
    assert sentences(text) == ["One two three four.", "Five six seven eight!", "- **item** one two three"]


def test_the_closest_sentence_is_the_passage() -> None:
    encoder = FakeEncoder()
    answer = "It's free, whatever you spend. We keep your order for 10 days in the shop. Bring photo ID with you."
    query = encoder.encode(["how many days do you keep my order in the shop"])[0]
    assert best_passage(answer, query, encoder) == "We keep your order for 10 days in the shop."
    assert best_passage("Only one sentence here, nothing to choose.", query, encoder) is None


def test_the_entry_just_given_answers_with_its_passage(tmp_path: Path, make_service: ServiceFactory) -> None:
    knowledge = service(tmp_path, make_service)
    question = "how many days do you keep my order in the shop"
    again = knowledge.answer(KnowledgeQuery(question, previous="click-and-collect"))
    assert again.top is not None and again.top.entry.id == "click-and-collect"
    (reply,) = again.replies
    assert "We keep your order for **10 days** in the shop." in reply.text
    assert "checkout" not in reply.text and reply.buttons == ()
    assert reply.sources[0].id == "click-and-collect"
    first = knowledge.answer(KnowledgeQuery(question))
    assert "checkout" in first.replies[0].text  # the first time, the whole answer


def test_a_list_item_passage_keeps_its_bold_whole() -> None:
    """Only the list marker goes: stripping "- **" left "Jackets**: take the **larger size**." (bold unbalanced)."""
    answer = (
        "It depends:\n\n- **Tailoring and jackets**: take the **larger size**.\n- **Knitwear**: take the smaller one."
    )
    encoder = FakeEncoder()
    query = encoder.encode(["Tailoring and jackets: take the larger size."])[0]
    passage = best_passage(answer, query, encoder)
    assert passage == "**Tailoring and jackets**: take the **larger size**."
    assert passage is not None and passage.count("**") % 2 == 0

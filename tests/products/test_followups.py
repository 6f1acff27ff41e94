"""Misspelt catalogue words, exact words in ranking, pairing anchors, two of one kind, where else in stock."""

from __future__ import annotations

from bot.encoding.fake import FakeEncoder
from bot.products.advisor import ProductAdvisor, ProductRequest, ShoppingContext
from bot.products.lexical import LexicalIndex
from bot.products.spelling import CatalogueSpelling, collapse
from tests.products.conftest import PRODUCTS
from tests.products.test_advisor import ask, said


def test_a_doubled_or_missing_letter_is_the_catalogue_word() -> None:
    spelling = CatalogueSpelling({"category": ["dress", "coat"], "material": ["linen", "wool"]}, known=["warm"])
    assert collapse("linnen") == collapse("linen") == "linen"
    assert spelling.entities("trousers in linnen") == [("material", "linen", 12)]
    assert spelling.entities("dres for a party") == [("category", "dress", 0)]
    assert spelling.entities("wol coat") == [("material", "wool", 0)]
    assert spelling.entities("how much does it cost") == []  # one letter changed is another word
    assert spelling.entities("a warm linen dress") == []  # spelt right


def test_a_misspelt_material_still_filters(advisor: ProductAdvisor, encoder: FakeEncoder) -> None:
    outcome = ask(advisor, encoder, "product_search", "coats in wol", category=["coat"])
    skus = said(outcome)[0][1]
    assert skus and all("wool" in advisor.index.product(s).materials for s in skus)  # type: ignore[union-attr]
    assert outcome.context.query is not None and outcome.context.query.materials == {"wool"}


def test_exact_rare_words_rank_first() -> None:
    lexical = LexicalIndex(PRODUCTS)
    scores = lexical.scores("a recycled coat please")
    best = max(range(len(PRODUCTS)), key=lambda i: float(scores[i]))
    assert PRODUCTS[best].sku == "WC-02"
    assert float(lexical.scores("something nice").max()) == 0.0  # no catalogue word: no score


def test_the_piece_to_match_follows_the_joining_word_that_names_it(
    advisor: ProductAdvisor, encoder: FakeEncoder
) -> None:
    text = "what else do I need with the down parka for a cold trip"
    request = ProductRequest(
        "product_pairing",
        text,
        {"category": ["parka"], "material": ["down"]},
        encoder.encode([text])[0],
        spans=(("material", "down", 29), ("category", "parka", 34)),
    )
    outcome = advisor.answer(request)
    assert outcome.answers[0].response != "utter_product_pairing_which" and outcome.context.focus == "PK-03"
    text = "I bought the black jeans, what should I wear with it?"
    request = ProductRequest(
        "product_pairing",
        text,
        {"category": ["jeans"], "colour": ["black"]},
        encoder.encode([text])[0],
        spans=(("colour", "black", 13), ("category", "jeans", 19)),
    )
    outcome = advisor.answer(request)
    assert outcome.answers[0].response == "utter_product_pairing" and outcome.context.focus == "BJ-09"


def test_two_of_one_kind_are_two_different_products(advisor: ProductAdvisor, encoder: FakeEncoder) -> None:
    outcome = ask(
        advisor, encoder, "product_compare", "the recycled coat vs the wool coat", category=["coat"], material=["wool"]
    )
    assert said(outcome) == [("utter_product_compare", ["WC-02", "WC-01"])]


def test_where_else_after_a_stock_answer_is_about_the_same_product(
    advisor: ProductAdvisor, encoder: FakeEncoder
) -> None:
    first = ask(
        advisor,
        encoder,
        "product_availability",
        "is the down parka in M in london?",
        category=["parka"],
        size=["M"],
        shop=["london"],
    )
    assert said(first) == [("utter_product_not_in_stock", ["PK-03"])] and first.context.stock_asked
    again = ask(advisor, encoder, "product_refine", "so where can I get one in M?", first.context, size=["M"])
    assert said(again) == [("utter_product_stock", ["PK-03"])]
    assert again.answers[0].values["places"] == ["paris", "berlin", "online"]
    searched = ask(advisor, encoder, "product_search", "coats", category=["coat"])
    assert not searched.context.stock_asked
    refined = ask(advisor, encoder, "product_refine", "in M?", ShoppingContext.from_json(searched.context.to_json()))
    assert said(refined)[0][0] != "utter_product_stock"  # after a search, "in M?" narrows the search

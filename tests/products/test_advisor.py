from __future__ import annotations

from typing import Any

from bot.encoding.fake import FakeEncoder
from bot.products.advisor import ProductAdvisor, ProductOutcome, ProductRequest, ShoppingContext


def ask(
    advisor: ProductAdvisor,
    encoder: FakeEncoder,
    intent: str,
    text: str,
    context: ShoppingContext | None = None,
    **entities: list[Any],
) -> ProductOutcome:
    request = ProductRequest(intent, text, entities, encoder.encode([text])[0], context or ShoppingContext())
    return advisor.answer(request)


def said(outcome: ProductOutcome) -> list[tuple[str, list[str]]]:
    return [(a.response, [p.sku for p in a.products]) for a in outcome.answers]


def test_search_shows_results_and_remembers_them(advisor: ProductAdvisor, encoder: FakeEncoder) -> None:
    outcome = ask(advisor, encoder, "product_search", "warm coat under 200", category=["coat"], price_max=[200])
    assert said(outcome) == [("utter_product_results", ["WC-02"])]
    assert outcome.answers[0].values["price_max"] == "200" and outcome.answers[0].values["total"] == 1
    assert outcome.context.shown == ("WC-02",) and outcome.context.query is not None
    assert ShoppingContext.from_json(outcome.context.to_json()).shown == ("WC-02",)


def test_relaxed_search_says_which_constraint_it_dropped(advisor: ProductAdvisor, encoder: FakeEncoder) -> None:
    outcome = ask(
        advisor, encoder, "product_search", "wool coat under 100", category=["coat"], material=["wool"], price_max=[100]
    )
    answer = outcome.answers[0]
    assert answer.response == "utter_product_relaxed" and answer.values["dropped"] == "price"
    assert answer.values["closest"]["sku"] == "WC-02"


def test_bad_prices_get_a_notice_then_results(advisor: ProductAdvisor, encoder: FakeEncoder) -> None:
    outcome = ask(advisor, encoder, "product_search", "coats under -5", category=["coats"], price_max=[-5])
    assert [r for r, _ in said(outcome)] == ["utter_product_price_problem", "utter_product_results"]
    assert outcome.answers[0].values["problem"] == "negative"
    reversed_ = ask(
        advisor,
        encoder,
        "product_search",
        "coats between 300 and 100",
        category=["coats"],
        price_min=[300],
        price_max=[100],
    )
    assert reversed_.answers[0].values["problem"] == "reversed"
    assert set(said(reversed_)[1][1]) == {"WC-02", "TC-04", "PK-03"}


def test_nothing_at_all(advisor: ProductAdvisor, encoder: FakeEncoder) -> None:
    assert said(ask(advisor, encoder, "product_search", "spaceships", category=["spaceship"])) == [
        ("utter_product_none", [])
    ]


def test_refinements_work_on_the_previous_search(advisor: ProductAdvisor, encoder: FakeEncoder) -> None:
    first = ask(advisor, encoder, "product_search", "coats", category=["coats"])
    assert len(first.context.shown) == 4
    dear = ShoppingContext(first.context.query, first.context.embedding, ("WC-01",))
    cheaper = ask(advisor, encoder, "product_refine", "cheaper ones", dear, refinement=["cheaper"])
    assert said(cheaper)[0][0] == "utter_product_results"
    assert set(said(cheaper)[0][1]) == {"WC-02", "PK-03", "TC-04"}  # coats still, under the €349 shown
    assert cheaper.answers[0].values["price_max"] == "349"  # "under €349", the price shown, not €348.99
    again = ShoppingContext.from_json(cheaper.context.to_json())
    assert again.query is not None and again.query.price_strict and again.query.price_max == 349
    dearer = ask(
        advisor,
        encoder,
        "product_refine",
        "more expensive",
        ShoppingContext(first.context.query, (), ("WC-02",)),
        refinement=["more_expensive"],
    )
    assert set(said(dearer)[0][1]) == {"WC-01", "PK-03", "TC-04"}
    blue = ask(advisor, encoder, "product_refine", "in blue?", first.context, colour=["blue"])
    assert said(blue) == [("utter_product_results", ["WC-01"])]  # navy is a blue; still coats
    second = ask(advisor, encoder, "product_refine", "the second one", first.context, ordinal=[2])
    assert said(second) == [("utter_product_detail", [first.context.shown[1]])]
    assert second.context.focus == first.context.shown[1]
    last = ask(advisor, encoder, "product_refine", "the last one", first.context, ordinal=[-1])
    assert said(last)[0][1] == [first.context.shown[-1]]


def test_show_me_more_pages_then_says_that_was_all(advisor: ProductAdvisor, encoder: FakeEncoder) -> None:
    first = ask(advisor, encoder, "product_search", "show me everything")
    assert len(first.context.shown) == 5
    more = ask(advisor, encoder, "product_refine", "show me more", first.context, refinement=["more"])
    assert said(more)[0][0] == "utter_product_more" and not set(said(more)[0][1]) & set(first.context.shown)
    rest = ask(advisor, encoder, "product_refine", "more", more.context, refinement=["more"])
    end = ask(advisor, encoder, "product_refine", "more", rest.context, refinement=["more"])
    assert said(end) == [("utter_product_no_more", [])]


def test_refine_without_a_search(advisor: ProductAdvisor, encoder: FakeEncoder) -> None:
    assert said(ask(advisor, encoder, "product_refine", "cheaper ones", refinement=["cheaper"])) == [
        ("utter_product_no_context", [])
    ]
    assert said(ask(advisor, encoder, "product_refine", "in blue?", colour=["blue"]))[0][0] == "utter_product_results"


def test_similar_from_a_card_button(advisor: ProductAdvisor, encoder: FakeEncoder) -> None:
    outcome = ask(
        advisor, encoder, "product_refine", '/product_refine{"sku":"KN-05"}', sku=["KN-05"], refinement=["similar"]
    )
    assert said(outcome) == [("utter_product_similar", ["KN-06"])]


def test_availability_by_name_size_and_shop(advisor: ProductAdvisor, encoder: FakeEncoder) -> None:
    yes = ask(
        advisor,
        encoder,
        "product_availability",
        "do you have the wool coat in M in Berlin?",
        category=["coat"],
        material=["wool"],
        size=["M"],
        shop=["berlin"],
    )
    assert said(yes)[0][0] == "utter_product_in_stock" and said(yes)[0][1][0] in ("WC-01", "WC-02")
    no = ask(
        advisor,
        encoder,
        "product_availability",
        "white sneakers in 40 in berlin",
        sku=["SN-10"],
        size=["40"],
        shop=["berlin"],
    )
    assert said(no) == [("utter_product_not_in_stock", ["SN-10"])]
    assert no.answers[0].values["places"] == ["online"]
    unknown = ask(advisor, encoder, "product_availability", "sneakers in XXL", sku=["SN-10"], size=["XXL"])
    assert said(unknown)[0][0] == "utter_product_size_unknown"
    sold_out = ask(advisor, encoder, "product_availability", "is the leather belt in stock", sku=["BT-12"])
    assert said(sold_out)[0][0] == "utter_product_sold_out"


def test_availability_of_the_product_in_focus(advisor: ProductAdvisor, encoder: FakeEncoder) -> None:
    context = ShoppingContext(focus="PK-03")
    outcome = ask(advisor, encoder, "product_availability", "is it in stock in paris?", context, shop=["paris"])
    assert said(outcome) == [("utter_product_in_stock", ["PK-03"])]


def test_pairing_ranks_other_categories_by_data(advisor: ProductAdvisor, encoder: FakeEncoder) -> None:
    outcome = ask(
        advisor, encoder, "product_pairing", "what goes with black jeans?", category=["jeans"], colour=["black"]
    )
    response, skus = said(outcome)[0]
    assert response == "utter_product_pairing"
    assert skus[0] == "SN-10"  # bought together 4 times and paired by kind
    assert "BT-12" not in skus  # sold out
    assert all(advisor.index.product(s).category != "trousers" for s in skus)  # type: ignore[union-attr]
    assert said(ask(advisor, encoder, "product_pairing", "what goes with it?")) == [("utter_product_pairing_which", [])]


def test_compare_two_named_products(advisor: ProductAdvisor, encoder: FakeEncoder) -> None:
    outcome = ask(
        advisor,
        encoder,
        "product_compare",
        "what's the difference between the merino and the cashmere sweater?",
        category=["sweater"],
        material=["merino", "cashmere"],
    )
    assert said(outcome) == [("utter_product_compare", ["KN-05", "KN-06"])]
    assert outcome.answers[0].values["first"]["materials"] == ["merino"]
    assert said(ask(advisor, encoder, "product_compare", "compare them"))[0][0] == "utter_product_compare_which"


def test_cheaper_after_the_cheapest_never_shows_it_again(advisor: ProductAdvisor, encoder: FakeEncoder) -> None:
    """Nothing cheaper in that kind: a constraint is dropped, but the product just shown is not offered again."""
    first = ask(advisor, encoder, "product_search", "coats", category=["coats"])
    cheapest = min(first.context.shown, key=lambda sku: advisor.index.product(sku).price)  # type: ignore[union-attr]
    context = ShoppingContext(first.context.query, first.context.embedding, (cheapest,))
    cheaper = ask(advisor, encoder, "product_refine", "cheaper ones", context, refinement=["cheaper"])
    shown = [sku for _, skus in said(cheaper) for sku in skus]
    assert cheapest not in shown


def test_cheaper_when_nothing_else_exists_says_it_is_already_the_cheapest(
    advisor: ProductAdvisor, encoder: FakeEncoder
) -> None:
    everything = ask(advisor, encoder, "product_search", "anything", price_max=[100000])
    all_skus = tuple(p.sku for p in advisor.index.products)
    context = ShoppingContext(everything.context.query, everything.context.embedding, all_skus)
    cheaper = ask(advisor, encoder, "product_refine", "cheaper ones", context, refinement=["cheaper"])
    cheapest = min(advisor.index.products, key=lambda p: p.price)
    assert said(cheaper) == [("utter_product_price_end", [cheapest.sku])]
    assert cheaper.answers[0].values["direction"] == "cheaper"

from __future__ import annotations

from bot.products.query import ProductQuery


def test_entities_become_constraints() -> None:
    q = ProductQuery.from_entities(
        "navy wool coat in M under 200 in berlin",
        {
            "category": ["Coat"],
            "colour": ["navy"],
            "material": ["wool"],
            "size": ["m"],
            "price_max": [200.0],
            "shop": ["berlin"],
        },
    )
    assert q.kinds == {"coat"} and q.colours == {"navy"} and q.materials == {"wool"}
    assert q.sizes == {"M"} and q.price_max == 200.0 and q.shop == "berlin"
    assert q.named() == ("colours", "materials", "price", "sizes", "shop", "kinds")


def test_amount_entities_and_unknown_shops() -> None:
    q = ProductQuery.from_entities(
        "x", {"price_min": [{"amount": 50.0, "currency": "EUR"}], "shop": ["customer_service"]}
    )
    assert q.price_min == 50.0 and q.shop is None


def test_price_problems_are_named_and_made_usable() -> None:
    negative = ProductQuery(price_max=-5)
    assert negative.price_problem == "negative"
    assert negative.sane_prices().price_max is None
    reversed_ = ProductQuery(price_min=300, price_max=100)
    assert reversed_.price_problem == "reversed"
    sane = reversed_.sane_prices()
    assert (sane.price_min, sane.price_max) == (100, 300)
    assert ProductQuery(price_min=100, price_max=300).price_problem is None


def test_merge_replaces_only_what_the_refinement_names() -> None:
    first = ProductQuery(text="warm coat", kinds=frozenset({"coat"}), colours=frozenset({"black"}), price_max=300)
    merged = first.merge(ProductQuery(colours=frozenset({"blue"})))
    assert merged.kinds == {"coat"} and merged.colours == {"blue"} and merged.price_max == 300
    assert merged.text == "warm coat"


def test_json_round_trip() -> None:
    q = ProductQuery(text="t", kinds=frozenset({"coat"}), sizes=frozenset({"M"}), price_min=10, shop="paris")
    assert ProductQuery.from_json(q.to_json()) == q


def test_without_drops_one_constraint() -> None:
    q = ProductQuery(kinds=frozenset({"coat"}), colours=frozenset({"red"}), price_max=50, shop="paris")
    assert q.without("colours").colours == frozenset() and q.without("colours").kinds == {"coat"}
    assert q.without("price").price_max is None
    assert q.without("shop").shop is None

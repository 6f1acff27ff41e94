from __future__ import annotations

import numpy as np

from bot.encoding.fake import FakeEncoder
from bot.products import InMemoryCatalogue
from bot.products.index import ProductIndex
from bot.products.query import ProductQuery
from bot.products.ranking import ShopperPreferences, rank, scores, similar


def _rank(index: ProductIndex, encoder: FakeEncoder, text: str, **entities: list[object]) -> list[str]:
    query = ProductQuery.from_entities(text, entities)
    return [p.sku for p in rank(index, query, encoder.encode([text])[0]).products]


def test_hard_filters_hold_for_every_result(index: ProductIndex, encoder: FakeEncoder) -> None:
    text = "warm coat under 200"
    ranking = rank(
        index, ProductQuery.from_entities(text, {"category": ["coat"], "price_max": [200]}), encoder.encode([text])[0]
    )
    assert [p.sku for p in ranking.products] == ["WC-02"]
    assert ranking.relaxed == ()


def test_a_colour_family_matches_its_shades(index: ProductIndex, encoder: FakeEncoder) -> None:
    found = _rank(index, encoder, "something blue", colour=["blue"])
    assert set(found) == {"WC-01", "KN-05", "LS-08"}  # navy and light blue are blues
    assert _rank(index, encoder, "navy", colour=["navy"]) != [] and "LS-08" not in _rank(
        index, encoder, "navy", colour=["navy"]
    )


def test_kind_matches_the_kind_its_last_word_or_the_category(index: ProductIndex, encoder: FakeEncoder) -> None:
    assert set(_rank(index, encoder, "coats", category=["coats"])) == {"WC-01", "WC-02", "PK-03", "TC-04"}
    assert set(_rank(index, encoder, "a coat", category=["coat"])) == {"WC-01", "WC-02", "TC-04"}  # not the parka
    assert _rank(index, encoder, "parka", category=["parka"]) == ["PK-03"]
    assert set(_rank(index, encoder, "knitwear", category=["knitwear"])) == {"KN-05", "KN-06"}


def test_size_and_shop_mean_in_stock_there(index: ProductIndex, encoder: FakeEncoder) -> None:
    assert _rank(index, encoder, "sneakers 42 paris", category=["sneakers"], size=["42"], shop=["paris"]) == ["SN-10"]
    ranking = rank(index, ProductQuery(kinds=frozenset({"sneakers"}), sizes=frozenset({"40"}), shop="berlin"), None)
    assert ranking.relaxed == ("shop",)  # size 40 exists online only
    assert [p.sku for p in ranking.products] == ["SN-10"]


def test_nothing_matches_relaxes_one_constraint_closest_price_first(index: ProductIndex) -> None:
    ranking = rank(index, ProductQuery(kinds=frozenset({"coat"}), materials=frozenset({"wool"}), price_max=100), None)
    assert ranking.relaxed == ("price",)
    assert [p.sku for p in ranking.products] == ["WC-02", "WC-01"]  # €189 is closer to €100 than €349


def test_unknown_values_relax_instead_of_failing(index: ProductIndex) -> None:
    ranking = rank(index, ProductQuery(kinds=frozenset({"coat"}), colours=frozenset({"fuchsia"})), None)
    assert ranking.relaxed == ("colours",) and ranking.products
    assert rank(index, ProductQuery(kinds=frozenset({"spaceship"})), None).products == ()


def test_reversed_price_bounds_are_swapped(index: ProductIndex) -> None:
    ranking = rank(index, ProductQuery(kinds=frozenset({"coats"}), price_min=300, price_max=100), None)
    assert {p.sku for p in ranking.products} == {"WC-02", "TC-04", "PK-03"}


def test_sold_out_products_come_after_available_ones(index: ProductIndex) -> None:
    ranking = rank(index, ProductQuery(kinds=frozenset({"accessories"})), None)
    assert [p.sku for p in ranking.products][-1] == "BT-12"


def test_paging_and_exclusions(index: ProductIndex) -> None:
    everything = rank(index, ProductQuery(), None, limit=100)
    assert everything.total == 12
    page2 = rank(index, ProductQuery(), None, offset=5, limit=5)
    assert [p.sku for p in page2.products] == [p.sku for p in everything.products[5:10]]
    assert "WC-01" not in [p.sku for p in rank(index, ProductQuery(), None, exclude=["wc-01"], limit=100).products]


def test_known_preferences_lift_products_in_the_shoppers_size(
    encoder: FakeEncoder, catalogue: InMemoryCatalogue
) -> None:
    index = ProductIndex(catalogue, encoder)
    before = scores(index, ProductQuery(), None)
    after = scores(index, ProductQuery(), None, ShopperPreferences({"bottoms": "32", "tops": "XL"}, "paris"))
    lifted = {index.products[i].sku for i in np.flatnonzero(after > before)}
    assert lifted == {"BJ-09"}  # jeans in 32 in Paris; no top comes in XL


def test_similar_keeps_the_kind_and_excludes_itself(index: ProductIndex) -> None:
    product = index.product("KN-05")
    assert product is not None
    assert [p.sku for p in similar(index, product).products] == ["KN-06"]


def test_refresh_rebuilds_only_on_change(catalogue: InMemoryCatalogue, encoder: FakeEncoder) -> None:
    index = ProductIndex(catalogue, encoder)
    calls = len(encoder.calls)
    assert index.refresh() is False and len(encoder.calls) == calls
    catalogue.replace_catalogue(list(catalogue.products())[:3])
    assert index.refresh() is True and len(index) == 3


def test_semantic_score_uses_the_message_embedding(index: ProductIndex) -> None:
    position = index.position("PK-03")
    assert position is not None
    ranking = rank(index, ProductQuery(), np.asarray(index.vectors[position]))
    assert ranking.products[0].sku == "PK-03"

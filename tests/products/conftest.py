"""A small catalogue for the product tests (fake encoder: no model)."""

from __future__ import annotations

import pytest

from bot.encoding.fake import FakeEncoder
from bot.products import InMemoryCatalogue, Pairing, Product
from bot.products.advisor import ProductAdvisor
from bot.products.index import ProductIndex
from bot.products.pairing import PairingTable


def product(sku: str, name: str, category: str, kind: str, price: int, **kw: object) -> Product:
    sizes = kw.pop("sizes", ("S", "M", "L"))
    stock = kw.pop(
        "stock", {"paris": {s: 2 for s in sizes}, "berlin": {s: 1 for s in sizes}, "online": {s: 5 for s in sizes}}
    )  # type: ignore[union-attr]
    return Product(
        sku=sku,
        name=name,
        category=category,
        kind=kind,
        description=str(kw.pop("description", f"A {name.lower()}.")),
        price_cents=price * 100,
        sizes=tuple(sizes),  # type: ignore[arg-type]
        stock=stock,  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


PRODUCTS = [
    product(
        "WC-01",
        "Wool coat",
        "coats",
        "coat",
        349,
        colours=("camel", "navy"),
        materials=("wool",),
        tags=("warm", "winter"),
    ),
    product(
        "WC-02",
        "Recycled wool coat",
        "coats",
        "coat",
        189,
        colours=("black",),
        materials=("wool",),
        tags=("warm", "winter"),
    ),
    product(
        "PK-03",
        "Down parka",
        "coats",
        "parka",
        299,
        colours=("olive",),
        materials=("down",),
        tags=("warm", "waterproof"),
    ),
    product(
        "TC-04", "Trench coat", "coats", "trench coat", 249, colours=("beige",), materials=("cotton",), tags=("spring",)
    ),
    product(
        "KN-05",
        "Merino sweater",
        "knitwear",
        "sweater",
        89,
        colours=("navy", "grey"),
        materials=("merino",),
        tags=("warm",),
    ),
    product(
        "KN-06",
        "Cashmere sweater",
        "knitwear",
        "sweater",
        189,
        colours=("ivory",),
        materials=("cashmere",),
        tags=("warm", "soft"),
    ),
    product("LS-07", "Linen shirt", "shirts", "shirt", 79, colours=("white",), materials=("linen",), tags=("summer",)),
    product(
        "LS-08",
        "Blue linen shirt",
        "shirts",
        "shirt",
        79,
        colours=("light blue",),
        materials=("linen",),
        tags=("summer",),
    ),
    product(
        "BJ-09", "Black jeans", "trousers", "jeans", 99, colours=("black",), materials=("denim",), sizes=("30", "32")
    ),
    product(
        "SN-10",
        "White sneakers",
        "shoes",
        "sneakers",
        119,
        colours=("white",),
        materials=("leather",),
        sizes=("40", "42"),
        stock={"paris": {"40": 0, "42": 1}, "berlin": {"40": 0, "42": 0}, "online": {"40": 3, "42": 0}},
    ),
    product(
        "SS-11",
        "Silk scarf",
        "accessories",
        "scarf",
        69,
        colours=("burgundy",),
        materials=("silk",),
        sizes=("one size",),
    ),
    product(
        "BT-12",
        "Leather belt",
        "accessories",
        "belt",
        59,
        colours=("black",),
        materials=("leather",),
        sizes=("one size",),
        stock={},
    ),
]
PAIRINGS = [Pairing("jeans", "sneakers", 3), Pairing("coat", "scarf", 2), Pairing("BJ-09", "KN-05", 2)]
CO_PURCHASES = {("BJ-09", "SN-10"): 4, ("BJ-09", "BT-12"): 2, ("KN-05", "WC-01"): 3}
FAMILIES = {
    "navy": "blue",
    "light blue": "blue",
    "camel": "brown",
    "ivory": "white",
    "burgundy": "red",
    "olive": "green",
}


@pytest.fixture
def catalogue() -> InMemoryCatalogue:
    return InMemoryCatalogue(PRODUCTS, PAIRINGS, CO_PURCHASES, FAMILIES)


@pytest.fixture
def encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture
def index(catalogue: InMemoryCatalogue, encoder: FakeEncoder) -> ProductIndex:
    return ProductIndex(catalogue, encoder, catalogue.colour_families())


@pytest.fixture
def advisor(index: ProductIndex, catalogue: InMemoryCatalogue) -> ProductAdvisor:
    return ProductAdvisor(index, PairingTable(catalogue.pairings(), catalogue.co_purchases()))

"""A shopping request as constraints: what the customer named (kind, colour, size, material, price, shop).

`ProductQuery.from_entities` reads the message's entities (`category`, `colour`, `size`, `material`,
`price_min`, `price_max`, `shop`, `sku`); `merge` applies a refinement ("in blue?", "cheaper ones") to the
previous request. A query never raises for odd values: `price_problem` says what is wrong with a price
("under -5", "between 300 and 100") so the dialogue can say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bot.products.catalogue import LOCATIONS

CONSTRAINTS = ("colours", "materials", "price", "sizes", "shop", "kinds")
"""The constraints a query may hold, in the order they are relaxed when nothing matches."""


def _texts(values: Iterable[Any]) -> frozenset[str]:
    return frozenset(str(v).strip().lower() for v in values if str(v).strip())


def _number(value: Any) -> float | None:
    if isinstance(value, Mapping):  # the amount extractor's {"amount": 120.0, "currency": "EUR"}
        value = value.get("amount")
    try:
        return float(str(value).replace(",", ".").replace("€", "").strip())
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class ProductQuery:
    text: str = ""
    kinds: frozenset[str] = frozenset()
    """product kinds or category names ("coat", "sneakers", "knitwear")"""
    colours: frozenset[str] = frozenset()
    sizes: frozenset[str] = frozenset()
    materials: frozenset[str] = frozenset()
    price_min: float | None = None
    price_max: float | None = None
    price_strict: bool = False
    """the bounds exclude their own value: "cheaper ones" is under the cheapest price shown, not at it"""
    shop: str | None = None
    """a location of `LOCATIONS`: the size (or anything) must be in stock there"""
    skus: tuple[str, ...] = ()
    """products the message names explicitly (a card's button, a SKU typed)"""
    extras: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_entities(cls, text: str, entities: Mapping[str, Iterable[Any]]) -> ProductQuery:
        """`entities`: entity name -> the values the message gave."""
        prices_min = [n for n in (_number(v) for v in entities.get("price_min", ())) if n is not None]
        prices_max = [n for n in (_number(v) for v in entities.get("price_max", ())) if n is not None]
        shops = [s for s in _texts(entities.get("shop", ())) if s in LOCATIONS]
        return cls(
            text=text,
            kinds=_texts(entities.get("category", ())),
            colours=_texts(entities.get("colour", ())),
            sizes=frozenset(str(v).strip().upper() for v in entities.get("size", ()) if str(v).strip()),
            materials=_texts(entities.get("material", ())),
            price_min=max(prices_min) if prices_min else None,
            price_max=min(prices_max) if prices_max else None,
            shop=shops[0] if shops else None,
            skus=tuple(str(v).strip().upper() for v in entities.get("sku", ()) if str(v).strip()),
        )

    @property
    def price_problem(self) -> str | None:
        """ "negative" (a bound below zero) or "reversed" (minimum above maximum), else None."""
        if (self.price_min is not None and self.price_min < 0) or (self.price_max is not None and self.price_max < 0):
            return "negative"
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            return "reversed"
        return None

    def sane_prices(self) -> ProductQuery:
        """The query with its price bounds made usable: reversed bounds swapped, negative ones dropped."""
        problem = self.price_problem
        if problem == "reversed":
            return replace(self, price_min=self.price_max, price_max=self.price_min)
        if problem == "negative":
            low = self.price_min if self.price_min is not None and self.price_min >= 0 else None
            high = self.price_max if self.price_max is not None and self.price_max >= 0 else None
            return replace(self, price_min=low, price_max=high)
        return self

    def named(self) -> tuple[str, ...]:
        """The constraints this query holds, in relaxing order."""
        present = {
            "colours": bool(self.colours),
            "materials": bool(self.materials),
            "price": self.price_min is not None or self.price_max is not None,
            "sizes": bool(self.sizes),
            "shop": self.shop is not None,
            "kinds": bool(self.kinds),
        }
        return tuple(name for name in CONSTRAINTS if present[name])

    def without(self, constraint: str) -> ProductQuery:
        """The query with one constraint dropped."""
        if constraint == "price":
            return replace(self, price_min=None, price_max=None, price_strict=False)
        if constraint == "shop":
            return replace(self, shop=None)
        empty: frozenset[str] = frozenset()
        if constraint == "colours":
            return replace(self, colours=empty)
        if constraint == "materials":
            return replace(self, materials=empty)
        if constraint == "sizes":
            return replace(self, sizes=empty)
        return replace(self, kinds=empty)

    def merge(self, newer: ProductQuery) -> ProductQuery:
        """A refinement: what `newer` names replaces the same constraint of this query; the rest stays."""
        return ProductQuery(
            text=self.text,
            kinds=newer.kinds or self.kinds,
            colours=newer.colours or self.colours,
            sizes=newer.sizes or self.sizes,
            materials=newer.materials or self.materials,
            price_min=newer.price_min if newer.price_min is not None else self.price_min,
            price_max=newer.price_max if newer.price_max is not None else self.price_max,
            price_strict=newer.price_strict
            if newer.price_min is not None or newer.price_max is not None
            else self.price_strict,
            shop=newer.shop or self.shop,
            skus=newer.skus,
            extras={**self.extras, **newer.extras},
        )

    def describe(self) -> dict[str, Any]:
        """Template values for the responses that say what was looked for."""
        return {
            "kinds": sorted(self.kinds),
            "colours": sorted(self.colours),
            "sizes": sorted(self.sizes),
            "materials": sorted(self.materials),
            "price_min": _whole(self.price_min),
            "price_max": _whole(self.price_max),
            "shop": self.shop,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "kinds": sorted(self.kinds),
            "colours": sorted(self.colours),
            "sizes": sorted(self.sizes),
            "materials": sorted(self.materials),
            "price_min": self.price_min,
            "price_max": self.price_max,
            "price_strict": self.price_strict,
            "shop": self.shop,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProductQuery:
        return cls(
            text=str(data.get("text") or ""),
            kinds=frozenset(data.get("kinds") or ()),
            colours=frozenset(data.get("colours") or ()),
            sizes=frozenset(data.get("sizes") or ()),
            materials=frozenset(data.get("materials") or ()),
            price_min=data.get("price_min"),
            price_max=data.get("price_max"),
            price_strict=bool(data.get("price_strict")),
            shop=data.get("shop"),
        )


def _whole(value: float | None) -> str | None:
    if value is None:
        return None
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"

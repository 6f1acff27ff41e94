"""Ranking products for a shopping request: hard filters, then meaning, stock and the shopper's preferences.

`rank` keeps only products meeting every constraint the customer named (kind, colour, material, price,
size in stock, shop), scores them by the message's embedding (plus the tags it names and stock), and
pages through them. When nothing matches it relaxes one constraint at a time, in `RELAXABLE` order,
and says which one it dropped ("No wool coats under €100 — the closest is …").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from bot.products.catalogue import Product
from bot.products.index import ProductIndex
from bot.products.query import ProductQuery

STOCK_BONUS = 0.05
"""Added to a product in stock somewhere (a sold-out product still shows, after the others)."""
TAG_BONUS = 0.04
"""Added per product tag the message names ("warm", "waterproof")."""
LEXICAL_WEIGHT = 0.1
"""Times the share of the message's rarer catalogue words a product holds ("Breton", "high waisted")."""
PREFERENCE_BONUS = 0.06
"""Added when the shopper's known size is in stock (at their shop, when known)."""
SIZE_GROUPS = {"trousers": "bottoms", "shoes": "shoes", "accessories": ""}
"""Which of the shopper's sizes applies to a category (any other category: "tops")."""
RELAXABLE = ("colours", "materials", "price", "sizes", "shop")
"""Constraints dropped (one at a time, in this order) when nothing matches; the kind never is: a customer
asking for boots does not want to be shown scarves."""
_WORD = re.compile(r"[a-z][a-z-]+")


@dataclass(frozen=True)
class ShopperPreferences:
    """What an identified customer told the shop before (customer memory): sizes by group, a shop."""

    sizes: Mapping[str, str] = field(default_factory=dict)
    """"tops" / "bottoms" / "shoes" -> size"""
    shop: str | None = None


@dataclass(frozen=True)
class Ranking:
    products: tuple[Product, ...]
    total: int
    """how many products matched (all pages)"""
    query: ProductQuery
    """the query that found them (`relaxed` dropped from the customer's)"""
    relaxed: tuple[str, ...] = ()
    offset: int = 0


def size_group(product: Product) -> str:
    return SIZE_GROUPS.get(product.category, "tops")


def _tag_bonus(index: ProductIndex, text: str) -> np.ndarray:
    bonus: np.ndarray = TAG_BONUS * index.tag_hits(set(_WORD.findall(text.lower())))
    return bonus


def _preference_bonus(index: ProductIndex, preferences: ShopperPreferences | None) -> np.ndarray:
    bonus = np.zeros(len(index), dtype=np.float32)
    if preferences is None or not preferences.sizes:
        return bonus
    for group, size in preferences.sizes.items():
        categories = [c for c in set(index.categories) if SIZE_GROUPS.get(c, "tops") == group]
        in_group = np.isin(index.categories, categories)
        bonus[index.in_stock([size], preferences.shop) & in_group] = PREFERENCE_BONUS
    return bonus


def scores(
    index: ProductIndex,
    query: ProductQuery,
    embedding: np.ndarray | None,
    preferences: ShopperPreferences | None = None,
) -> np.ndarray:
    """Every product's score for `query` (constraints not applied)."""
    total = index.similarity(embedding) + STOCK_BONUS * index.available
    total = total + _tag_bonus(index, query.text) + _preference_bonus(index, preferences)
    total = total + LEXICAL_WEIGHT * index.lexical.scores(query.text)
    result: np.ndarray = total.astype(np.float64)
    return result


def rank(
    index: ProductIndex,
    query: ProductQuery,
    embedding: np.ndarray | None,
    *,
    offset: int = 0,
    limit: int = 5,
    exclude: Sequence[str] = (),
    preferences: ShopperPreferences | None = None,
    relax: bool = True,
) -> Ranking:
    """The page [offset, offset+limit) of products for `query`, best first."""
    query = query.sane_prices()
    base = scores(index, query, embedding, preferences)
    excluded = np.zeros(len(index), dtype=bool)
    for sku in exclude:
        position = index.position(sku)
        if position is not None:
            excluded[position] = True
    attempts: list[tuple[tuple[str, ...], ProductQuery]] = [((), query)]
    if relax:
        attempts += [((name,), query.without(name)) for name in query.named() if name in RELAXABLE]
    for relaxed, attempt in attempts:
        keep = index.mask(attempt) & ~excluded
        if not keep.any():
            continue
        ordered = _order(index, base, keep, query if relaxed == ("price",) else None)
        page = tuple(index.products[i] for i in ordered[offset : offset + limit])
        return Ranking(page, int(keep.sum()), attempt, relaxed, offset)
    return Ranking((), 0, query, (), offset)


def _order(index: ProductIndex, base: np.ndarray, keep: np.ndarray, price_from: ProductQuery | None) -> list[int]:
    """Kept products best first; after dropping a price bound, the closest prices first."""
    positions = np.flatnonzero(keep)
    if price_from is not None:
        bound = price_from.price_max if price_from.price_max is not None else price_from.price_min
        if bound is not None:
            distance = np.abs(index.prices[positions] - bound)
            return [int(p) for p in positions[np.lexsort((-base[positions], distance))]]
    return [int(p) for p in positions[np.argsort(-base[positions], kind="stable")]]


def similar(index: ProductIndex, product: Product, *, limit: int = 5, offset: int = 0) -> Ranking:
    """Products like `product`: the same kind, closest in meaning, itself excluded."""
    position = index.position(product.sku)
    embedding = index.vectors[position] if position is not None else None
    query = ProductQuery(text=product.name, kinds=frozenset({product.kind.split()[-1]}))
    ranking = rank(index, query, embedding, offset=offset, limit=limit, exclude=[product.sku], relax=False)
    if ranking.products:
        return ranking
    broader = replace(query, kinds=frozenset({product.category}))
    return rank(index, broader, embedding, offset=offset, limit=limit, exclude=[product.sku], relax=False)

"""What goes with a product: complementary categories ranked by data, never by code.

Two sources, both from the shop: how often two products were bought together (co-purchase counts from
the order history) and the curated "pairs well with" table (a SKU or a kind on each side). A candidate
must be of another category than the product, in stock somewhere; at most `PER_KIND` of one kind and
`PER_CATEGORY` of one category, so "what goes with black jeans?" shows shoes, a knit and a jacket rather
than five sneakers (or a coat, a trench coat and a parka).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from bot.products.catalogue import Pairing, Product
from bot.products.index import ProductIndex
from bot.products.query import ProductQuery

CO_PURCHASE_WEIGHT = 1.0
CURATED_WEIGHT = 0.6
SIMILARITY_WEIGHT = 0.15
PER_KIND = 2
PER_CATEGORY = 2
"""When no kind is asked for ("what goes with…?"); "which shoes go with…" may show five pairs of shoes."""


class PairingTable:
    """Co-purchase counts and curated pairings, indexed for one product's lookup."""

    def __init__(self, pairings: Sequence[Pairing], co_purchases: Mapping[tuple[str, str], int]) -> None:
        self.curated: dict[str, dict[str, float]] = defaultdict(dict)
        for line in pairings:
            a, b = line.source.strip().lower(), line.target.strip().lower()
            self.curated[a][b] = max(self.curated[a].get(b, 0.0), line.weight)
            self.curated[b][a] = max(self.curated[b].get(a, 0.0), line.weight)
        self.bought: dict[str, dict[str, int]] = defaultdict(dict)
        for (a, b), count in co_purchases.items():
            self.bought[a.upper()][b.upper()] = count
            self.bought[b.upper()][a.upper()] = count
        self.max_bought = max(co_purchases.values(), default=0)
        self.max_curated = max((line.weight for line in pairings), default=0.0)

    def score(self, anchor: Product, candidate: Product) -> float:
        """How well `candidate` goes with `anchor` by the shop's data (0 when the data says nothing)."""
        total = 0.0
        count = self.bought.get(anchor.sku.upper(), {}).get(candidate.sku.upper(), 0)
        if count and self.max_bought:
            total += CO_PURCHASE_WEIGHT * math.log1p(count) / math.log1p(self.max_bought)
        curated = 0.0
        for a in _names(anchor):
            row = self.curated.get(a)
            if row:
                curated = max([curated, *(row.get(b, 0.0) for b in _names(candidate))])
        if curated and self.max_curated:
            total += CURATED_WEIGHT * curated / self.max_curated
        return total


def _names(product: Product) -> tuple[str, ...]:
    kind = product.kind.lower()
    return (product.sku.lower(), kind, kind.split()[-1])


def goes_with(
    index: ProductIndex,
    table: PairingTable,
    anchor: Product,
    *,
    limit: int = 5,
    shop: str | None = None,
    kinds: frozenset[str] = frozenset(),
) -> list[Product]:
    """Products of other categories that go with `anchor`, best first (in stock; at `shop` when given).
    `kinds`: only these ("which scarf goes with…"), ranked by the data first, then by closeness."""
    position = index.position(anchor.sku)
    similarity = index.vectors @ index.vectors[position] if position is not None else np.zeros(len(index))
    available = index.in_stock([], shop)
    if kinds:
        wanted = index.mask(ProductQuery(kinds=kinds))
        candidates = {int(i) for i in np.flatnonzero(wanted)}
    else:
        candidates = _candidates(index, table, anchor)
    scored: list[tuple[float, int]] = []
    for i in sorted(candidates):
        candidate = index.products[i]
        if candidate.category == anchor.category and not kinds or not available[i] or candidate.sku == anchor.sku:
            continue
        data = table.score(anchor, candidate)
        if data <= 0 and not kinds:
            continue
        scored.append((data + SIMILARITY_WEIGHT * float(similarity[i]), i))
    scored.sort(key=lambda item: (-item[0], item[1]))
    chosen: list[Product] = []
    per_kind: dict[str, int] = defaultdict(int)
    per_category: dict[str, int] = defaultdict(int)
    for _, i in scored:
        product = index.products[i]
        if per_kind[product.kind] >= PER_KIND or (not kinds and per_category[product.category] >= PER_CATEGORY):
            continue
        per_kind[product.kind] += 1
        per_category[product.category] += 1
        chosen.append(product)
        if len(chosen) == limit:
            break
    return chosen


def _candidates(index: ProductIndex, table: PairingTable, anchor: Product) -> set[int]:
    """Positions of the products the data links to `anchor` (bought with it, or paired by SKU or kind)."""
    found: set[int] = set()
    for sku in table.bought.get(anchor.sku.upper(), {}):
        position = index.position(sku)
        if position is not None:
            found.add(position)
    for name in _names(anchor):
        for target in table.curated.get(name, {}):
            position = index.position(target)
            if position is not None:
                found.add(position)
            column = index.kind_vocab.names.get(target)
            if column is not None:
                found.update(int(i) for i in np.flatnonzero(index.kind_matrix[:, column]))
    return found

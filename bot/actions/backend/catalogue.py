"""The reference shop's catalogue in SQL: products with stock per size and location, curated pairings,
colour families, and co-purchase counts computed from the order history. `SqlShopBackend` delegates here."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, aliased, selectinload

from bot.actions.backend.models import ColourRow, OrderItemRow, PairingRow, ProductRow, StockRow
from bot.products.catalogue import Pairing, Product

SessionFactory = Callable[[], AbstractContextManager[Session]]


def product_of(row: ProductRow) -> Product:
    stock: dict[str, dict[str, int]] = {}
    for line in row.stock:
        stock.setdefault(line.location, {})[line.size] = line.units
    return Product(
        sku=row.sku,
        name=row.name,
        category=row.category,
        kind=row.kind,
        description=row.description,
        price_cents=row.price_cents,
        colours=tuple(row.colours),
        sizes=tuple(row.sizes),
        materials=tuple(row.materials),
        tags=tuple(row.tags),
        stock=stock,
    )


def row_of(product: Product) -> ProductRow:
    return ProductRow(
        sku=product.sku,
        name=product.name,
        category=product.category,
        kind=product.kind,
        description=product.description,
        price_cents=product.price_cents,
        colours=list(product.colours),
        sizes=list(product.sizes),
        materials=list(product.materials),
        tags=list(product.tags),
        stock=[
            StockRow(location=location, size=size, units=units)
            for location, sizes in product.stock.items()
            for size, units in sizes.items()
        ],
    )


class SqlCatalogue:
    """Implements `Catalogue` and `CatalogueWriter` on the shop database's sessions."""

    def __init__(self, read: SessionFactory, write: SessionFactory) -> None:
        self._read = read
        self._write = write

    def products(self) -> Sequence[Product]:
        with self._read() as s:
            rows = s.scalars(select(ProductRow).options(selectinload(ProductRow.stock)).order_by(ProductRow.sku))
            return [product_of(r) for r in rows]

    def product(self, sku: str) -> Product | None:
        with self._read() as s:
            row = s.scalar(
                select(ProductRow)
                .where(func.upper(ProductRow.sku) == sku.strip().upper())
                .options(selectinload(ProductRow.stock))
            )
            return product_of(row) if row is not None else None

    def pairings(self) -> Sequence[Pairing]:
        with self._read() as s:
            return [
                Pairing(r.source, r.target, r.weight) for r in s.scalars(select(PairingRow).order_by(PairingRow.id))
            ]

    def colour_families(self) -> Mapping[str, str]:
        with self._read() as s:
            return {r.colour: r.family for r in s.scalars(select(ColourRow))}

    def co_purchases(self) -> Mapping[tuple[str, str], int]:
        """(sku_a, sku_b), sku_a < sku_b -> orders holding both: one self-join of the order items."""
        a, b = aliased(OrderItemRow), aliased(OrderItemRow)
        query = (
            select(a.sku, b.sku, func.count(func.distinct(a.order_id)))
            .join(b, (a.order_id == b.order_id) & (a.sku < b.sku))
            .group_by(a.sku, b.sku)
        )
        with self._read() as s:
            return {(x, y): int(n) for x, y, n in s.execute(query)}

    def is_empty(self) -> bool:
        with self._read() as s:
            return s.scalar(select(func.count()).select_from(ProductRow)) == 0

    def replace_catalogue(self, products: Sequence[Product], pairings: Sequence[Pairing] | None = None) -> None:
        """Every product (and the pairings when given) replaced in one transaction."""
        with self._write() as s:
            _replace(s, products, pairings)

    def replace_colour_families(self, families: Mapping[str, str]) -> None:
        with self._write() as s:
            s.execute(delete(ColourRow))
            s.add_all(ColourRow(colour=c, family=f) for c, f in families.items())


def _replace(s: Session, products: Sequence[Product], pairings: Sequence[Pairing] | None) -> None:
    s.execute(delete(StockRow))
    s.execute(delete(ProductRow))
    s.add_all(row_of(p) for p in products)
    if pairings is not None:
        s.execute(delete(PairingRow))
        s.add_all(PairingRow(source=p.source, target=p.target, weight=p.weight) for p in pairings)

"""The catalogue CSV files: products (read, validated and written), pairings, colour families, order history.

`products.csv` is UTF-8, comma-separated, with one header row of exactly these columns (`COLUMNS`):

    sku,name,category,kind,description,price_eur,colours,sizes,materials,tags,
    stock_paris,stock_berlin,stock_london,stock_online

Lists (`colours`, `sizes`, `materials`, `tags`) are separated by `;`; a stock cell holds `size:units` pairs
separated by `;` ("S:2; M:0; L:4"; an empty cell: none in stock there). The demo's `pairings.csv` has
`source,target,weight`, `colours.csv` `colour,family` and `history.csv` `number,email,days_ago,country,items`
(items `SKU:size;SKU:size`).

Every reader validates the whole file, then returns all of it or raises one `CatalogueFileError` that lists
every problem as `file:row:column: what is wrong — the fix`. A UTF-8 BOM and `\\r\\n` line ends are accepted;
header names are case-insensitive and may come in any order (`write_catalogue_csv` writes the order above).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.products.catalogue import CATEGORIES, LOCATIONS, Pairing, Product
from bot.products.csv_table import CsvRow, CsvTable, open_table, split_list, whole_number, words

COLUMNS = (
    "sku",
    "name",
    "category",
    "kind",
    "description",
    "price_eur",
    "colours",
    "sizes",
    "materials",
    "tags",
    *(f"stock_{location}" for location in LOCATIONS),
)
PAIRING_COLUMNS = ("source", "target", "weight")
COLOUR_COLUMNS = ("colour", "family")
HISTORY_COLUMNS = ("number", "email", "days_ago", "country", "items")

_HINTS = {
    "sku": "a unique id of letters, digits and hyphens, e.g. WC-01",
    "name": "the product name customers see, e.g. Merino crew-neck sweater",
    "category": f"one of {', '.join(CATEGORIES)}",
    "kind": "the product type in lowercase singular, e.g. sweater",
    "description": "2–4 sentences: material, fit, warmth, season, care",
    "price_eur": "the price in euros, e.g. 189 or 189.00",
    "colours": "colours separated by ';', e.g. navy; grey",
    "sizes": "sizes separated by ';', e.g. XS;S;M;L;XL, 36;37;38 or one size",
    "source": "a SKU (e.g. WC-01) or a kind (e.g. jeans)",
    "target": "a SKU (e.g. KN-104) or a kind (e.g. sneakers)",
    "colour": "a colour word as used in products.csv, e.g. navy",
    "family": "the colour family, e.g. blue",
    "number": "the order number, e.g. AN-10001",
    "email": "the customer's email address, e.g. anna@example.com",
    "days_ago": "how many days ago the order was placed, e.g. 12",
    "country": "a two-letter country code, e.g. FR",
    "items": "SKU:size pairs separated by ';', e.g. WC-01:M; KN-104:S",
}
_ID = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_SIZE_UNITS_FIX = "write each size and its units as size:units, separated by ';', e.g. 'S:2; M:0; L:4'"


@dataclass(frozen=True)
class HistoricalOrder:
    """A past order of the demo shop (`history.csv`): what was bought together, and by whom."""

    number: str
    email: str
    days_ago: int
    country: str
    items: tuple[tuple[str, str], ...]
    """(SKU, size) per item"""


def read_catalogue_csv(path: Path) -> list[Product]:
    """Every product of a `products.csv` file, in file order; raises `CatalogueFileError` listing every problem."""
    table = open_table(path, COLUMNS, _HINTS)
    first_row: dict[str, int] = {}
    products = [p for row in table.rows if (p := _product(table, row, first_row)) is not None]
    table.raise_problems()
    return products


def _product(table: CsvTable, row: CsvRow, first_row: dict[str, int]) -> Product | None:
    before = len(table.problems)
    sku = _sku(table, row, first_row)
    name, category = table.required(row, "name"), _category(table, row)
    kind, description = table.required(row, "kind"), table.required(row, "description")
    price = _price(table, row)
    colours = words(table.required(row, "colours"))
    sizes = _sizes(table, row)
    stock = {loc: units for loc in LOCATIONS if (units := _stock(table, row, f"stock_{loc}", sizes))}
    if (
        len(table.problems) > before
        or sku is None
        or name is None
        or description is None
        or category is None
        or kind is None
        or price is None
        or sizes is None
    ):
        return None
    return Product(
        sku=sku,
        name=" ".join(name.split()),
        category=category,
        kind=" ".join(kind.split()).lower(),
        description=description.replace("\r\n", "\n"),
        price_cents=price,
        colours=colours,
        sizes=sizes,
        materials=words(row.cells.get("materials")),
        tags=words(row.cells.get("tags")),
        stock=stock,
    )


def _sku(table: CsvTable, row: CsvRow, first_row: dict[str, int]) -> str | None:
    sku = table.required(row, "sku")
    if sku is None:
        return None
    if not _ID.fullmatch(sku):
        table.error(row.line, "sku", f"SKU '{sku}' is not letters and digits joined by single hyphens", _HINTS["sku"])
        return None
    first = first_row.setdefault(sku.upper(), row.line)
    if first != row.line:
        table.error(row.line, "sku", f"duplicate SKU '{sku}' (first at row {first})", "give each product its own SKU")
        return None
    return sku


def _category(table: CsvTable, row: CsvRow) -> str | None:
    text = table.required(row, "category")
    if text is None:
        return None
    if text.lower() not in CATEGORIES:
        table.error(row.line, "category", f"unknown category '{text}'", f"use one of {', '.join(CATEGORIES)}")
        return None
    return text.lower()


def _price(table: CsvTable, row: CsvRow) -> int | None:
    text = table.required(row, "price_eur")
    number = table.decimal(row, "price_eur", text) if text is not None else None
    if number is None:
        return None
    whole, decimals = number
    if len(decimals.rstrip("0")) > 2:
        table.error(row.line, "price_eur", f"'{text}' has more than 2 decimals", "round it to cents, e.g. 189.95")
        return None
    return whole * 100 + int(decimals[:2].ljust(2, "0"))


def _sizes(table: CsvTable, row: CsvRow) -> tuple[str, ...] | None:
    text = table.required(row, "sizes")
    if text is None:
        return None
    sizes = split_list(text)
    repeated = sorted({s for s in sizes if [t.lower() for t in sizes].count(s.lower()) > 1})
    if repeated:
        table.error(row.line, "sizes", f"size {', '.join(repeated)} is listed twice", "list each size once")
        return None
    return tuple(sizes)


def _stock(table: CsvTable, row: CsvRow, column: str, sizes: tuple[str, ...] | None) -> dict[str, int]:
    """size -> units of one location's cell; sizes are checked against the product's when those are known."""
    units: dict[str, int] = {}
    spelled = {size.lower(): size for size in sizes or ()}
    for item in split_list(row.cells.get(column, "")):
        size_text, colon, count_text = (part.strip() for part in item.rpartition(":"))
        if not colon or not size_text or not count_text:
            table.error(row.line, column, f"'{item}' is not size:units", _SIZE_UNITS_FIX)
            continue
        count = whole_number(count_text)
        if isinstance(count, str):
            table.error(row.line, column, f"the units in '{item}' are {count}", "write whole units, 0 or more: 'M:3'")
        size = spelled.get(size_text.lower()) if sizes is not None else size_text
        if size is None:
            shown = "; ".join(sizes or ())
            fix = "use a size of the 'sizes' column, or add this size there"
            table.error(row.line, column, f"size '{size_text}' is not one of the product's sizes ({shown})", fix)
        elif size in units:
            table.error(row.line, column, f"size '{size}' is listed twice", "list each size once per location")
        elif isinstance(count, int):
            units[size] = count
    return units


def write_catalogue_csv(products: Iterable[Product], target: Path | TextIO) -> None:
    """Write products in the `products.csv` format (`read_catalogue_csv` reads back the same products)."""
    if isinstance(target, Path):
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("w", encoding="utf-8", newline="") as stream:
            _write(products, stream)
    else:
        _write(products, target)


def _write(products: Iterable[Product], stream: TextIO) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(COLUMNS)
    for p in products:
        price = f"{p.price_cents // 100}.{p.price_cents % 100:02d}"
        lists = [";".join(values) for values in (p.colours, p.sizes, p.materials, p.tags)]
        stock = [_stock_cell(p, p.stock.get(location, {})) for location in LOCATIONS]
        writer.writerow([p.sku, p.name, p.category, p.kind, p.description, price, *lists, *stock])


def _stock_cell(product: Product, units: Mapping[str, int]) -> str:
    """`size:units` in the product's size order, whatever order the backend keeps them in."""
    order = {size: n for n, size in enumerate(product.sizes)}
    ordered = sorted(units, key=lambda size: order.get(size, len(order)))
    return ";".join(f"{size}:{units[size]}" for size in ordered)


# --- pairings, colour families, order history -----------------------------------------------------------


def read_pairings_csv(path: Path, products: Sequence[Product] | None = None) -> list[Pairing]:
    """The curated pairings of `pairings.csv`; with `products`, every source and target must be a SKU or kind."""
    table = open_table(path, PAIRING_COLUMNS, _HINTS)
    known = None if products is None else {p.sku.upper() for p in products} | {p.kind.upper() for p in products}
    first_row: dict[tuple[str, str], int] = {}
    pairings: list[Pairing] = []
    for row in table.rows:
        before = len(table.problems)
        source, target = (_pairing_end(table, row, column, known) for column in ("source", "target"))
        weight = _weight(table, row)
        if source and target:
            key = (source.upper(), target.upper())
            if key[0] == key[1]:
                table.error(row.line, "target", f"'{source}' is paired with itself", "pair it with something else")
            elif (first := first_row.setdefault(key, row.line)) != row.line:
                table.error(
                    row.line, "target", f"'{source}' → '{target}' is listed twice (first at row {first})", "keep one"
                )
        if len(table.problems) == before and source and target and weight is not None:
            pairings.append(Pairing(source, target, weight))
    table.raise_problems()
    return pairings


def _pairing_end(table: CsvTable, row: CsvRow, column: str, known: set[str] | None) -> str | None:
    text = table.required(row, column)
    if text is None:
        return None
    text = " ".join(text.split())
    if known is not None and text.upper() not in known:
        fix = "use the SKU of a product in products.csv or a kind of its 'kind' column"
        table.error(row.line, column, f"'{text}' is neither a SKU nor a kind of the catalogue", fix)
        return None
    return text


def _weight(table: CsvTable, row: CsvRow) -> float | None:
    text = row.cells.get("weight", "")
    if not text:
        return 1.0
    number = table.decimal(row, "weight", text)
    return float(f"{number[0]}.{number[1] or 0}") if number is not None else None


def read_colour_families_csv(path: Path) -> dict[str, str]:
    """colour -> family from `colours.csv` (both lowercase)."""
    table = open_table(path, COLOUR_COLUMNS, _HINTS)
    families: dict[str, str] = {}
    first_row: dict[str, int] = {}
    for row in table.rows:
        colour, family = (words(table.required(row, column)) for column in COLOUR_COLUMNS)
        if len(colour) > 1 or len(family) > 1:
            column = "colour" if len(colour) > 1 else "family"
            table.error(row.line, column, f"the {column} cell holds several values", "write one colour per row")
        elif colour and (first := first_row.setdefault(colour[0], row.line)) != row.line:
            table.error(row.line, "colour", f"colour '{colour[0]}' is listed twice (first at row {first})", "keep one")
        elif colour and family:
            families[colour[0]] = family[0]
    table.raise_problems()
    return families


def read_history_csv(path: Path, products: Sequence[Product] | None = None) -> list[HistoricalOrder]:
    """Past orders of `history.csv`; with `products`, every item must name a product and one of its sizes."""
    table = open_table(path, HISTORY_COLUMNS, _HINTS)
    catalogue = {p.sku.upper(): p for p in products} if products is not None else None
    first_row: dict[str, int] = {}
    orders: list[HistoricalOrder] = []
    for row in table.rows:
        before = len(table.problems)
        number = table.required(row, "number")
        if number is not None and not _ID.fullmatch(number):
            table.error(
                row.line,
                "number",
                f"order number '{number}' is not letters and digits joined by single hyphens",
                _HINTS["number"],
            )
        elif number is not None and (first := first_row.setdefault(number.upper(), row.line)) != row.line:
            table.error(row.line, "number", f"order {number} is listed twice (first at row {first})", "keep one")
        email = table.required(row, "email")
        if email is not None and not _EMAIL.fullmatch(email):
            table.error(row.line, "email", f"'{email}' is not an email address", _HINTS["email"])
        days = table.required(row, "days_ago")
        days_ago = whole_number(days) if days is not None else None
        if isinstance(days_ago, str):
            table.error(row.line, "days_ago", f"days_ago '{days}' is {days_ago}", f"write {_HINTS['days_ago']}")
        country = table.required(row, "country")
        if country is not None and not re.fullmatch(r"[A-Za-z]{2}", country):
            table.error(row.line, "country", f"'{country}' is not a two-letter country code", _HINTS["country"])
        items = _order_items(table, row, catalogue)
        if len(table.problems) == before and number and email and isinstance(days_ago, int) and country and items:
            orders.append(HistoricalOrder(number, email, days_ago, country.upper(), items))
    table.raise_problems()
    return orders


def _order_items(table: CsvTable, row: CsvRow, catalogue: Mapping[str, Product] | None) -> tuple[tuple[str, str], ...]:
    text = table.required(row, "items")
    items: list[tuple[str, str]] = []
    for item in split_list(text or ""):
        sku, colon, size = (part.strip() for part in item.partition(":"))
        if not colon or not _ID.fullmatch(sku) or not size:
            table.error(row.line, "items", f"'{item}' is not SKU:size", f"write {_HINTS['items']}")
            continue
        product = catalogue.get(sku.upper()) if catalogue is not None else None
        if catalogue is not None and product is None:
            table.error(row.line, "items", f"no product has the SKU '{sku}'", "use a SKU of products.csv")
            continue
        if product is not None:
            spelled = {s.lower(): s for s in product.sizes}
            if size.lower() not in spelled:
                shown = "; ".join(product.sizes)
                table.error(row.line, "items", f"'{size}' is not a size of {product.sku} ({shown})", "use one of them")
                continue
            sku, size = product.sku, spelled[size.lower()]
        items.append((sku, size))
    return tuple(items)

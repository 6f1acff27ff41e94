"""Properties of the product catalogue CSV files (`supportbot catalogue import|validate`): whatever file is
given — any bytes, any header, any cells — reading returns products or raises one `CatalogueFileError`
whose problems name the file, the row and the column; never anything else. A valid file imported into the
shop database and exported again reads back as the same products."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.actions.backend import SqlShopBackend
from bot.errors import CatalogueFileError
from bot.products.catalogue import Product
from bot.products.csv_io import (
    COLOUR_COLUMNS,
    COLUMNS,
    HISTORY_COLUMNS,
    PAIRING_COLUMNS,
    read_catalogue_csv,
    read_colour_families_csv,
    read_history_csv,
    read_pairings_csv,
    write_catalogue_csv,
)

BOUNDED = settings(
    max_examples=60,
    deadline=timedelta(seconds=5),  # a hang guard, not a performance target
    suppress_health_check=[HealthCheck.too_slow],
)

READERS: dict[str, tuple[Callable[[Path], Any], tuple[str, ...]]] = {
    "products": (read_catalogue_csv, COLUMNS),
    "pairings": (read_pairings_csv, PAIRING_COLUMNS),
    "colours": (read_colour_families_csv, COLOUR_COLUMNS),
    "history": (read_history_csv, HISTORY_COLUMNS),
}
printable = st.characters(blacklist_categories=("Cs",))
CELLS = ["", " ", "WC-01", "wc-01", "WC--01", "Coat", "coats", "shoes", "accessories", "189", "189.00", "189,00",
         "0", "-5", "1e3", "99999999999", "0.001", "S;M;L", "S;S", "one size", "S:2; M:0", "S:x", "XL:1", ":", "S:",
         "S:-1", "navy; grey", "anna@example.com", "not-an-email", "12", "FR", "France", "WC-01:M", "WC-01",
         "jeans", "1.5", '"', "\n", "\r\n", "\x00", "\ufeff"]  # fmt: skip
cell = st.sampled_from(CELLS) | st.text(printable, max_size=12)


def table(columns: tuple[str, ...]) -> st.SearchStrategy[str]:
    """CSV text whose header is the expected columns, shuffled, or with one dropped, added or renamed."""
    header = st.permutations(columns).flatmap(
        lambda names: st.sampled_from(
            [list(names), list(names[1:]), [*names, "extra"], [*names, names[0]], [names[0].upper(), *names[1:]], []]
        )
    )
    rows = st.lists(st.lists(cell, min_size=0, max_size=len(columns) + 1), max_size=5)
    return st.tuples(header, rows, st.sampled_from(["\n", "\r\n"])).map(lambda t: to_csv([t[0], *t[1]], t[2]))


def to_csv(rows: list[list[str]], line_end: str) -> str:
    stream = io.StringIO()
    csv.writer(stream, lineterminator=line_end).writerows(rows)
    return stream.getvalue()


def read(kind: str, content: bytes) -> Any:
    reader, _ = READERS[kind]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{kind}.csv"
        path.write_bytes(content)
        try:
            return reader(path)
        except CatalogueFileError as e:
            assert e.problems, "a CatalogueFileError lists its problems"
            for problem in e.problems:
                assert problem.file.endswith(f"{kind}.csv") and problem.message and problem.fix, problem
                assert problem.line is None or problem.line >= 1, problem
            return None


# -- any input: products or one CatalogueFileError ------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(READERS))
@BOUNDED
@given(content=st.binary(max_size=300))
def test_any_bytes_are_read_or_refused_with_located_problems(kind: str, content: bytes) -> None:
    read(kind, content)


@pytest.mark.parametrize("kind", sorted(READERS))
@BOUNDED
@given(data=st.data())
def test_any_cells_under_any_header_are_read_or_refused_with_located_problems(kind: str, data: st.DataObject) -> None:
    text = data.draw(table(READERS[kind][1]))
    result = read(kind, data.draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + text.encode("utf-8"))
    if kind == "products" and result is not None:
        for product in result:
            assert product.sku and product.name and product.price_cents > 0 and product.sizes, product


# -- import into the shop database, export, read back -------------------------------------------------------
no_line_end = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r")
word = st.text("abcdefghijklmnopqrstuvwxyzäø -", min_size=1, max_size=8).map(lambda s: " ".join(s.split())).filter(bool)
text = st.text(no_line_end, min_size=1, max_size=40).map(str.strip).filter(bool)
size = st.sampled_from(["XS", "S", "M", "L", "XL", "36", "42", "38.5", "one size", "W32"])


@st.composite
def products(draw: st.DrawFn) -> Product:
    sizes = tuple(draw(st.lists(size, min_size=1, max_size=4, unique=True)))
    stock = draw(
        st.dictionaries(
            st.sampled_from(["paris", "berlin", "london", "online"]),
            st.dictionaries(st.sampled_from(sizes), st.integers(0, 10**6), min_size=1),
        )
    )
    return Product(
        sku=draw(st.from_regex(r"[A-Za-z0-9]{1,4}(-[A-Za-z0-9]{1,4}){0,2}", fullmatch=True)),
        name=" ".join(draw(text).split()),
        category=draw(st.sampled_from(["coats", "shoes", "accessories", "knitwear"])),
        kind=draw(word).lower(),
        description=draw(text),
        price_cents=draw(st.integers(1, 10**9)),
        colours=tuple(draw(st.lists(word, min_size=1, max_size=3, unique=True))),
        sizes=sizes,
        materials=tuple(draw(st.lists(word, max_size=3, unique=True))),
        tags=tuple(draw(st.lists(word, max_size=3, unique=True))),
        stock=stock,
    )


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlShopBackend]:
    backend = SqlShopBackend(f"sqlite:///{tmp_path_factory.mktemp('shop') / 'shop.db'}")
    backend.create_schema()
    yield backend
    backend.dispose()


@BOUNDED
@given(written=st.lists(products(), min_size=1, max_size=4, unique_by=lambda p: p.sku.upper()))
def test_a_catalogue_imported_and_exported_reads_back_the_same(shop: SqlShopBackend, written: list[Product]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source, exported = Path(tmp) / "products.csv", Path(tmp) / "exported.csv"
        write_catalogue_csv(written, source)
        shop.replace_catalogue(read_catalogue_csv(source))
        write_catalogue_csv(shop.products(), exported)
        read_back = read_catalogue_csv(exported)
    assert sorted(read_back, key=lambda p: p.sku) == sorted(read_catalogue_csv_of(written), key=lambda p: p.sku)


def read_catalogue_csv_of(products: list[Product]) -> list[Product]:
    """The products as a file holds them (a location whose stock cell is empty holds none)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "products.csv"
        write_catalogue_csv(products, path)
        return read_catalogue_csv(path)

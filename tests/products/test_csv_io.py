"""`bot/products/csv_io.py`: the catalogue CSV files are read whole or not at all, every problem at row:column."""

from __future__ import annotations

import csv
import dataclasses
import io
import tempfile
from pathlib import Path

import pytest

from bot.errors import CatalogueFileError, DataError
from bot.products.catalogue import Pairing, Product
from bot.products.csv_io import (
    COLUMNS,
    HistoricalOrder,
    read_catalogue_csv,
    read_colour_families_csv,
    read_history_csv,
    read_pairings_csv,
    write_catalogue_csv,
)

HEADER = ",".join(COLUMNS)
DEMO = Path(__file__).resolve().parents[2] / "bot" / "actions" / "backend" / "demo"
COAT = {
    "sku": "WC-01",
    "name": "Wool coat",
    "category": "coats",
    "kind": "coat",
    "description": "Double-faced wool, knee length. Warm to -5 °C.",
    "price_eur": "189",
    "colours": "navy; Grey",
    "sizes": "S;M;L",
    "materials": "wool; cashmere",
    "tags": "winter",
    "stock_paris": "S:2; M:0; L:4",
    "stock_berlin": "",
    "stock_london": "m:1",
    "stock_online": "",
}
SNEAKER = COAT | {
    "sku": "SH-07",
    "name": "Leather sneakers",
    "category": "shoes",
    "kind": "sneakers",
    "price_eur": "129.50",
    "colours": "white",
    "sizes": "40;41;42",
    "materials": "",
    "tags": "",
    "stock_paris": "",
    "stock_london": "",
    "stock_online": "41:3",
}


def row(values: dict[str, str], **changes: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([{**values, **changes}[c] for c in COLUMNS])
    return out.getvalue()


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Files are named relative to the working folder: run in tmp_path so problems say `products.csv:…`."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(folder: Path, text: str | bytes, name: str = "products.csv") -> Path:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def problems_of(path: Path, reader: object = read_catalogue_csv) -> list[tuple[str, str]]:
    with pytest.raises(CatalogueFileError) as raised:
        reader(path)  # type: ignore[operator]
    assert all(p.fix for p in raised.value.problems), "every problem says how to fix it"
    return [(p.location, p.message) for p in raised.value.problems]


def test_reads_products_with_lists_prices_and_stock_per_location(here: Path) -> None:
    coat, sneaker = read_catalogue_csv(write(here, HEADER + "\n" + row(COAT) + row(SNEAKER)))
    assert coat == Product(
        sku="WC-01",
        name="Wool coat",
        category="coats",
        kind="coat",
        description="Double-faced wool, knee length. Warm to -5 °C.",
        price_cents=18900,
        colours=("navy", "grey"),
        sizes=("S", "M", "L"),
        materials=("wool", "cashmere"),
        tags=("winter",),
        stock={"paris": {"S": 2, "M": 0, "L": 4}, "london": {"M": 1}},
    )
    assert (sneaker.price_cents, sneaker.materials, sneaker.stock) == (12950, (), {"online": {"41": 3}})
    assert coat.units("M") == 1 and coat.sizes_in_stock("paris") == ("S", "L")


def test_a_bom_crlf_line_ends_blank_lines_and_header_case_change_nothing(here: Path) -> None:
    plain = read_catalogue_csv(write(here, HEADER + "\n" + row(COAT) + row(SNEAKER), "plain.csv"))
    text = HEADER.upper() + "\r\n" + row(COAT).replace("\n", "\r\n") + "\r\n" + row(SNEAKER).replace("\n", "\r\n")
    assert read_catalogue_csv(write(here, b"\xef\xbb\xbf" + text.encode())) == plain


def test_header_columns_may_come_in_any_order(here: Path) -> None:
    columns = list(reversed(COLUMNS))
    text = ",".join(columns) + "\n" + ",".join(f'"{COAT[c]}"' for c in columns) + "\n"
    assert read_catalogue_csv(write(here, text)) == read_catalogue_csv(write(here, HEADER + "\n" + row(COAT), "b.csv"))


def test_a_quoted_multi_line_description_keeps_the_row_numbers_of_the_lines_after_it(here: Path) -> None:
    text = HEADER + "\n" + row(COAT, description="Line one.\nLine two.") + row(SNEAKER, category="hats")
    assert problems_of(write(here, text)) == [
        ("products.csv:4:category", "unknown category 'hats'"),
    ]


@pytest.mark.parametrize(
    ("changes", "column", "message"),
    [
        ({"sku": ""}, "sku", "'sku' is empty"),
        ({"name": "  "}, "name", "'name' is empty"),
        ({"description": ""}, "description", "'description' is empty"),
        ({"sizes": ""}, "sizes", "'sizes' is empty"),
        ({"sku": "WC 01"}, "sku", "SKU 'WC 01' is not letters and digits joined by single hyphens"),
        ({"category": "jackets"}, "category", "unknown category 'jackets'"),
        ({"price_eur": "abc"}, "price_eur", "'abc' is not a number"),
        ({"price_eur": "€189"}, "price_eur", "'€189' is not a number"),
        ({"price_eur": "189,00"}, "price_eur", "'189,00' is not a number (write decimals with a dot)"),
        ({"price_eur": "0"}, "price_eur", "'0' is zero"),
        ({"price_eur": "0.00"}, "price_eur", "'0.00' is zero"),
        ({"price_eur": "-5"}, "price_eur", "'-5' is negative"),
        ({"price_eur": "189.999"}, "price_eur", "'189.999' has more than 2 decimals"),
        ({"price_eur": "1" * 4400}, "price_eur", f"'{'1' * 4400}' is too large"),
        ({"stock_paris": "S:-1"}, "stock_paris", "the units in 'S:-1' are negative"),
        ({"stock_berlin": "S:1.5"}, "stock_berlin", "the units in 'S:1.5' are not a whole number"),
        ({"stock_london": "S:two"}, "stock_london", "the units in 'S:two' are not a whole number"),
        ({"stock_online": "S:" + "9" * 5000}, "stock_online", f"the units in 'S:{'9' * 5000}' are too large"),
        ({"stock_paris": "XL:2"}, "stock_paris", "size 'XL' is not one of the product's sizes (S; M; L)"),
        ({"stock_paris": "S2"}, "stock_paris", "'S2' is not size:units"),
        ({"stock_paris": ":3"}, "stock_paris", "':3' is not size:units"),
        ({"stock_paris": "S:"}, "stock_paris", "'S:' is not size:units"),
        ({"stock_paris": "S:1; s:2"}, "stock_paris", "size 'S' is listed twice"),
        ({"sizes": "S;M;s"}, "sizes", "size S, s is listed twice"),
    ],
)
def test_each_invalid_cell_is_reported_at_its_row_and_column(
    here: Path, changes: dict[str, str], column: str, message: str
) -> None:
    text = HEADER + "\n" + row(SNEAKER) + row(COAT, **changes)
    assert problems_of(write(here, text)) == [(f"products.csv:3:{column}", message)]


def test_the_valid_categories_are_listed_in_the_fix(here: Path) -> None:
    with pytest.raises(CatalogueFileError) as raised:
        read_catalogue_csv(write(here, HEADER + "\n" + row(COAT, category="Hats")))
    assert raised.value.problems[0].fix == "use one of coats, knitwear, shirts, trousers, dresses, shoes, accessories"


def test_a_duplicate_sku_names_the_first_row_whatever_the_case(here: Path) -> None:
    text = HEADER + "\n" + row(COAT) + row(SNEAKER) + row(COAT, sku="wc-01")
    assert problems_of(write(here, text)) == [("products.csv:4:sku", "duplicate SKU 'wc-01' (first at row 2)")]


def test_every_problem_of_every_row_is_listed_and_nothing_is_returned(here: Path) -> None:
    text = (
        HEADER
        + "\n"
        + row(COAT, price_eur="-1", stock_paris="XL:1")
        + row(SNEAKER)
        + row(SNEAKER, sku="SH-08", category="", stock_online="41:x")
    )
    assert problems_of(write(here, text)) == [
        ("products.csv:2:price_eur", "'-1' is negative"),
        ("products.csv:2:stock_paris", "size 'XL' is not one of the product's sizes (S; M; L)"),
        ("products.csv:4:category", "'category' is empty"),
        ("products.csv:4:stock_online", "the units in '41:x' are not a whole number"),
    ]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            HEADER.replace(",tags", ""),
            [("products.csv:1:tags", "missing column 'tags'")],
        ),
        (
            HEADER.replace("colours", "colors"),
            [
                ("products.csv:1:colors", "unknown column 'colors'"),
                ("products.csv:1:colours", "missing column 'colours'"),
            ],
        ),
        (
            HEADER + ",sku",
            [("products.csv:1:sku", "column 'sku' appears twice (columns 1 and 15)")],
        ),
        (
            HEADER + ",",
            [("products.csv:1:column 15", "the header cell is empty")],
        ),
    ],
)
def test_header_problems_name_the_column(here: Path, header: str, expected: list[tuple[str, str]]) -> None:
    assert problems_of(write(here, header + "\n")) == expected


def test_an_unknown_column_suggests_the_close_one(here: Path) -> None:
    with pytest.raises(CatalogueFileError) as raised:
        read_catalogue_csv(write(here, HEADER.replace("price_eur", "price") + "\n"))
    assert raised.value.problems[0].fix.startswith("did you mean 'price_eur'? the header must be: sku,name,")


def test_rows_with_missing_or_extra_cells(here: Path) -> None:
    short = row(SNEAKER).rstrip("\n").rsplit(",", 3)[0] + "\n"
    text = HEADER + "\n" + row(COAT).rstrip("\n") + ",extra\n" + short + row(COAT, sku="WC-02").rstrip("\n") + ",,\n"
    assert problems_of(write(here, text)) == [
        ("products.csv:2", "the row has 15 cells but the header has 14"),
        ("products.csv:3:stock_berlin", "the row has 11 cells but the header has 14"),
    ]


def test_a_file_that_is_not_utf8_names_the_line(here: Path) -> None:
    data = (HEADER + "\n" + row(COAT)).encode() + row(SNEAKER, name="Baskets légères").encode("latin-1")
    assert problems_of(write(here, data)) == [
        ("products.csv:3", "the file is not UTF-8 text (byte 0xe9 on this line: invalid continuation byte)")
    ]


@pytest.mark.parametrize("text", ["", "\n\n", "   \r\n", "\ufeff"])
def test_an_empty_file(here: Path, text: str) -> None:
    assert problems_of(write(here, text)) == [("products.csv", "the file is empty")]


def test_a_missing_file_is_a_catalogue_error(here: Path) -> None:
    assert problems_of(here / "nope.csv") == [("nope.csv", "the file cannot be read (No such file or directory)")]


def test_a_cell_too_large_for_the_csv_parser_stops_the_file_with_a_problem(here: Path) -> None:
    text = HEADER + "\n" + row(COAT, description="x" * 200_000)
    [(location, message)] = problems_of(write(here, text))
    assert location == "products.csv:2" and message.startswith("the row cannot be read (field larger than")


def test_the_error_is_a_data_error_whose_text_lists_the_problems(here: Path) -> None:
    with pytest.raises(DataError) as raised:
        read_catalogue_csv(write(here, HEADER + "\n" + row(COAT, price_eur="x")))
    assert str(raised.value).startswith("products.csv:2:price_eur: 'x' is not a number — write a number")


# --- writing ---------------------------------------------------------------------------------------------

ODD = Product(
    sku="AC-3",
    name='Scarf "Nord", long',
    category="accessories",
    kind="scarf",
    description="Lambswool, 180 cm.\nHand wash; dry flat.",
    price_cents=4905,
    colours=("camel", "off white"),
    sizes=("one size",),
    stock={"berlin": {"one size": 0}, "online": {"one size": 12}},
)


def test_export_then_import_is_the_identity(here: Path) -> None:
    products = read_catalogue_csv(write(here, HEADER + "\n" + row(COAT) + row(SNEAKER))) + [ODD]
    write_catalogue_csv(products, here / "out" / "export.csv")
    assert read_catalogue_csv(here / "out" / "export.csv") == products


def test_writing_to_a_stream_writes_the_same_text_as_to_a_file(here: Path) -> None:
    stream = io.StringIO()
    write_catalogue_csv([ODD], stream)
    write_catalogue_csv([ODD], here / "odd.csv")
    assert stream.getvalue() == (here / "odd.csv").read_text(encoding="utf-8")
    assert stream.getvalue().splitlines()[0] == HEADER


def test_stock_is_written_in_the_products_size_order(here: Path) -> None:
    shuffled = Product("BL-1", "Belt", "accessories", "belt", "Leather.", 5900, ("black",), ("75", "80", "100"))
    shuffled = dataclasses.replace(shuffled, stock={"paris": {"100": 1, "75": 2, "80": 0}})
    stream = io.StringIO()
    write_catalogue_csv([shuffled], stream)
    assert stream.getvalue().splitlines()[1].endswith(",75:2;80:0;100:1,,,")


def test_random_products_survive_export_and_import(tmp_path: Path) -> None:
    pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st

    word = st.text("abcdefghij -", min_size=1, max_size=8).map(lambda s: " ".join(s.split())).filter(bool)
    text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), min_size=1).map(str.strip)
    size = st.sampled_from(["XS", "S", "M", "L", "XL", "36", "42", "one size"])

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
            name=" ".join(draw(text.filter(lambda s: s.split())).split()),
            category=draw(st.sampled_from(["coats", "shoes", "accessories"])),
            kind=draw(word).lower(),
            description=draw(text.filter(bool)),
            price_cents=draw(st.integers(1, 10**9)),
            colours=tuple(draw(st.lists(word, min_size=1, max_size=3, unique=True))),
            sizes=sizes,
            materials=tuple(draw(st.lists(word, max_size=3, unique=True))),
            tags=tuple(draw(st.lists(word, max_size=3, unique=True))),
            stock=stock,
        )

    @settings(max_examples=150, deadline=None)
    @given(st.lists(products(), max_size=4, unique_by=lambda p: p.sku.upper()))
    def round_trip(items: list[Product]) -> None:
        path = tmp_path / "round.csv"
        write_catalogue_csv(items, path)
        assert read_catalogue_csv(path) == items

    round_trip()


def test_random_bytes_and_text_raise_only_catalogue_errors() -> None:
    pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st

    readers = [read_catalogue_csv, read_pairings_csv, read_colour_families_csv, read_history_csv]
    csvish = st.text(st.sampled_from(list(',;:"\r\n \ufeff-.0123456789SMLaWC\x00é')), max_size=300)
    prefix = st.sampled_from([HEADER + "\n", "source,target,weight\n", "colour,family\n", "number,email,days_ago\n"])

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"

        @settings(max_examples=300, deadline=None)
        @given(
            st.one_of(
                st.binary(max_size=400),
                st.builds(lambda p, t: (p + t).encode(), prefix, csvish),
                st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
            ),
            st.sampled_from(readers),
        )
        def check(data: bytes, reader: object) -> None:
            path.write_bytes(data)
            try:
                result = reader(path)  # type: ignore[operator]
            except CatalogueFileError as e:
                assert e.problems and all(p.file == str(path) for p in e.problems)
            else:
                assert isinstance(result, list | dict)

        check()


# --- pairings, colour families, order history ------------------------------------------------------------


def test_pairings_with_a_default_weight(here: Path) -> None:
    path = write(here, "source,target,weight\nWC-01,KN-104,2\njeans, sneakers ,\n", "pairings.csv")
    assert read_pairings_csv(path) == [Pairing("WC-01", "KN-104", 2.0), Pairing("jeans", "sneakers", 1.0)]


def test_pairings_problems(here: Path) -> None:
    catalogue = read_catalogue_csv(write(here, HEADER + "\n" + row(COAT) + row(SNEAKER)))
    text = "source,target,weight\nWC-01,sneakers,0.5\nwc-01,WC-01,1\nWC-01,SNEAKERS,x\nWC-01,sneakers,0\nZZ-9,,-1\n"
    assert problems_of(write(here, text, "pairings.csv"), lambda p: read_pairings_csv(p, catalogue)) == [
        ("pairings.csv:3:target", "'wc-01' is paired with itself"),
        ("pairings.csv:4:weight", "'x' is not a number"),
        ("pairings.csv:4:target", "'WC-01' → 'SNEAKERS' is listed twice (first at row 2)"),
        ("pairings.csv:5:weight", "'0' is zero"),
        ("pairings.csv:5:target", "'WC-01' → 'sneakers' is listed twice (first at row 2)"),
        ("pairings.csv:6:source", "'ZZ-9' is neither a SKU nor a kind of the catalogue"),
        ("pairings.csv:6:target", "'target' is empty"),
        ("pairings.csv:6:weight", "'-1' is negative"),
    ]


def test_colour_families(here: Path) -> None:
    path = write(here, "colour,family\nNavy,blue\noff white , white\n", "colours.csv")
    assert read_colour_families_csv(path) == {"navy": "blue", "off white": "white"}


def test_colour_family_problems(here: Path) -> None:
    text = "Colour,Family,shade\nnavy,blue,\nNAVY,blue,\ngrey,,\nred;pink,red,\n"
    assert problems_of(write(here, text, "colours.csv"), read_colour_families_csv) == [
        ("colours.csv:1:shade", "unknown column 'shade'"),
        ("colours.csv:3:colour", "colour 'navy' is listed twice (first at row 2)"),
        ("colours.csv:4:family", "'family' is empty"),
        ("colours.csv:5:colour", "the colour cell holds several values"),
    ]


def test_history(here: Path) -> None:
    catalogue = read_catalogue_csv(write(here, HEADER + "\n" + row(COAT) + row(SNEAKER)))
    text = "number,email,days_ago,country,items\nAN-1,anna@example.com,12,fr,wc-01:m; SH-07:41\n"
    assert read_history_csv(write(here, text, "history.csv"), catalogue) == [
        HistoricalOrder("AN-1", "anna@example.com", 12, "FR", (("WC-01", "M"), ("SH-07", "41")))
    ]


def test_history_problems(here: Path) -> None:
    catalogue = read_catalogue_csv(write(here, HEADER + "\n" + row(COAT) + row(SNEAKER)))
    text = (
        "number,email,days_ago,country,items\n"
        "AN-1,anna@example.com,12,FR,WC-01:M\n"
        "an-1,anna.example.com,-3,France,WC-01\n"
        "AN 2,b@example.com,1.5,DE,ZZ-1:M; SH-07:39;\n"
        "AN-3,c@example.com,3,GB,\n"
    )
    assert problems_of(write(here, text, "history.csv"), lambda p: read_history_csv(p, catalogue)) == [
        ("history.csv:3:number", "order an-1 is listed twice (first at row 2)"),
        ("history.csv:3:email", "'anna.example.com' is not an email address"),
        ("history.csv:3:days_ago", "days_ago '-3' is negative"),
        ("history.csv:3:country", "'France' is not a two-letter country code"),
        ("history.csv:3:items", "'WC-01' is not SKU:size"),
        ("history.csv:4:number", "order number 'AN 2' is not letters and digits joined by single hyphens"),
        ("history.csv:4:days_ago", "days_ago '1.5' is not a whole number"),
        ("history.csv:4:items", "no product has the SKU 'ZZ-1'"),
        ("history.csv:4:items", "'39' is not a size of SH-07 (40; 41; 42)"),
        ("history.csv:5:items", "'items' is empty"),
    ]


def test_the_demo_catalogue_files_are_valid_and_agree_with_each_other(tmp_path: Path) -> None:
    products = read_catalogue_csv(DEMO / "products.csv")
    pairings = read_pairings_csv(DEMO / "pairings.csv", products)
    families = read_colour_families_csv(DEMO / "colours.csv")
    history = read_history_csv(DEMO / "history.csv", products)
    assert len(products) >= 100 and pairings and history
    assert {c for p in products for c in p.colours} <= set(families), "every colour has a family"
    write_catalogue_csv(products, tmp_path / "export.csv")
    assert read_catalogue_csv(tmp_path / "export.csv") == products

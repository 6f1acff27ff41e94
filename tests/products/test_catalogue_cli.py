"""`supportbot catalogue import|export|validate` against an in-memory catalogue (`bot/actions/catalogue_cli.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot import cli
from bot.actions import catalogue_cli
from bot.actions.catalogue_cli import catalogue_app
from bot.products.catalogue import Pairing, Product
from bot.products.csv_io import COLUMNS, read_catalogue_csv, write_catalogue_csv
from bot.products.memory import InMemoryCatalogue

HEADER = ",".join(COLUMNS)
GOOD = (
    HEADER + "\n"
    "WC-01,Wool coat,coats,coat,Warm wool.,189,navy,S;M;L,wool,winter,S:2; M:0,,,L:1\n"
    "SH-07,Leather sneakers,shoes,sneakers,White leather.,129.50,white,40;41,leather,,,,41:3,\n"
)
BAD = (
    HEADER + "\n"
    "WC-01,Wool coat,coats,coat,Warm wool.,189,navy,S;M;L,wool,winter,S:2; XL:1,,,\n"
    "SH-07,Leather sneakers,shoes,sneakers,White leather.,-1,white,40;41,leather,,,,,\n"
)
OLD = Product("OLD-1", "Old hat", "accessories", "hat", "Felt.", 5000, ("black",), ("one size",))
runner = CliRunner()


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> InMemoryCatalogue:
    """The CLI's backend is an in-memory catalogue holding one old product; files are named from tmp_path."""
    monkeypatch.chdir(tmp_path)
    catalogue = InMemoryCatalogue([OLD], [Pairing("hat", "coat")])
    monkeypatch.setattr(catalogue_cli, "get_backend", lambda: catalogue)
    return catalogue


def write(name: str, text: str) -> Path:
    Path(name).write_text(text, encoding="utf-8")
    return Path(name)


def test_import_replaces_the_catalogue(shop: InMemoryCatalogue) -> None:
    result = runner.invoke(catalogue_app, ["import", str(write("products.csv", GOOD))])
    assert result.exit_code == 0, result.output
    assert result.stdout == "Imported 2 products from products.csv.\n"
    assert [p.sku for p in shop.products()] == ["SH-07", "WC-01"]
    assert shop.products() == sorted(read_catalogue_csv(Path("products.csv")), key=lambda p: p.sku)
    assert shop.pairings() == [Pairing("hat", "coat")], "pairings stay unless --pairings is given"


def test_import_with_errors_prints_every_problem_and_changes_nothing(shop: InMemoryCatalogue) -> None:
    result = runner.invoke(catalogue_app, ["import", str(write("products.csv", BAD))])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("products.csv:2:stock_paris: size 'XL' is not one of the product's sizes (S; M; L) — ")
    assert lines[1].startswith("products.csv:3:price_eur: '-1' is negative — write a number greater than 0")
    assert lines[2] == "2 problem(s): the catalogue was not changed."
    assert result.stdout == ""
    assert shop.products() == [OLD]


def test_every_problem_is_printed_even_past_twenty(shop: InMemoryCatalogue) -> None:
    rows = "".join(f"P-{n},Hat,accessories,hat,Felt.,-{n},black,one size,,,,,,\n" for n in range(1, 26))
    result = runner.invoke(catalogue_app, ["import", str(write("products.csv", HEADER + "\n" + rows))])
    assert result.exit_code == 1
    located = [line.split(": ")[0] for line in result.stderr.splitlines()[:-1]]
    assert located == [f"products.csv:{n + 1}:price_eur" for n in range(1, 26)]
    assert shop.products() == [OLD]


def test_import_with_pairings_checks_them_against_the_new_products(shop: InMemoryCatalogue) -> None:
    products = write("products.csv", GOOD)
    bad = write("pairings.csv", "source,target,weight\nWC-01,sneakers,2\nhat,WC-01,1\n")
    result = runner.invoke(catalogue_app, ["import", str(products), "--pairings", str(bad)])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith(
        "pairings.csv:3:source: 'hat' is neither a SKU nor a kind of the catalogue — "
    )
    assert shop.products() == [OLD]

    good = write("pairings.csv", "source,target,weight\nWC-01,sneakers,2\n")
    result = runner.invoke(catalogue_app, ["import", str(products), "--pairings", str(good)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "Imported 2 products and 1 pairings from products.csv.\n"
    assert shop.pairings() == [Pairing("WC-01", "sneakers", 2.0)]


def test_a_missing_file_is_reported_without_a_traceback(shop: InMemoryCatalogue) -> None:
    result = runner.invoke(catalogue_app, ["import", "nope.csv"])
    assert result.exit_code == 1
    assert result.stderr.startswith("nope.csv: the file cannot be read (No such file or directory) — ")
    assert shop.products() == [OLD]


def test_export_to_stdout_writes_the_catalogue_csv(shop: InMemoryCatalogue) -> None:
    runner.invoke(catalogue_app, ["import", str(write("products.csv", GOOD))])
    result = runner.invoke(catalogue_app, ["export"])
    assert result.exit_code == 0, result.output
    write_catalogue_csv(shop.products(), Path("expected.csv"))
    assert result.stdout == Path("expected.csv").read_text(encoding="utf-8")
    assert result.stdout.splitlines()[0] == HEADER


def test_export_to_a_file_reads_back_the_same_catalogue(shop: InMemoryCatalogue) -> None:
    runner.invoke(catalogue_app, ["import", str(write("products.csv", GOOD))])
    result = runner.invoke(catalogue_app, ["export", "out/catalogue.csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "Exported 2 products to out/catalogue.csv.\n"
    assert read_catalogue_csv(Path("out/catalogue.csv")) == shop.products()


def test_validate_reports_and_never_touches_the_backend(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)

    def no_backend() -> object:
        raise AssertionError("validate must not use the backend")

    monkeypatch.setattr(catalogue_cli, "get_backend", no_backend)
    ok = runner.invoke(catalogue_app, ["validate", str(write("products.csv", GOOD))])
    assert (ok.exit_code, ok.stdout) == (0, "All good: 2 products, no problems.\n")
    bad = runner.invoke(catalogue_app, ["validate", str(write("bad.csv", BAD))])
    assert bad.exit_code == 1
    assert [line.split(" — ")[0] for line in bad.stderr.splitlines()] == [
        "bad.csv:2:stock_paris: size 'XL' is not one of the product's sizes (S; M; L)",
        "bad.csv:3:price_eur: '-1' is negative",
        "2 problem(s): nothing was imported.",
    ]


def test_a_backend_without_a_catalogue_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(catalogue_cli, "get_backend", object)
    result = runner.invoke(catalogue_app, ["import", str(write("products.csv", GOOD))])
    assert result.exit_code == 1
    assert "the shop backend object has no product catalogue: it does not implement CatalogueWriter" in result.stderr
    assert "the catalogue was not changed" in result.stderr


def test_the_group_is_registered_in_the_main_cli() -> None:
    entry = ("bot.actions.catalogue_cli", "catalogue_app", "catalogue")
    assert entry in cli.PLUGINS
    assert cli._plugin(entry[0], entry[1]) is catalogue_app

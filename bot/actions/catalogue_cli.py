"""`supportbot catalogue import|export|validate`: the product catalogue as a CSV file (a plugin of bot/cli.py).

The file format is `bot.products.csv_io`'s. `import` reads and checks the whole file first and replaces the
shop's catalogue in one transaction only when nothing is wrong; on errors it prints every one of them as
`file:row:column: what is wrong — the fix` and exits 1 with the catalogue unchanged. The commands need only
the `Catalogue` and `CatalogueWriter` protocols of `bot.products.catalogue` from the shop backend.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from bot.actions.backend import get_backend
from bot.errors import CatalogueFileError, ConfigError, Problem, SupportbotError, display_path
from bot.products.catalogue import Catalogue, CatalogueWriter, Pairing, Product
from bot.products.csv_io import read_catalogue_csv, read_pairings_csv, write_catalogue_csv

catalogue_app = typer.Typer(
    help="The product catalogue: import, export or validate a products CSV file.", no_args_is_help=True
)

FileArg = Annotated[
    Path,
    typer.Argument(
        help="A products CSV file: sku,name,category,kind,description,price_eur,colours,sizes,materials,tags,"
        "stock_paris,stock_berlin,stock_london,stock_online.",
        dir_okay=False,
        show_default=False,
    ),
]
PairingsOpt = Annotated[
    Path | None,
    typer.Option(
        "--pairings",
        help="A pairings CSV file (source,target,weight) checked against the products, imported with them.",
        dir_okay=False,
        show_default=False,
    ),
]


@catalogue_app.command("import")
def import_command(file: FileArg, pairings: PairingsOpt = None) -> None:
    """Check FILE, then replace the whole catalogue with it in one transaction (nothing changes on errors)."""
    products, pairs = _read(file, pairings, "the catalogue was not changed")
    try:
        _writer().replace_catalogue(products, pairs)
    except SupportbotError as e:
        _fail(f"{e} — the catalogue was not changed")
    also = f" and {len(pairs)} pairings" if pairs is not None else ""
    typer.echo(f"Imported {len(products)} products{also} from {display_path(file)}.")


@catalogue_app.command("export")
def export_command(
    file: Annotated[
        Path | None,
        typer.Argument(help="Where to write the CSV file (default: standard output).", dir_okay=False),
    ] = None,
) -> None:
    """Write every product of the catalogue as CSV, in the format `catalogue import` reads."""
    try:
        products = _catalogue().products()
    except SupportbotError as e:
        _fail(str(e))
    if file is None:
        write_catalogue_csv(products, sys.stdout)
        return
    write_catalogue_csv(products, file)
    typer.echo(f"Exported {len(products)} products to {display_path(file)}.")


@catalogue_app.command("validate")
def validate_command(file: FileArg, pairings: PairingsOpt = None) -> None:
    """Check FILE (and the --pairings file) without importing anything; exit 1 on errors."""
    products, pairs = _read(file, pairings, "nothing was imported")
    also = f" and {len(pairs)} pairings" if pairs is not None else ""
    typer.echo(f"All good: {len(products)} products{also}, no problems.")


def _read(file: Path, pairings: Path | None, outcome: str) -> tuple[list[Product], list[Pairing] | None]:
    """Products (and pairings) of the files; every problem of both files is printed before exiting 1."""
    problems: list[Problem] = []
    products: list[Product] | None = None
    pairs: list[Pairing] | None = None
    try:
        products = read_catalogue_csv(file)
    except CatalogueFileError as e:
        problems.extend(e.problems)
    if pairings is not None:
        try:
            pairs = read_pairings_csv(pairings, products)
        except CatalogueFileError as e:
            problems.extend(e.problems)
    if problems or products is None:
        _print_problems(problems)
        _fail(f"{len(problems)} problem(s): {outcome}.")
    return products, pairs


def _print_problems(problems: Sequence[Problem]) -> None:
    for problem in problems:
        typer.echo(str(problem), err=True)


def _fail(message: str) -> NoReturn:
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


def _catalogue() -> Catalogue:
    backend: object = get_backend()
    if isinstance(backend, Catalogue):
        return backend
    raise _no_catalogue(backend, "Catalogue")


def _writer() -> CatalogueWriter:
    backend: object = get_backend()
    if isinstance(backend, CatalogueWriter):
        return backend
    raise _no_catalogue(backend, "CatalogueWriter")


def _no_catalogue(backend: object, protocol: str) -> ConfigError:
    return ConfigError(
        f"the shop backend {type(backend).__name__} has no product catalogue: it does not implement "
        f"{protocol} (bot/products/catalogue.py) — add products()/replace_catalogue() to it"
    )

"""`CsvTable`: one CSV file of the catalogue read into rows, with every problem found (used by `csv_io`).

`open_table` decodes the file (UTF-8, with or without a BOM; `\\n` or `\\r\\n`), checks the header against the
expected columns (case-insensitive, any order: each missing, unknown, duplicated or empty one is a problem)
and keeps the rows whose cell count matches the header. Readers then check the cells and call
`raise_problems()`: every problem reads `file:row:column: what is wrong — the fix`.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import CatalogueFileError, Problem, display_path

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

_NUMBER = re.compile(r"([+-]?)([0-9]+)(?:\.([0-9]+))?")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_MAX_DIGITS = 9
_QUOTE_FIX = 'put a cell holding commas, quotes or line breaks in double quotes ("...") and double its quotes'


@dataclass(frozen=True)
class CsvRow:
    line: int
    """the row's first line in the file"""
    cells: Mapping[str, str]
    """column -> stripped cell, for each expected column the header names"""


@dataclass
class CsvTable:
    """One CSV file being read: its rows, and every problem found so far."""

    file: str
    columns: tuple[str, ...]
    hints: Mapping[str, str]
    """column -> what to write there (the fix of an empty cell)"""
    rows: list[CsvRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def error(self, line: int | None, column: str | None, message: str, fix: str) -> None:
        self.problems.append(Problem(self.file, line, message, fix, column=column))

    def required(self, row: CsvRow, column: str) -> str | None:
        """The cell's text; None (and a problem) when it is empty; None when the header lacks the column."""
        text = row.cells.get(column)
        if text == "":
            self.error(row.line, column, f"'{column}' is empty", f"fill it in: {self.hints.get(column, 'a value')}")
            return None
        return text

    def decimal(self, row: CsvRow, column: str, text: str) -> tuple[int, str] | None:
        """A number > 0 as (whole part, decimal digits), exact; None (and a problem) otherwise."""
        match = _NUMBER.fullmatch(text)
        fix = "write a number greater than 0 with a dot for decimals and no currency sign, e.g. 189.00"
        if match is None:
            comma = " (write decimals with a dot)" if re.fullmatch(r"[0-9]+,[0-9]+", text) else ""
            self.error(row.line, column, f"'{text}' is not a number{comma}", fix)
            return None
        sign, whole, decimals = match.group(1), match.group(2), match.group(3) or ""
        wrong = (
            "too large"
            if len(whole) > _MAX_DIGITS
            else "zero"
            if int(whole) == 0 and not decimals.strip("0")
            else "negative"
            if sign == "-"
            else ""
        )
        if wrong:
            self.error(row.line, column, f"'{text}' is {wrong}", fix)
            return None
        return int(whole), decimals

    def raise_problems(self) -> None:
        if self.problems:
            raise CatalogueFileError(self.problems)


def whole_number(text: str) -> int | str:
    """A whole number >= 0, or what is wrong with `text` ("not a whole number", "negative", "too large")."""
    if not _INTEGER.fullmatch(text):
        return "not a whole number"
    if len(text.lstrip("+-")) > _MAX_DIGITS:
        return "too large"
    value = int(text)
    return "negative" if value < 0 else value


def split_list(text: str | None) -> list[str]:
    """The items of a `;` list, spaces collapsed, empty items dropped."""
    return [" ".join(item.split()) for item in (text or "").split(";") if item.strip()]


def words(text: str | None) -> tuple[str, ...]:
    """A `;` list in lowercase, spaces collapsed, empty items and repeats dropped."""
    return tuple(dict.fromkeys(item.lower() for item in split_list(text)))


def open_table(path: Path, columns: tuple[str, ...], hints: Mapping[str, str]) -> CsvTable:
    """`path` decoded and split into rows; a file that cannot be read, decoded or is empty raises at once."""
    table = CsvTable(display_path(path), columns, hints)
    try:
        data = path.read_bytes()
    except OSError as e:
        table.error(None, None, f"the file cannot be read ({e.strerror or e})", "check the path and its permissions")
        raise CatalogueFileError(table.problems) from e
    try:
        text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        message = f"the file is not UTF-8 text (byte 0x{data[e.start]:02x} on this line: {e.reason})"
        table.error(line, None, message, "save it as UTF-8 (in Excel: 'CSV UTF-8 (comma delimited)')")
        raise CatalogueFileError(table.problems) from e
    if not text.strip():
        fix = f"add the header row '{','.join(columns)}' and one row per line after it"
        table.error(None, None, "the file is empty", fix)
        table.raise_problems()
    reader = csv.reader(io.StringIO(text, newline=""))
    header = _header(table, reader)
    if header is not None:
        _read_rows(table, reader, header)
    return table


def _next_row(table: CsvTable, reader: CsvReader) -> tuple[int, list[str]] | None:
    """The next non-blank row and its first line; None at the end or when the CSV cannot be parsed further."""
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return None
        except csv.Error as e:
            table.error(line, None, f"the row cannot be read ({e}); the rows after it were not checked", _QUOTE_FIX)
            return None
        if any(cell.strip() for cell in row):
            return line, row


def _header(table: CsvTable, reader: CsvReader) -> list[str] | None:
    """The header's column names; every missing, unknown, duplicated or empty column is a problem."""
    first = _next_row(table, reader)
    if first is None:
        return None
    line, cells = first
    names = [cell.strip().lower() for cell in cells]
    expected = ",".join(table.columns)
    for number, name in enumerate(names, 1):
        if not name:
            table.error(line, f"column {number}", "the header cell is empty", f"the header must be: {expected}")
        elif name in names[: number - 1]:
            first_at = names.index(name) + 1
            table.error(line, name, f"column '{name}' appears twice (columns {first_at} and {number})", "keep one")
        elif name not in table.columns:
            close = difflib.get_close_matches(name, table.columns, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            table.error(line, name, f"unknown column '{name}'", f"{hint}the header must be: {expected}")
    for name in table.columns:
        if name not in names:
            table.error(line, name, f"missing column '{name}'", f"add it to the header row: {expected}")
    return names


def _read_rows(table: CsvTable, reader: CsvReader, header: list[str]) -> None:
    """Keep each row whose cells match the header; a row with too few or too many cells is a problem."""
    wanted = {name: header.index(name) for name in table.columns if name in header}
    while (found := _next_row(table, reader)) is not None:
        line, cells = found
        count = f"the row has {len(cells)} cells but the header has {len(header)}"
        if len(cells) < len(header):
            fix = "add the missing cells (empty ones too: 'a,,b'), or put cells holding commas in double quotes"
            table.error(line, header[len(cells)] or None, count, fix)
        elif any(cell.strip() for cell in cells[len(header) :]):
            table.error(line, None, count, _QUOTE_FIX)
        else:
            table.rows.append(CsvRow(line, {name: cells[index].strip() for name, index in wanted.items()}))

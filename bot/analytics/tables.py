"""A report table: a name (its CSV file), a title, column headings and rows of plain values."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

Cell = str | int | float | None


@dataclass(frozen=True)
class ReportTable:
    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]

    def column(self, heading: str) -> list[Cell]:
        index = self.columns.index(heading)
        return [row[index] for row in self.rows]

    def to_csv(self) -> str:
        """The table as CSV (a header row, then one row per line; empty cells for missing values). Cells a
        spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) are prefixed with a quote."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow([_csv_cell(cell) for cell in row])
        return out.getvalue()


def _csv_cell(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float):
        return f"{cell:.4f}".rstrip("0").rstrip(".") if cell == cell else ""
    text = str(cell)
    if isinstance(cell, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def ratio(part: int | float, whole: int | float) -> float | None:
    """`part / whole`, or None when there is nothing to divide by."""
    return part / whole if whole else None


def table(name: str, title: str, columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> ReportTable:
    return ReportTable(name, title, tuple(columns), tuple(tuple(r) for r in rows))

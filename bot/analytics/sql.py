"""Portable SQL pieces for reading the stored conversations: SQLite and PostgreSQL, one branch each.

Events keep their body as JSON text (`conversation_events.data`). `json_text` reads one value of it:
SQLite's `json_extract` on the text as it is, PostgreSQL's `#>>` on the text cast to JSON (a CAST to JSON in
SQLite would turn the text into a number). `hour_index` is the whole hours since the epoch of a float
timestamp (SQLite truncates a positive float when casting to an integer; PostgreSQL rounds, hence `floor`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, Integer, cast, func, type_coerce
from sqlalchemy.sql.elements import ColumnElement

SUPPORTED_DIALECTS = ("sqlite", "postgresql")


def json_source(column: Any, dialect: str) -> Any:
    return cast(column, JSON) if dialect == "postgresql" else type_coerce(column, JSON)


def json_text(column: Any, dialect: str, *path: str | int) -> ColumnElement[str]:
    """The value at `path` in the JSON text `column`, as text (NULL when absent)."""
    source = json_source(column, dialect)
    return source[path].as_string() if len(path) > 1 else source[path[0]].as_string()  # type: ignore[no-any-return]


def json_float(column: Any, dialect: str, *path: str | int) -> ColumnElement[float]:
    """The number at `path` in the JSON text `column` (NULL when absent)."""
    return cast(json_text(column, dialect, *path), Float)


def hour_index(timestamp: Any, dialect: str) -> ColumnElement[int]:
    """Whole hours since the epoch of the float `timestamp` column."""
    hours = timestamp / 3600.0
    if dialect == "postgresql":
        return cast(func.floor(hours), Integer)
    return cast(hours, Integer)

"""A fresh database for a test: an SQLite file, or a PostgreSQL schema of its own in
SUPPORTBOT_TEST_POSTGRES_URL's database (skipped when that variable is unset)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

POSTGRES_URL = os.environ.get("SUPPORTBOT_TEST_POSTGRES_URL", "")


def fresh_database(kind: str, tmp_path: Path, name: str, what: str) -> Iterator[str]:
    """Yield the URL of a fresh `kind` ("sqlite" or "postgresql") database named after `name`; `what` ends the
    skip message ("set SUPPORTBOT_TEST_POSTGRES_URL to run <what> on PostgreSQL too")."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / f'{name}.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip(f"set SUPPORTBOT_TEST_POSTGRES_URL to run {what} on PostgreSQL too")
    schema = f"{name}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

"""The shop backend: the `ShopBackend` protocol, its SQL implementation and the lazy default.

`get_backend()` builds a `SqlShopBackend` from `get_settings().resolved_database_url` on first use
(never at import), creates the tables and seeds the demo data when the database is empty.
"""

from __future__ import annotations

import threading
from pathlib import Path

from bot.actions.backend.protocol import ShopBackend
from bot.actions.backend.sql import SqlShopBackend

__all__ = ["ShopBackend", "SqlShopBackend", "ensure_sqlite_folder", "get_backend", "reset_backend_cache"]

_lock = threading.Lock()
_backends: dict[str, SqlShopBackend] = {}


def get_backend(url: str | None = None) -> SqlShopBackend:
    """The process-wide backend for `url` (default: the settings' database), created and seeded once."""
    from bot.actions.backend.seed import seed
    from bot.config import get_settings

    settings = get_settings()
    target = url or settings.resolved_database_url
    with _lock:
        backend = _backends.get(target)
        if backend is None:
            ensure_sqlite_folder(target)
            backend = SqlShopBackend(target)
            seed(backend, reset=False)
            _backends[target] = backend
        return backend


def ensure_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite file database (e.g. .supportbot/) so the first run just works."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def reset_backend_cache() -> None:
    """Forget cached backends (tests; after `supportbot seed --reset` in the same process)."""
    with _lock:
        for backend in _backends.values():
            backend.dispose()
        _backends.clear()

"""Test-session setup: tests never touch the developer's `.supportbot/` state or database.

Every test session gets a fresh temporary state folder (models, indexes, SQLite database); the
embedding cache and the model store are shared with the project (they are keyed by content, so sharing is
safe) to keep integration tests fast: a model is trained once, not once per fixture. Fixtures for the
real model are session-scoped: it loads once.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_SESSION_STATE = Path(tempfile.mkdtemp(prefix="supportbot-tests-"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ["SUPPORTBOT_STATE_DIR"] = str(_SESSION_STATE / "state")
os.environ.setdefault("SUPPORTBOT_EMBEDDING_CACHE", str(ROOT / ".supportbot" / "cache" / "embeddings.sqlite"))
# Trained models are shared by content hash too (bot/model_store.py): a fixture with its own state folder
# copies the model another one trained from the same data instead of training it again (30-60 s each).
os.environ.setdefault("SUPPORTBOT_MODEL_STORE", str(ROOT / ".supportbot" / "model-store"))
os.environ["SUPPORTBOT_PROJECT_DIR"] = str(ROOT)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def real_settings() -> object:
    """Settings for the reference bot with this session's temporary state folder."""
    from bot.config import Settings

    return Settings(project_dir=ROOT, watch_knowledge=False, learning_retrain=False)


@pytest.fixture(scope="session")
def real_serving(real_settings: object) -> Iterator[object]:
    """The reference bot with the real model, trained into the session's state folder (loads once)."""
    from bot import bootstrap
    from bot.config import Settings
    from bot.dialogue.tracker_store import InMemoryTrackerStore

    assert isinstance(real_settings, Settings)
    serving = bootstrap.load_serving(real_settings, tracker_store=InMemoryTrackerStore())
    yield serving


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[object]:
    """The one Playwright driver of the run. Its sync API refuses to start while another runs in the thread,
    so every browser fixture (tests/browser, tests/reliability) launches its chromium from this one."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def live_server(real_settings: object) -> Iterator[str]:
    """The real app (model, knowledge base, database) served by uvicorn on a free loopback port."""
    from bot.config import Settings
    from server.app import create_app
    from server.testing import ServerThread

    assert isinstance(real_settings, Settings)
    with ServerThread(create_app(real_settings), timeout=180) as url:
        yield url


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run last: Playwright's sync API keeps an event loop running in the main thread
    while its session fixtures live, which would break tests that start their own loop."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)

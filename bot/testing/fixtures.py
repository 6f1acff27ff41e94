"""Helpers for testing a supportbot project with pytest: isolated assistants and fixtures.

The plugin (`bot.testing.plugin`) registers the fixtures below, so any project with supportbot
installed can write::

    def test_greeting(supportbot_conversation):
        chat = supportbot_conversation()
        turn = chat.say("hello")
        assert turn.parse.intent.name == "greet"

`supportbot_assistant` is the real bot (real model) built once per test session and shared with the
YAML cases; `make_fake_assistant(project_dir, tmp_path)` builds one with the deterministic
`FakeEncoder` for fast unit tests. Either way conversations live in memory and the shop database is
a fresh, seeded SQLite file in a temporary folder: tests never touch the developer's data.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from bot.assistant import Assistant
    from bot.encoding import Encoder
    from bot.testing.runner import ConversationDriver

DATABASE_ENV = "SUPPORTBOT_DATABASE_URL"


class IsolatedDatabase:
    """Points the shop backend (`get_backend()`, read through `get_settings()`) at a temporary
    SQLite file for as long as it is open; the previous environment is restored on `close()`."""

    #: a snapshot of the seeded data older than this is re-seeded, so data relative to "now" stays fresh
    SNAPSHOT_SECONDS = 300.0

    def __init__(self, folder: Path) -> None:
        self.path = folder / "shop.db"
        self.url = f"sqlite:///{self.path}"
        self._previous: str | None = None
        self._open = False
        self._pristine = folder / "shop.pristine.db"
        self._seeded_at: float | None = None

    def reset(self, seed: Callable[[], None]) -> None:
        """Fresh demo data: `seed()` once, then a copy of the seeded file restored before each conversation
        (milliseconds instead of seconds: re-seeding writes the whole catalogue). Re-seeded when the
        snapshot is older than `SNAPSHOT_SECONDS` or from another day."""
        now = time.time()
        fresh = self._seeded_at is not None and now - self._seeded_at < self.SNAPSHOT_SECONDS
        if fresh and time.localtime(now).tm_yday == time.localtime(self._seeded_at).tm_yday:
            _forget_cached_settings()  # the backend's pooled connections are closed before the file changes
            _copy_sqlite(self._pristine, self.path)
            return
        seed()
        _forget_cached_settings()
        # the snapshot holds every table, as a served database does (`serve` migrates): the stores that create
        # theirs on first use would lose them to the next restore
        from bot.migrations import upgrade

        upgrade(self.url)
        _copy_sqlite(self.path, self._pristine)
        self._seeded_at = now

    def open(self) -> str:
        if not self._open:
            self._previous = os.environ.get(DATABASE_ENV)
            os.environ[DATABASE_ENV] = self.url
            self._open = True
            _forget_cached_settings()
        return self.url

    def close(self) -> None:
        if not self._open:
            return
        if self._previous is None:
            os.environ.pop(DATABASE_ENV, None)
        else:
            os.environ[DATABASE_ENV] = self._previous
        self._open = False
        _forget_cached_settings()


def _forget_cached_settings() -> None:
    from bot.config import get_settings

    get_settings.cache_clear()
    try:
        from bot.actions.backend import reset_backend_cache
    except ImportError:  # a project without the reference handlers
        return
    reset_backend_cache()


def _copy_sqlite(source: Path, target: Path) -> None:
    """Copy one SQLite database onto another with SQLite's online backup (consistent under WAL)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def seeded_copy(template: Any, url: str = "sqlite://", **kwargs: Any) -> Any:
    """A new `SqlShopBackend` on `url` holding a copy of the (seeded, SQLite) `template` backend's data:
    seed once per session, copy per test (a copy takes milliseconds; a seed writes the whole catalogue).
    `kwargs` go to `SqlShopBackend` (e.g. its `clock`)."""
    from bot.actions.backend.sql import SqlShopBackend

    shop = SqlShopBackend(url, **kwargs)
    source, target = template.engine.raw_connection(), shop.engine.raw_connection()
    try:
        source.driver_connection.backup(target.driver_connection)
    finally:
        source.close()
        target.close()
    return shop


def reset_shop_data() -> None:
    """Re-seed the shop backend of the current settings (the isolated test database), so a
    conversation that cancels, returns or books starts from the same demo data as every other."""
    try:
        from bot.actions.backend import get_backend
        from bot.actions.backend.seed import seed
    except ImportError:  # a project without the reference handlers
        return
    seed(get_backend(), reset=True)


def build_assistant(
    project_dir: Path,
    *,
    encoder: Encoder | None = None,
    state_dir: Path | None = None,
    database_url: str | None = None,
    knowledge: bool = True,
    products: bool = True,
) -> Assistant:
    """An assistant for `project_dir` with an in-memory tracker store and no unanswered-question log
    (and product search over the `catalogue_provider`'s catalogue, unless `products` is False).

    `state_dir` (default: the project's own `.supportbot/`) holds the trained model and caches, which
    are reused when the data did not change. Point the shop database elsewhere with `database_url`
    or an open `IsolatedDatabase`.
    """
    from bot import bootstrap
    from bot.config import Settings
    from bot.dialogue.tracker_store import InMemoryTrackerStore

    overrides: dict[str, Any] = {"project_dir": project_dir}
    if state_dir is not None:
        overrides["state_dir"] = state_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    settings = Settings(**overrides)
    encoder = encoder or bootstrap.make_encoder(settings)
    answerer = None
    if knowledge and settings.knowledge_path.is_dir():
        from bot.faq.service import KnowledgeService
        from bot.faq.thresholds import resolve_thresholds

        service = KnowledgeService(
            settings.knowledge_path,
            encoder,
            state_path=settings.state_path,
            root=settings.project_dir,
            thresholds=resolve_thresholds(settings.kb_answer_threshold, settings.kb_suggest_threshold),
            recorder=None,  # tests must not fill the staff's list of unanswered questions
        )
        service.load()
        answerer = bootstrap.knowledge_answerer(service)
    catalogue = bootstrap.make_products(settings, encoder) if products else None
    return bootstrap.load_assistant(
        settings,
        encoder=encoder,
        tracker_store=InMemoryTrackerStore(),
        knowledge=answerer,
        products=catalogue.advisor if catalogue else None,
    )


def make_fake_assistant(project_dir: Path, state_dir: Path, *, knowledge: bool = True) -> Assistant:
    """The project's bot on the deterministic `FakeEncoder` (no model, trains in a second or two)."""
    from bot.encoding import FakeEncoder

    return build_assistant(project_dir, encoder=FakeEncoder(), state_dir=state_dir, knowledge=knowledge)


class SessionBots:
    """The real assistant of each project, built on first use and kept for the whole test session,
    with one temporary shop database for the session."""

    def __init__(self, factory: Callable[[Path], Any] | None = None) -> None:
        self._factory = factory
        self._bots: dict[Path, Any] = {}
        self._errors: dict[Path, BaseException] = {}
        self._lock = threading.Lock()
        self._folder: Path | None = None
        self._database: IsolatedDatabase | None = None

    def get(self, project_dir: Path) -> Any:
        key = project_dir.resolve()
        with self._lock:
            if key in self._errors:  # do not retry a slow failure for every case
                raise self._errors[key]
            if key not in self._bots:
                try:
                    self._bots[key] = self._build(key)
                except BaseException as e:
                    self._errors[key] = e
                    raise
            return self._bots[key]

    def _build(self, project_dir: Path) -> Any:
        if self._database is None:
            self._folder = Path(tempfile.mkdtemp(prefix="supportbot-tests-"))
            self._database = IsolatedDatabase(self._folder)
        self._database.open()
        if self._factory is not None:
            return self._factory(project_dir)
        return build_assistant(project_dir)

    def reset_data(self) -> None:
        """Fresh demo data for the next conversation (the session's temporary database only)."""
        if self._database is not None:
            self._database.open()
            self._database.reset(reset_shop_data)

    def close(self) -> None:
        self._bots.clear()
        if self._database is not None:
            self._database.close()
            self._database = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


# -- fixtures (registered by the plugin) -----------------------------------------------------------
def session_bots(config: pytest.Config) -> SessionBots:
    from bot.testing.plugin import bots_of

    return bots_of(config)


@pytest.fixture(scope="session")
def supportbot_project_dir(pytestconfig: pytest.Config) -> Path:
    """The project under test: the `supportbot_project` ini option, else pytest's rootdir."""
    value = pytestconfig.getini("supportbot_project")
    return (pytestconfig.rootpath / str(value)).resolve() if value else pytestconfig.rootpath


@pytest.fixture(scope="session")
def supportbot_assistant(pytestconfig: pytest.Config, supportbot_project_dir: Path) -> Any:
    """The real assistant (real model), built once per session and shared with the YAML cases."""
    return session_bots(pytestconfig).get(supportbot_project_dir)


@pytest.fixture
def supportbot_conversation(supportbot_assistant: Any) -> Callable[[], ConversationDriver]:
    """A factory of fresh conversations with the session's assistant: `chat = supportbot_conversation()`,
    then `turn = chat.say("hi")` (`turn.parse`, `.replies`, `.actions`, `.slots`, `.form`)."""
    from bot.testing.runner import ConversationDriver

    def new() -> ConversationDriver:
        return ConversationDriver(supportbot_assistant)

    return new


@pytest.fixture
def fake_assistant_factory(tmp_path: Path) -> Iterator[Callable[..., Assistant]]:
    """`fake_assistant_factory(project_dir)`: the project's bot on the `FakeEncoder`, with its state
    and shop database in `tmp_path`."""
    database = IsolatedDatabase(tmp_path)
    database.open()

    def make(project_dir: Path, *, knowledge: bool = True) -> Assistant:
        return make_fake_assistant(project_dir, tmp_path / "state", knowledge=knowledge)

    try:
        yield make
    finally:
        database.close()

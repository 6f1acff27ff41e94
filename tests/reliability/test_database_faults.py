"""Issue 13, item 3: a failing database is never silent.

A turn whose conversation could not be saved is never acknowledged: `POST /chat` and Rasa's REST channel
answer 503 in the JSON error shape with `Retry-After`, and `/readyz` fails, for a read-only database (from
the start, or made read-only while serving) and for a database file deleted or replaced while serving —
where SQLite would go on writing to the deleted file, lost at the next restart. When the database can
write again, turns are taken again. The bot is the reference bot on the fake encoder.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy import event as sa_event

from bot.assistant import Assistant
from bot.config import Settings
from bot.dialogue.state import ConversationState
from bot.dialogue.tracker_store import SqlTrackerStore, TrackerStoreError
from bot.testing.fixtures import IsolatedDatabase, make_fake_assistant
from server.app import create_app
from server.routes import health

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    folder = tmp_path_factory.getbasetemp() / "reliability-fake-bot"  # shared with the action tests
    folder.mkdir(exist_ok=True)
    database = IsolatedDatabase(tmp_path_factory.mktemp("shop"))
    database.open()
    try:
        bot = make_fake_assistant(ROOT, folder / "state", knowledge=False)
        original = bot.tracker_store
        yield bot
        bot.tracker_store = original
    finally:
        database.close()


@pytest.fixture(autouse=True)
def no_probe_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "DATABASE_PROBE_SECONDS", 0.0)


def store_file(tmp_path: Path) -> Path:
    return tmp_path / "conversations.db"


def open_store(file: Path) -> SqlTrackerStore:
    return SqlTrackerStore.from_url(f"sqlite:///{file}", lock_file=file.parent / "locks" / "conversations.lock")


def read_only_store(file: Path) -> SqlTrackerStore:
    """The same database opened read-only by SQLite itself (as on a read-only file or disk)."""
    return SqlTrackerStore(create_engine(f"sqlite:///file:{file}?mode=ro&uri=true"))


def serve(assistant: Assistant, store: Any, tmp_path: Path) -> TestClient:
    assistant.tracker_store = store
    app = create_app(Settings(project_dir=tmp_path, state_dir=tmp_path / "state"))
    app.state.assistant = assistant
    return TestClient(app)


_tokens: dict[str, str] = {}
"""Each conversation's token from its last `POST /chat` answer (docs/security.md)."""


def _token(sender: str) -> dict[str, str]:
    return {"X-Conversation-Token": _tokens[sender]} if sender in _tokens else {}


def assert_not_taken(client: TestClient, sender: str, text: str = "hello") -> None:
    """Both HTTP channels answer 503 in the error shape with Retry-After, and /readyz fails."""
    for path in ("/chat", "/webhooks/rest/webhook"):
        response = client.post(path, json={"sender": sender, "message": text}, headers=_token(sender))
        assert response.status_code == 503, (path, response.status_code, response.text)
        assert response.json()["error"]["code"] == "store_unavailable", path
        assert "not saved" in response.json()["error"]["message"]
        assert int(response.headers["retry-after"]) > 0
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["status"] == "not_ready"
    assert ready.json()["checks"]["database"]["status"] == "error"


def assert_taken(client: TestClient, sender: str) -> None:
    chat = client.post("/chat", json={"sender": sender, "message": "hello"}, headers=_token(sender))
    assert chat.status_code == 200 and chat.json()["replies"]
    _tokens[sender] = chat.json()["token"]
    rest = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": "hello"})
    assert rest.status_code == 200 and rest.json()
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == {"status": "ok"}


def user_texts(store: SqlTrackerStore, sender: str) -> list[str]:
    return [str(e.get("text")) for e in store.history(sender) if e["event"] == "user"]


# -- read-only ------------------------------------------------------------------------------------------
def test_a_read_only_database_refuses_turns_with_503_and_readiness_fails(assistant: Assistant, tmp_path: Path) -> None:
    file = store_file(tmp_path)
    writable = open_store(file)
    client = serve(assistant, read_only_store(file), tmp_path)
    assert_not_taken(client, "ro-customer")
    with pytest.raises(TrackerStoreError) as failed:
        client.app.state.assistant.tracker_store.check_writable()  # type: ignore[attr-defined]
    assert str(file) in str(failed.value) and "writable" in str(failed.value)
    assert "read" in failed.value.reason and str(file) not in failed.value.reason
    assert user_texts(writable, "ro-customer") == []  # nothing was acknowledged, nothing was kept

    client = serve(assistant, writable, tmp_path)  # writable again: taken again
    assert_taken(client, "ro-customer")
    assert user_texts(writable, "ro-customer") == ["hello", "hello"]


def chattr(flag: str, *files: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", flag, *map(str, files)], capture_output=True).returncode == 0


def test_a_database_made_read_only_while_serving_refuses_turns_then_recovers(
    assistant: Assistant, tmp_path: Path
) -> None:
    """The open connections themselves cannot write (an immutable file, like a disk remounted read-only)."""
    file = store_file(tmp_path)
    store = open_store(file)
    client = serve(assistant, store, tmp_path)
    assert_taken(client, "live-ro")
    locked = [file, Path(f"{file}-wal")]
    if not chattr("+i", *locked):
        pytest.skip("making the database immutable needs chattr, root and a filesystem that supports it")
    try:
        assert_not_taken(client, "live-ro", "are you there?")
    finally:
        assert chattr("-i", *locked)
    assert_taken(client, "live-ro")
    assert user_texts(store, "live-ro") == ["hello", "hello", "hello", "hello"]


# -- deleted or replaced while serving ------------------------------------------------------------------
def test_a_database_file_deleted_while_serving_is_never_acknowledged(assistant: Assistant, tmp_path: Path) -> None:
    file = store_file(tmp_path)
    store = open_store(file)
    client = serve(assistant, store, tmp_path)
    assert_taken(client, "deleted")
    file.unlink()  # the open connections would happily go on writing to the deleted file
    assert_not_taken(client, "deleted", "where is my order?")
    state = ConversationState("direct")
    with pytest.raises(TrackerStoreError) as failed:
        store.save(state)
    assert "was deleted" in str(failed.value) and str(file) in str(failed.value)
    assert "restart" in str(failed.value) and failed.value.reason == "the database file was deleted"
    assert not file.exists()


def test_a_database_file_replaced_while_serving_is_never_acknowledged(assistant: Assistant, tmp_path: Path) -> None:
    file = store_file(tmp_path)
    store = open_store(file)
    client = serve(assistant, store, tmp_path)
    assert_taken(client, "replaced")
    file.unlink()
    open_store(file)  # a new empty database at the same path (what SQLite does on the next connection)
    assert_not_taken(client, "replaced")
    with pytest.raises(TrackerStoreError) as failed:
        store.load("replaced")
    assert failed.value.reason == "the database file was replaced"


# -- readiness ------------------------------------------------------------------------------------------
def test_readiness_writes_a_probe_row_and_caches_the_outcome(
    assistant: Assistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = store_file(tmp_path)
    writes: list[str] = []
    store = open_store(file)
    sa_event.listen(store.engine, "before_cursor_execute", lambda *args: writes.append(str(args[2])))
    monkeypatch.setattr(health, "DATABASE_PROBE_SECONDS", 60.0)
    client = serve(assistant, store, tmp_path)
    for _ in range(3):
        assert client.get("/readyz").status_code == 200
    probes = [w for w in writes if w.startswith("INSERT INTO tracker_store_probe")]
    assert len(probes) == 1, writes
    with store.engine.connect() as conn:
        (checked_at,) = conn.execute(text("SELECT checked_at FROM tracker_store_probe")).one()
    assert checked_at > 0

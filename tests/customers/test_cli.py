"""`supportbot customers show|export|delete|purge` on a temporary database."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.customers.cli import customers_app
from bot.customers.identity import Identity
from bot.customers.profile import Consent
from bot.customers.sql import SqlCustomerStore
from bot.dialogue.state import ConversationState, event
from bot.dialogue.tracker_store import SqlTrackerStore

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", url)
    monkeypatch.setenv("SUPPORTBOT_STATE_DIR", str(tmp_path / "state"))
    store = SqlCustomerStore.from_url(url)
    profile = store.set_consent(Identity.email("anna@example.com"), Consent.GIVEN)
    store.remember(profile.id, {"shop": "berlin"})
    tracker = SqlTrackerStore.from_url(url)
    state = ConversationState("conv-1", session_id=1)
    state.add(event("user", text="where is my order, I am anna@example.com", timestamp=time.time() - 100 * 86400))
    state.last_activity = time.time() - 100 * 86400
    tracker.save(state)
    store.engine.dispose()
    tracker.engine.dispose()
    return url


def test_show_prints_the_profile_and_counts(database: str) -> None:
    result = runner.invoke(customers_app, ["show", "anna@example.com"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["profile"]["preferences"] == {"shop": "berlin"}
    assert shown["stored"]["conversations"] == 1 and shown["stored"]["messages"] == 1


def test_export_writes_the_complete_json(database: str, tmp_path: Path) -> None:
    target = tmp_path / "anna.json"
    result = runner.invoke(customers_app, ["export", "anna@example.com", "--output", str(target)])
    assert result.exit_code == 0, result.output
    data = json.loads(target.read_text())
    assert data["conversations"][0]["events"][0]["text"] == "where is my order, I am anna@example.com"


def test_unknown_email_is_a_clear_message_and_exit_code_1(database: str) -> None:
    for command in ("show", "export", "delete"):
        result = runner.invoke(
            customers_app,
            [command, "nobody@example.com", "--yes"] if command == "delete" else [command, "nobody@example.com"],
        )
        assert result.exit_code == 1
        assert "nothing is stored about 'nobody@example.com'" in result.output


def test_delete_asks_first_and_then_deletes(database: str) -> None:
    refused = runner.invoke(customers_app, ["delete", "anna@example.com"], input="n\n")
    assert refused.exit_code == 1 and "Nothing deleted" in refused.output
    done = runner.invoke(customers_app, ["delete", "anna@example.com"], input="y\n")
    assert done.exit_code == 0 and "customer_profiles=1" in done.output
    assert runner.invoke(customers_app, ["show", "anna@example.com"]).exit_code == 1


def test_purge_uses_the_retention_setting(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTBOT_CONVERSATION_RETENTION_DAYS", "0")
    kept = runner.invoke(customers_app, ["purge"])
    assert kept.exit_code == 0 and "kept forever" in kept.output
    monkeypatch.setenv("SUPPORTBOT_CONVERSATION_RETENTION_DAYS", "90")
    purged = runner.invoke(customers_app, ["purge"])
    assert purged.exit_code == 0 and "conversation_events=1" in purged.output
    shown = json.loads(runner.invoke(customers_app, ["show", "anna@example.com"]).stdout)
    assert shown["stored"] == {"conversations": 0, "messages": 0, "feedback": 0, "handoff_tickets": 0}

"""The server purges old conversation text when it starts (`server/app.py` includes the customers router,
whose lifespan runs `purge_conversations` at start-up, then daily): the real app with the real model."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.config import Settings
from bot.customers.retention import DAY
from bot.dialogue.state import ConversationState, event
from bot.dialogue.tracker_store import SqlTrackerStore
from server.app import create_app

pytestmark = pytest.mark.integration

WAIT_SECONDS = 60.0
"""How long the test waits for the start-up purge (it runs beside the start, not before it)."""


def conversation(store: SqlTrackerStore, sender: str, days_ago: float) -> None:
    when = time.time() - days_ago * DAY
    state = ConversationState(sender, session_id=1)
    state.add(event("user", text=f"a message of {sender}", timestamp=when))
    state.last_activity = when
    store.save(state)


def test_serve_purges_conversation_text_older_than_the_retention_at_start_up(
    real_settings: Any, tmp_path: Path
) -> None:
    assert isinstance(real_settings, Settings)
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    store = SqlTrackerStore.from_url(url)
    conversation(store, "conv-old", days_ago=40)
    conversation(store, "conv-recent", days_ago=2)
    settings = real_settings.with_overrides(database_url=url, conversation_retention_days=30)
    try:
        with TestClient(create_app(settings)):
            deadline = time.monotonic() + WAIT_SECONDS
            while store.history("conv-old") and time.monotonic() < deadline:
                time.sleep(0.1)
            assert store.history("conv-old") == [], "the server did not purge at start-up"
            assert [e["text"] for e in store.history("conv-recent")] == ["a message of conv-recent"]
    finally:
        store.engine.dispose()

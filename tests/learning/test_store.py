"""The suggestion stores (SQL on SQLite, and the in-memory fake) keep ids, decide once, and audit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.learning.errors import SuggestionDecided, SuggestionNotFound
from bot.learning.store import InMemorySuggestionStore, SqlSuggestionStore, SuggestionStore
from bot.learning.suggestions import Suggestion


def draft(key: str, count: int = 1, keys: tuple[str, ...] = ("s1",)) -> Suggestion:
    return Suggestion(key=key, kind="alternate", reason="close", count=count, examples=("how to pay",),
                      first_seen=1.0, last_seen=2.0, signals={"abstention": count}, signal_keys=keys,
                      target="payments", phrasings=("how to pay",), file="knowledge/p.md",
                      candidates=(("payments", 0.6),), base_hash="abc")  # fmt: skip


@pytest.fixture(params=["sql", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SuggestionStore:
    make: Callable[[], SuggestionStore] = {
        "sql": lambda: SqlSuggestionStore.from_url(f"sqlite:///{tmp_path / 'bot.db'}"),
        "memory": InMemorySuggestionStore,
    }[request.param]
    return make()


def test_sync_keeps_ids_for_the_same_change_and_drops_the_others(store: SuggestionStore) -> None:
    first = store.sync_open([draft("alternate:payments", 2), draft("group:a")], now=100.0)
    ids = {s.key: s.id for s in first}
    assert [s.key for s in first] == ["alternate:payments", "group:a"]  # biggest first
    again = store.sync_open([draft("alternate:payments", 5), draft("group:b")], now=200.0)
    by_key = {s.key: s for s in again}
    assert set(by_key) == {"alternate:payments", "group:b"}
    kept = by_key["alternate:payments"]
    assert kept.id == ids["alternate:payments"] and kept.count == 5
    assert (kept.created_at, kept.updated_at) == (100.0, 200.0)
    assert by_key["group:b"].id not in ids.values()  # an id is never given to another suggestion
    assert store.get(ids["group:a"] or 0) is None
    assert kept == store.get(kept.id or 0)
    assert kept.candidates == (("payments", 0.6),) and kept.phrasings == ("how to pay",) and kept.base_hash == "abc"


def test_a_decision_is_made_once_and_audited(store: SuggestionStore) -> None:
    [s] = store.sync_open([draft("alternate:payments", keys=("s1", "s2"))], now=1.0)
    decided = store.decide(s.id or 0, "accepted", "anna", 50.0, diff="+- how to pay\n", note="entry='x'")
    assert (decided.state, decided.decided_by, decided.decided_at, decided.change) == ("accepted", "anna", 50.0,
                                                                                       "+- how to pay\n")  # fmt: skip
    with pytest.raises(SuggestionDecided, match="was already accepted by anna at 1970-01-01T00:00:50"):
        store.decide(s.id or 0, "rejected", "ben", 60.0)
    with pytest.raises(SuggestionNotFound):
        store.decide(999, "rejected", "ben", 60.0)
    [record] = store.audit()
    assert (record.suggestion_id, record.action, record.by, record.at, record.diff, record.note) == (
        s.id, "accepted", "anna", 50.0, "+- how to pay\n", "entry='x'")  # fmt: skip
    assert store.decided_signal_keys() == {"s1", "s2"}
    assert store.suggestions("open") == [] and [x.id for x in store.suggestions("accepted")] == [s.id]
    # a decided suggestion is never touched by a later sync
    store.sync_open([], now=70.0)
    assert store.get(s.id or 0) == decided


def test_the_sql_tables_are_shared_by_two_stores(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    one, two = SqlSuggestionStore.from_url(url), SqlSuggestionStore.from_url(url)
    [s] = one.sync_open([draft("alternate:payments")], now=1.0)
    two.decide(s.id or 0, "rejected", "anna", 2.0)
    with pytest.raises(SuggestionDecided):
        one.decide(s.id or 0, "accepted", "ben", 3.0)


def test_conversations_are_read_from_the_tracker_store_s_events(tmp_path: Path) -> None:
    from bot.dialogue.state import ConversationState, event
    from bot.dialogue.tracker_store import SqlTrackerStore
    from bot.learning.sources import SqlConversationLog

    tracker = SqlTrackerStore.from_url(f"sqlite:///{tmp_path / 'bot.db'}")
    for sender, texts in {"b": ["hello", "where is my order"], "a": ["do you ship to mars"]}.items():
        state = ConversationState(sender)
        for n, text in enumerate(texts):
            state.add({**event("user", text=text), "timestamp": 100.0 + n})
            state.add({**event("bot", text="…"), "timestamp": 100.5 + n})
        tracker.save(state)
    log = SqlConversationLog(tracker.engine)
    read = [(sender, [e.get("text") for e in events]) for sender, events in log.conversations(since=0)]
    assert read == [("a", ["do you ship to mars", "…"]), ("b", ["hello", "…", "where is my order", "…"])]
    assert [(s, len(e)) for s, e in log.conversations(since=101.0)] == [("b", 2)]

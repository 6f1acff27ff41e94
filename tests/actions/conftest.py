"""Fixtures for the task handler tests: a fixed clock, the fixture stores file, a seeded in-memory backend,
in-memory handoff tickets."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.backend.seed import seed
from bot.actions.backend.sql import SqlShopBackend
from bot.actions.stores import load_stores
from bot.dialogue.handoff import InMemoryHandoffStore
from bot.testing.fixtures import seeded_copy

ROOT = Path(__file__).resolve().parents[2]
STORES = ROOT / "tests" / "data" / "stores.yml"
DOMAIN_FILE = ROOT / "intents" / "domain" / "tasks.yml"
NOW = datetime(2026, 12, 21, 9, 0, tzinfo=UTC)  # Monday 21 December 2026, 10:00 in Paris
TODAY = date(2026, 12, 21)


def clock() -> datetime:
    return NOW


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    data = yaml.safe_load(DOMAIN_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    events = yaml.safe_load((DOMAIN_FILE.parent / "events.yml").read_text(encoding="utf-8"))
    data["button_titles"] = {**data["button_titles"], **events["button_titles"]}  # merged, as the engine does
    customers = yaml.safe_load((DOMAIN_FILE.parent / "customers.yml").read_text(encoding="utf-8"))
    data["responses"] = {**data["responses"], **events["responses"], **customers["responses"]}
    return data


@pytest.fixture(scope="session")
def seeded_template() -> Iterator[SqlShopBackend]:
    """The demo data seeded once per session; each test gets its own copy (`backend`)."""
    shop = SqlShopBackend("sqlite://", clock=clock)
    seed(shop, reset=True, today=TODAY, stores=load_stores(STORES))
    yield shop
    shop.dispose()


@pytest.fixture
def backend(seeded_template: SqlShopBackend) -> Iterator[SqlShopBackend]:
    shop: SqlShopBackend = seeded_copy(seeded_template, clock=clock)
    yield shop
    shop.dispose()


@pytest.fixture
def handoffs() -> InMemoryHandoffStore:
    return InMemoryHandoffStore(clock)


@pytest.fixture
def deps(backend: SqlShopBackend, handoffs: InMemoryHandoffStore) -> dict[str, Any]:
    """Keyword arguments for any handler: `ActionX(**deps)`."""
    return {"backend": backend, "handoffs": handoffs, "clock": clock, "stores_path": STORES}


def make_tracker(
    *,
    text: str = "",
    intent: str = "inform",
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    candidates: dict[str, Any] | None = None,
    active_loop: str | None = None,
    events: list[dict[str, Any]] | None = None,
) -> Tracker:
    """A tracker as the engine sends it; `candidates` are slot values just extracted (validated by forms)."""
    all_slots = {**(slots or {}), **(candidates or {})}
    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": entities or [],
        "intent_ranking": [{"name": intent, "confidence": 0.99}],
    }
    history = list(events or []) + [{"event": "user", "text": text, "parse_data": parse}]
    history += [{"event": "slot", "name": k, "value": v} for k, v in (candidates or {}).items()]
    return Tracker.from_dict(
        {
            "sender_id": "test-user",
            "slots": all_slots,
            "latest_message": parse,
            "events": history,
            "paused": False,
            "followup_action": None,
            "active_loop": {"name": active_loop} if active_loop else {},
            "latest_action_name": "action_listen",
        }
    )


def entity(name: str, value: Any, text: str = "", source: str = "") -> dict[str, Any]:
    """An entity in Rasa's shape; `source` is the message, so start/end point at `text` in it."""
    start = source.find(text) if text and source else -1
    item: dict[str, Any] = {"entity": name, "value": value, "extractor": "test"}
    if start >= 0:
        item.update(start=start, end=start + len(text))
    return item


@dataclass
class Result:
    events: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    slots: dict[str, Any] = field(default_factory=dict)

    @property
    def responses(self) -> list[str]:
        return [str(m.get("response")) for m in self.messages]

    def message(self, response: str) -> dict[str, Any]:
        return next(m for m in self.messages if m.get("response") == response)


def run_action(action: Action, tracker: Tracker, domain: dict[str, Any]) -> Result:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, domain))
    for message in dispatcher.messages:  # every response a handler utters must exist and get its placeholders
        name = message.get("response")
        assert name in domain["responses"], f"response {name} is not defined in intents/domain/tasks.yml"
        for variation in domain["responses"][name]:
            text = str(variation.get("text", "")).replace("{{", "").replace("}}", "")
            missing = set(re.findall(r"\{(\w+)\}", text)) - set(message) - set(tracker.slots)
            assert not missing, f"{name} needs {sorted(missing)}, which the handler did not pass"
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    return Result(events, dispatcher.messages, slots)

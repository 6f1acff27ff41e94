"""Fixtures for customer memory: the reference bot's domain driven with hand-made parses (no model), a fake
action runner that verifies orders like the shop does, and stores in memory or in a temporary database."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.customers.identity import VERIFIED_EMAIL_SLOT
from bot.customers.store import InMemoryCustomerStore
from bot.dialogue.action_runner import ActionResult
from bot.dialogue.engine import DialogueEngine, Turn
from bot.dialogue.memory import MemoryConfig
from bot.dialogue.state import ConversationState
from bot.domain import Domain
from bot.intents_loader import load_intents
from bot.responses import ResponseRenderer
from bot.types import Entity, IntentScore, Parse, Reply

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-secret-for-customer-tokens-0123456789"
NOW = 1_800_000_000.0
ORDERS = {("AN-10001", "anna@example.com"), ("AN-10003", "ben@example.com")}


@pytest.fixture(scope="session")
def project() -> Any:
    loaded = load_intents(ROOT / "intents", root=ROOT)
    assert not loaded.errors, loaded.errors
    return loaded


class ShopRunner:
    """The reference shop's actions as far as memory cares: the order form verifies a matching pair (and
    sets `verified_email`, as `bot.actions.verification` does); hours name the shop they answered for."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def actions(self) -> set[str]:
        return {"validate_order_status_form", "action_order_status", "action_store_hours"}

    def run(self, name: str, sender_id: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionResult:
        slots = tracker["slots"]
        self.calls.append((name, dict(slots)))
        if name == "validate_order_status_form":
            pair = (slots.get("order_number"), slots.get("order_email"))
            if pair in ORDERS:
                return ActionResult(events=[{"event": "slot", "name": VERIFIED_EMAIL_SLOT, "value": pair[1]}])
        if name == "action_order_status":
            return ActionResult(responses=[{"text": f"Order {slots.get('order_number')} has shipped."}])
        if name == "action_store_hours":
            shop = slots.get("shop") or slots.get("customer_shop") or "every shop"
            return ActionResult(responses=[{"text": f"Hours of {shop}."}])
        return ActionResult()


@dataclass
class Chat:
    """One customer's conversation with the engine; `new_session()` is what a session expiry does."""

    engine: DialogueEngine
    state: ConversationState
    replies: list[Reply] = field(default_factory=list)

    def say(
        self,
        intent: str,
        text: str = "",
        entities: Sequence[tuple[str, Any]] = (),
        *,
        metadata: dict[str, Any] | None = None,
        language: str | None = None,
    ) -> list[Reply]:
        text = text or intent
        found = tuple(_entity(text, name, value) for name, value in entities)
        parse = Parse(text, IntentScore(intent, 0.95), found, (IntentScore(intent, 0.95),), language=language)
        self.replies = self.engine.handle(self.state, Turn(parse, None, "test", metadata or {}))
        return self.replies

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.replies)

    @property
    def said(self) -> list[str]:
        return [r.response for r in self.replies]

    def new_session(self) -> None:
        self.state.session_id += 1
        self.state.slots = {}
        self.state.events = []
        self.state.active_loop = None


def _entity(text: str, name: str, value: Any) -> Entity:
    shown = str(value)
    start = text.lower().find(shown.lower())
    start = max(start, 0)
    return Entity(name, value, start, start + len(shown), "test", shown)


@dataclass
class Bot:
    engine: DialogueEngine
    store: InMemoryCustomerStore
    runner: ShopRunner

    def chat(self, sender: str = "sender-1") -> Chat:
        state = ConversationState(sender)
        state.session_id = 1
        return Chat(self.engine, state)


def make_bot(
    project: Any, store: Any = None, *, secret: str | None = SECRET, enabled: bool = True, write_behind: bool = False
) -> Bot:
    domain: Domain = project.domain
    runner = ShopRunner()
    store = store if store is not None else InMemoryCustomerStore(clock=lambda: NOW)
    engine = DialogueEngine(
        domain,
        ResponseRenderer(domain.responses, seed=0),
        runner,
        intents=project.data.intents,
        entities=["shop", "size", "email", "order_number", "category"],
        customers=MemoryConfig(store, secret, enabled, write_behind=write_behind),
    )
    engine.memory.clock = lambda: NOW
    return Bot(engine, store, runner)


@pytest.fixture
def bot(project: Any) -> Bot:
    return make_bot(project)


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'bot.db'}"

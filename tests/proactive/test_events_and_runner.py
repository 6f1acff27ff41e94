"""External events: the catalog's checks, and running an event's rule in a conversation (fake actions)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from bot.assistant import Assistant
from bot.dialogue.action_runner import ActionResult
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.tracker_store import InMemoryTrackerStore
from bot.encoding import FakeEncoder
from bot.intents_loader import load_intents
from bot.proactive.errors import EventEntityError, UnknownEventError
from bot.proactive.events import EventCatalog
from bot.proactive.outbox import InMemoryOutbox
from bot.proactive.reminders import InMemoryScheduler
from bot.proactive.service import ProactiveService
from bot.responses import ResponseRenderer

DOMAIN = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - hello
    - hey
- intent: goodbye
  examples: |
    - bye
    - goodbye
    - see you
external_events:
  EXTERNAL_order_shipped:
    entities:
      order_number: {type: text, required: true}
      delivery_date: {type: date}
      parcels: {type: number}
  EXTERNAL_ping:
    entities: {}
rules:
- rule: greet
  steps: [{intent: greet}, {action: utter_greet}]
- rule: shipped
  steps: [{intent: EXTERNAL_order_shipped}, {action: action_order_shipped}]
- rule: ping
  steps: [{intent: EXTERNAL_ping}, {action: utter_ping}]
responses:
  utter_greet:
  - text: "Hello!"
  utter_ping:
  - text: "Ping from the shop."
"""


class ShippedRunner:
    """Says which order shipped, read from the entities in `latest_message` (as the real action does)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def actions(self) -> set[str]:
        return {"action_order_shipped"}

    def run(self, name: str, sender_id: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionResult:
        self.calls.append(tracker)
        entities = {e["entity"]: e["value"] for e in tracker["latest_message"]["entities"]}
        return ActionResult([], [{"text": f"{entities['order_number']} shipped", "buttons": []}])


@pytest.fixture
def service(tmp_path: Path) -> ProactiveService:
    folder = tmp_path / "intents"
    folder.mkdir()
    (folder / "domain.yml").write_text(DOMAIN)
    project = load_intents(folder, root=tmp_path)
    assert not project.errors, project.errors
    renderer = ResponseRenderer(project.domain.responses, seed=0)
    engine = DialogueEngine(project.domain, renderer, ShippedRunner(), intents=["greet", "goodbye"], entities=[])
    assistant = Assistant(
        encoder=FakeEncoder(),
        nlu=cast(Any, None),
        engine=engine,
        renderer=renderer,
        tracker_store=InMemoryTrackerStore(),
    )
    return ProactiveService(assistant, InMemoryOutbox(), InMemoryScheduler())


def test_catalog_refuses_unknown_event_and_names_the_known_ones(service: ProactiveService) -> None:
    with pytest.raises(UnknownEventError, match="EXTERNAL_order_shipped"):
        service.catalog.check("EXTERNAL_nope", {})


@pytest.mark.parametrize(
    ("entities", "complaint"),
    [
        ({}, "'order_number' is required"),
        ({"order_number": 12}, "'order_number' must be a non-empty string"),
        ({"order_number": "AN-1", "delivery_date": "Thursday"}, "YYYY-MM-DD"),
        ({"order_number": "AN-1", "parcels": "two"}, "'parcels' must be a number"),
        ({"order_number": "AN-1", "colour": "red"}, "'colour' is not an entity"),
    ],
)
def test_catalog_refuses_bad_entities(service: ProactiveService, entities: dict[str, Any], complaint: str) -> None:
    with pytest.raises(EventEntityError, match=complaint):
        service.catalog.check("EXTERNAL_order_shipped", entities)


def test_catalog_reads_the_domain_section() -> None:
    catalog = EventCatalog.from_domain_extras({"external_events": {"EXTERNAL_x": {"entities": {"n": "number"}}}})
    assert catalog.check("EXTERNAL_x", {"n": 2.5}) == {"n": 2.5}
    assert catalog.check("EXTERNAL_x", {}) == {}


def test_event_runs_its_rule_stores_the_message_and_queues_it(service: ProactiveService) -> None:
    triggered = service.send_event("anna", "EXTERNAL_order_shipped", {"order_number": "AN-10001"})
    assert [r.text for r in triggered.replies] == ["AN-10001 shipped"]
    history = service.assistant.history("anna")
    user = [e for e in history if e["event"] == "user"]
    assert user[-1]["text"] == "EXTERNAL: EXTERNAL_order_shipped"
    assert user[-1]["metadata"]["is_external"] is True
    assert [e["text"] for e in history if e["event"] == "bot"] == ["AN-10001 shipped"]
    pending = service.outbox.pending(["anna"], since=0)
    assert [item.replies[0]["text"] for item in pending] == ["AN-10001 shipped"]
    assert pending[0].replies[0]["id"] == triggered.replies[0].id


def test_event_with_a_response_rule_needs_no_action(service: ProactiveService) -> None:
    triggered = service.send_event("bo", "EXTERNAL_ping", {})
    assert [r.text for r in triggered.replies] == ["Ping from the shop."]


def test_refused_event_stores_nothing(service: ProactiveService) -> None:
    with pytest.raises(EventEntityError):
        service.send_event("carl", "EXTERNAL_order_shipped", {"order_number": ""})
    with pytest.raises(UnknownEventError):
        service.send_event("carl", "EXTERNAL_nope", {})
    assert service.assistant.tracker_store.load("carl") is None
    assert service.outbox.pending(["carl"], since=0) == []

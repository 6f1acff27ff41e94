"""A small bot for the proactive tests: a domain with two external events, the real dialogue engine and
`Assistant`, no model (`FakeEncoder`; the events never go through the NLU)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from bot.assistant import Assistant
from bot.dialogue.action_runner import ActionResult
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.tracker_store import TrackerStore
from bot.encoding import FakeEncoder
from bot.intents_loader import load_intents
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
  EXTERNAL_fitting_reminder:
    entities:
      shop: {type: text}
  EXTERNAL_order_shipped:
    entities:
      order_number: {type: text, required: true}
      parcels: {type: number}
rules:
- rule: remind
  steps: [{intent: EXTERNAL_fitting_reminder}, {action: utter_fitting_reminder}]
- rule: shipped
  steps: [{intent: EXTERNAL_order_shipped}, {action: utter_order_shipped}]
responses:
  utter_fitting_reminder:
  - text: "Your fitting is tomorrow."
  utter_order_shipped:
  - text: "Your order has shipped."
"""


class NoActions:
    def actions(self) -> set[str]:
        return set()

    def run(self, name: str, sender_id: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionResult:
        raise AssertionError(f"no action runs here ({name})")


def fake_assistant(folder: Path, tracker_store: TrackerStore, clock: Callable[[], float] = time.time) -> Assistant:
    """The assistant of DOMAIN (written into `folder`/intents) on `tracker_store`."""
    intents = folder / "intents"
    intents.mkdir(parents=True, exist_ok=True)
    (intents / "domain.yml").write_text(DOMAIN)
    project = load_intents(intents, root=folder)
    assert not project.errors, project.errors
    renderer = ResponseRenderer(project.domain.responses, seed=0)
    engine = DialogueEngine(project.domain, renderer, NoActions(), intents=["greet", "goodbye"], entities=[])
    return Assistant(
        encoder=FakeEncoder(),
        nlu=cast(Any, None),
        engine=engine,
        renderer=renderer,
        tracker_store=tracker_store,
        clock=clock,
    )

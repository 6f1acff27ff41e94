"""For the tests of the YAML case format and its runner: a scripted assistant (what the runner needs:
`parse`, `handle_full`, `tracker_store`) and fixtures that write a case file into `tmp_path` and read it
back, shown as `SHOWN`."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.errors import DataError
from bot.testing.cases import CaseFile, ConversationCase, load_case_file
from bot.testing.runner import CaseFailure, run_case
from bot.types import Button, IntentScore, Message, Parse, Reply

SHOWN = "intents/tests/customers/booking.yml"
TUESDAY = '/inform{"time": "2026-12-22"}'
WEDNESDAY = '/inform{"time": "2026-12-23"}'


@dataclass(frozen=True)
class Scripted:
    """What the bot does with one message: its intent, the actions it runs and its replies."""

    intent: str
    replies: tuple[Reply, ...]
    actions: tuple[str, ...] = ()


DONT_KNOW = Scripted(
    "nlu_fallback",
    (Reply("Sorry, I didn't get that.", buttons=(Button("Talk to a person", "/human_handoff"),)),),
    ("utter_default",),
)
SCRIPT = {
    "hello": Scripted("greet", (Reply("Hello! How can I help?"),), ("utter_greet",)),
    "book a fitting": Scripted(
        "book_appointment",
        (
            Reply(
                "Which day suits you?",
                buttons=(Button("Tuesday 22 December", TUESDAY), Button("Wednesday 23 December", WEDNESDAY)),
            ),
        ),
        ("appointment_form",),
    ),
    TUESDAY: Scripted("inform", (Reply("On Tuesday I have 10:00 and 11:00."),), ("appointment_form",)),
    WEDNESDAY: Scripted("inform", (Reply("On Wednesday I have 15:00."),), ("appointment_form",)),
    "what?": Scripted("inform", (Reply("On Wednesday I have 15:00."),), ("appointment_form",)),
}


@dataclass
class State:
    sender_id: str
    events: list[dict[str, Any]] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    active_loop: str | None = None


class Store:
    def __init__(self) -> None:
        self.states: dict[str, State] = {}

    def load(self, sender_id: str) -> State | None:
        return self.states.get(sender_id)


@dataclass(frozen=True)
class Handled:
    parse: Parse
    replies: list[Reply]


class ScriptedAssistant:
    def __init__(self) -> None:
        self.tracker_store = Store()
        self.received: list[str] = []
        self.parsed: list[str] = []

    def parse(self, text: str) -> Parse:
        self.parsed.append(text)
        intent = IntentScore(SCRIPT.get(text, DONT_KNOW).intent, 0.9)
        return Parse(text, intent, (), (intent,), abstained=intent.name == "nlu_fallback")

    def handle_full(self, message: Message) -> Handled:
        self.received.append(message.text)
        scripted = SCRIPT.get(message.text, DONT_KNOW)
        state = self.tracker_store.states.setdefault(message.sender_id, State(message.sender_id))
        state.events.append({"event": "user", "text": message.text})
        state.events.extend({"event": "action", "name": name} for name in (*scripted.actions, "action_listen"))
        state.active_loop = "appointment_form" if "appointment_form" in scripted.actions else None
        return Handled(self.parse(message.text), list(scripted.replies))


@pytest.fixture
def bot() -> ScriptedAssistant:
    return ScriptedAssistant()


@pytest.fixture
def load(tmp_path: Path) -> Callable[..., CaseFile]:
    """`load(text, name="booking.yml")`: the cases of that file (dedented), shown as `SHOWN`."""

    def read(text: str, name: str = "booking.yml") -> CaseFile:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return load_case_file(path, SHOWN)

    return read


@pytest.fixture
def problems_of(load: Callable[..., CaseFile]) -> Callable[[str], list[str]]:
    """`problems_of(text)`: every problem of a case file that does not load, as printed."""

    def problems(text: str) -> list[str]:
        with pytest.raises(DataError) as info:
            load(text)
        return [str(p) for p in info.value.problems]

    return problems


@pytest.fixture
def conversation(load: Callable[..., CaseFile]) -> Callable[..., ConversationCase]:
    """`conversation(steps, defaults="")`: the one conversation `booking` of these step lines."""

    def read(steps: str, defaults: str = "") -> ConversationCase:
        body = textwrap.indent(textwrap.dedent(steps).lstrip("\n"), "  ")
        text = defaults + "conversations:\n- name: booking\n  steps:\n" + body
        (case,) = load(text).cases
        assert isinstance(case, ConversationCase)
        return case

    return read


@pytest.fixture
def run(bot: ScriptedAssistant, conversation: Callable[..., ConversationCase]) -> Callable[..., CaseFailure | None]:
    """`run(steps, defaults="")`: run that conversation against the scripted assistant."""

    def run_steps(steps: str, defaults: str = "") -> CaseFailure | None:
        return run_case(bot, conversation(steps, defaults))

    return run_steps

"""While an offline handoff waits for the team, a message with an email runs the shop's note-email action;
any other message, or one while the team is open or an agent holds the chat, gets what it got before."""

from __future__ import annotations

from typing import Any

from bot.dialogue.action_runner import ActionResult
from bot.dialogue.engine import DialogueEngine, Turn
from bot.dialogue.state import ConversationState
from bot.responses import ResponseRenderer
from bot.types import Entity, IntentScore, Parse
from tests.customers.conftest import project as project  # noqa: F401  (the reference domain)


class Runner:
    def __init__(self) -> None:
        self.ran: list[str] = []

    def actions(self) -> set[str]:
        return {"action_handoff_note_email"}

    def run(self, name: str, sender_id: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionResult:
        self.ran.append(name)
        return ActionResult(responses=[{"text": "noted"}])


def say(engine: DialogueEngine, state: ConversationState, text: str, email: str | None = None) -> list[str]:
    entities = (Entity("email", email, 0, len(email), "test", email),) if email else ()
    parse = Parse(text, IntentScore("inform", 0.9), entities, (IntentScore("inform", 0.9),))
    return [r.text for r in engine.handle(state, Turn(parse, None, "test", {}))]


def test_an_email_while_waiting_offline_is_noted_else_the_waiting_notice(project: Any) -> None:  # noqa: F811
    runner = Runner()
    renderer = ResponseRenderer(project.domain.responses, seed=0)
    engine = DialogueEngine(project.domain, renderer, runner, intents=project.data.intents, entities=["email"])
    state = ConversationState("s1", paused=True)
    state.slots.update({"handoff_ticket": "7", "handoff_offline": True})
    assert say(engine, state, "ana@example.org", "ana@example.org") == ["noted"]
    assert runner.ran == ["action_handoff_note_email"]
    assert say(engine, state, "hello?") != ["noted"] and runner.ran == ["action_handoff_note_email"]
    state.slots["handoff_offline"] = False  # the team is open: the waiting notice
    assert say(engine, state, "ana@example.org", "ana@example.org") != ["noted"]
    state.slots.update({"handoff_offline": True, "handoff_agent": "Maria"})  # an agent holds it: quiet
    assert say(engine, state, "ana@example.org", "ana@example.org") == []
    assert runner.ran == ["action_handoff_note_email"]

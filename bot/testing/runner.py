"""Runs YAML test cases against an assistant and explains failures at a glance.

`run_case(assistant, case)` returns `None` when the case passes and a `CaseFailure` (whose text is
what pytest prints) when it does not. The assistant is anything with `parse`, `handle_full` and a
`tracker_store` — the real `bot.assistant.Assistant` or a fake. What a turn did is a `TurnResult`
(`bot.testing.turn`), checked by `bot.testing.checks` and explained by `bot.testing.explain`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from bot.testing.case_types import ConversationCase, MessageCase, Step
from bot.testing.checks import Mismatch, check
from bot.testing.explain import explain, summarise
from bot.testing.turn import FALLBACK_ACTIONS, OUT_OF_SCOPE_INTENTS, TurnResult, answered_entry, is_repeat

__all__ = [
    "FALLBACK_ACTIONS",
    "OUT_OF_SCOPE_INTENTS",
    "AssistantLike",
    "CaseFailure",
    "ConversationDriver",
    "Mismatch",
    "NoSuchButton",
    "TurnResult",
    "answered_entry",
    "check",
    "is_repeat",
    "run_case",
    "run_step",
]

_SKIPPED_ACTIONS = frozenset({"action_listen", "action_session_start"})


class _State(Protocol):
    slots: dict[str, Any]
    events: list[dict[str, Any]]
    active_loop: str | None


class AssistantLike(Protocol):
    """What the runner needs of an assistant (`bot.assistant.Assistant` has all of it)."""

    @property
    def tracker_store(self) -> Any: ...

    def parse(self, text: str) -> Any: ...

    def handle_full(self, message: Any) -> Any: ...


class CaseFailure(Exception):
    """A YAML case whose expectations were not met; `str()` is the full explanation."""

    def __init__(self, text: str, mismatches: Sequence[Mismatch], turn: TurnResult) -> None:
        super().__init__(text)
        self.text = text
        self.mismatches = tuple(mismatches)
        self.turn = turn


class NoSuchButton(LookupError):
    """A `click` step named a button the bot did not offer in its previous turn."""


class ConversationDriver:
    """Talks to an assistant as one customer and records what each turn did."""

    def __init__(self, assistant: AssistantLike, sender_id: str | None = None) -> None:
        self.assistant = assistant
        self.sender_id = sender_id or f"test-{uuid.uuid4().hex[:12]}"
        self.transcript: list[TurnResult] = []

    def button(self, which: int | str) -> Any:
        """A button of the bot's previous turn: the N-th (1-based), or the first whose title contains
        the text (any case); the replies' buttons first, then the product cards' (the first card's
        first). Raises `NoSuchButton` listing what was offered."""
        last = self.transcript[-1] if self.transcript else None
        offered = [*last.buttons, *(b for c in last.cards for b in c.buttons)] if last else []
        if isinstance(which, int):
            if 1 <= which <= len(offered):
                return offered[which - 1]
        else:
            wanted = which.lower()
            found = next((b for b in offered if wanted in str(b.title).lower()), None)
            if found is not None:
                return found
        titles = "; ".join(f"{i}. {b.title}" for i, b in enumerate(offered, 1)) or "no buttons"
        raise NoSuchButton(f"no button {which!r} in the bot's previous turn (offered: {titles})")

    def click(self, which: int | str) -> TurnResult:
        """Press a button of the previous turn: its payload is sent exactly as the web widget sends it."""
        button = self.button(which)
        turn = self.say(str(button.payload))
        turn.clicked = str(button.title)
        return turn

    def say(self, text: str) -> TurnResult:
        from bot.types import Message

        before = self._state()
        seen = len(before.events) if before is not None else 0
        result = self.assistant.handle_full(Message(self.sender_id, text, input_channel="test"))
        state = self._state()
        events = list(state.events) if state is not None else []
        if len(events) < seen:  # a new session started: every event is new
            seen = 0
        actions = [
            str(e.get("name"))
            for e in events[seen:]
            if e.get("event") == "action" and e.get("name") not in _SKIPPED_ACTIONS
        ]
        turn = TurnResult(
            text=text,
            parse=result.parse,
            replies=list(result.replies),
            actions=actions,
            slots=dict(state.slots) if state is not None else {},
            form=state.active_loop if state is not None else None,
            dialogue=True,
        )
        self.transcript.append(turn)
        return turn

    def _state(self) -> _State | None:
        state: _State | None = self.assistant.tracker_store.load(self.sender_id)
        return state


def run_step(assistant: AssistantLike, step: Step, driver: ConversationDriver | None = None) -> TurnResult:
    if driver is None and not step.expect.needs_dialogue and step.click is None:
        return TurnResult(step.user, assistant.parse(step.user))
    driver = driver or ConversationDriver(assistant)
    return driver.click(step.click) if step.click is not None else driver.say(step.user)


def run_case(
    assistant: AssistantLike,
    case: MessageCase | ConversationCase,
    *,
    before_conversation: Callable[[], None] | None = None,
) -> CaseFailure | None:
    """Run one case; `before_conversation` runs first for a conversation (e.g. re-seed the shop data)."""
    if isinstance(case, MessageCase):
        turn = run_step(assistant, case.step)
        mismatches = check(case.step.expect, turn)
        if not mismatches:
            return None
        header = f"{summarise(mismatches)}\n  at {case.file}:{case.line}"
        return CaseFailure(explain(header, case.step, turn, mismatches, assistant), mismatches, turn)
    if before_conversation is not None:
        before_conversation()
    driver = ConversationDriver(assistant)
    for number, step in enumerate(case.steps, 1):
        previous = driver.transcript[-1] if driver.transcript else None
        try:
            turn = run_step(assistant, step, driver)
        except NoSuchButton as e:
            turn = TurnResult(step.shown, None, dialogue=True)
            mismatches = [Mismatch("button", str(step.click), str(e))]
        else:
            mismatches = check(step.expect, turn, previous)
        if mismatches:
            header = (
                f"step {number} of {len(case.steps)}: {summarise(mismatches)}\n"
                f"  at {case.file}:{step.line} (conversation '{case.name}')"
            )
            earlier = (
                driver.transcript[:-1] if driver.transcript and driver.transcript[-1] is turn else driver.transcript
            )
            text = explain(header, step, turn, mismatches, assistant, transcript=earlier)
            return CaseFailure(text, mismatches, turn)
    return None

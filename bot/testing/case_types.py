"""YAML test cases in memory: what one message should lead to, steps, cases and files.

Value objects only; `bot.testing.cases` reads them from a file, `bot.testing.runner` runs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ANY_VALUE = "*"
"""An expected entity or slot value that matches any value (e.g. dates relative to today)."""

NOT_CHECKED = object()
"""`Expectation.form` when the active form is not checked (None means: no form may be active)."""


@dataclass(frozen=True)
class Expectation:
    """What should happen after one user message. `None` = not checked."""

    intent: str | None = None
    entities: tuple[tuple[str, Any], ...] | None = None
    abstain: bool | None = None
    entry: str | None = None
    actions_include: tuple[str, ...] = ()
    actions_exact: tuple[str, ...] | None = None
    slots: Mapping[str, Any] = field(default_factory=dict)
    form: str | None | object = NOT_CHECKED  # NOT_CHECKED = not checked; None = no form active
    reply_contains: tuple[str, ...] = ()
    reply_contains_any: tuple[str, ...] = ()
    reply_not_contains: tuple[str, ...] = ()
    buttons: bool | tuple[str, ...] | None = None  # True: some buttons; False: none; texts: these titles
    understood: bool | None = None  # True: no fallback, no error, no repeat of the previous turn
    cards: bool | tuple[str, ...] | None = None  # True: some product cards; False: none; texts: in a card's title or id
    cards_not: tuple[str, ...] = ()  # texts no card's title, SKU or subtitle may contain

    @property
    def checks_form(self) -> bool:
        return self.form is not NOT_CHECKED

    @property
    def needs_dialogue(self) -> bool:
        """Does checking this need the whole bot (dialogue, actions, knowledge) or only NLU?"""
        return bool(
            self.entry
            or self.actions_include
            or self.actions_exact is not None
            or self.slots
            or self.checks_form
            or self.reply_contains
            or self.reply_contains_any
            or self.reply_not_contains
            or self.buttons is not None
            or self.understood is not None
            or self.cards is not None
            or bool(self.cards_not)
        )


@dataclass(frozen=True)
class Step:
    """One customer turn: a typed message (`user`) or a press of a button the bot offered in its
    previous turn (`click`: the 1-based position, or text the button's title contains)."""

    user: str
    expect: Expectation
    line: int
    click: int | str | None = None

    @property
    def shown(self) -> str:
        """How the step reads in a failure: the text, or `[clicks "title"]`."""
        if self.click is None:
            return self.user
        return f"[clicks button {self.click}]" if isinstance(self.click, int) else f'[clicks "{self.click}"]'


@dataclass(frozen=True)
class Marks:
    names: tuple[str, ...] = ()
    xfail: str | None = None  # the reason, when the case is a known failure


@dataclass(frozen=True)
class MessageCase:
    """One message in a fresh conversation."""

    name: str
    file: str
    line: int
    step: Step
    marks: Marks = Marks()

    @property
    def kind(self) -> str:
        return "knowledge" if self.step.expect.entry else "nlu"


@dataclass(frozen=True)
class ConversationCase:
    name: str
    file: str
    line: int
    steps: tuple[Step, ...]
    marks: Marks = Marks()

    @property
    def kind(self) -> str:
        return "conversation"


Case = MessageCase | ConversationCase


@dataclass(frozen=True)
class CaseFile:
    path: Path
    display: str
    cases: tuple[Case, ...]

"""Running YAML cases (`bot.testing.runner`) against a scripted assistant: button clicks, the
conversation driver, failures that name their step and location, the reset hook, and message cases
that need the whole dialogue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.testing.cases import CaseFile, ConversationCase
from bot.testing.runner import CaseFailure, ConversationDriver, NoSuchButton, run_case

SHOWN = "intents/tests/customers/booking.yml"  # how the `load` fixture shows the file
TUESDAY = '/inform{"time": "2026-12-22"}'  # the payloads of the scripted assistant's day buttons
WEDNESDAY = '/inform{"time": "2026-12-23"}'
Load = Callable[..., CaseFile]
Conversation = Callable[..., ConversationCase]
Run = Callable[..., CaseFailure | None]


def test_a_click_sends_the_buttons_payload(bot: Any, run: Run) -> None:
    failure = run(
        """
        - user: book a fitting
          buttons: [tuesday, wednesday]
        - click: 2
          reply_contains: "15:00"
          understood: true
        """,
    )
    assert failure is None
    assert bot.received == ["book a fitting", WEDNESDAY]


def test_a_click_by_title_text_ignores_case(bot: Any, run: Run) -> None:
    steps = '- user: book a fitting\n  buttons: true\n- click: "TUESDAY 22"\n  reply_contains: "10:00"\n'
    failure = run(steps)
    assert failure is None
    assert bot.received == ["book a fitting", TUESDAY]


def test_the_driver_records_the_pressed_title(bot: Any) -> None:
    driver = ConversationDriver(bot)
    driver.say("book a fitting")
    turn = driver.click("wednesday")
    assert (turn.text, turn.clicked) == (WEDNESDAY, "Wednesday 23 December")
    assert turn.actions == ["appointment_form"]


@pytest.mark.parametrize("which", [3, "friday"])
def test_a_missing_button_raises_listing_what_was_offered(bot: Any, which: int | str) -> None:
    driver = ConversationDriver(bot)
    driver.say("book a fitting")
    with pytest.raises(NoSuchButton) as info:
        driver.button(which)
    assert str(info.value) == (
        f"no button {which!r} in the bot's previous turn (offered: 1. Tuesday 22 December; 2. Wednesday 23 December)"
    )


def test_a_click_before_any_turn_finds_no_buttons(bot: Any) -> None:
    with pytest.raises(NoSuchButton, match=r"offered: no buttons"):
        ConversationDriver(bot).click(1)
    assert bot.received == []


def test_a_missing_button_fails_the_step_with_its_location(bot: Any, run: Run) -> None:
    failure = run("- user: book a fitting\n  buttons: true\n- click: 3\n  understood: true\n")
    assert failure is not None
    assert [(m.what, m.expected) for m in failure.mismatches] == [("button", "3")]
    assert "offered: 1. Tuesday 22 December; 2. Wednesday 23 December" in failure.mismatches[0].actual
    assert failure.text.startswith("step 2 of 2: button: expected 3, got no button 3")
    assert f"  at {SHOWN}:6 (conversation 'booking')" in failure.text
    assert "  user: [clicks button 3]" in failure.text
    assert bot.received == ["book a fitting"]


def test_file_defaults_are_checked_on_every_step(run: Run) -> None:
    defaults = "defaults:\n  understood: true\n"
    assert run("- user: hello\n- user: blorf\n  understood: false\n", defaults) is None
    failure = run("- user: hello\n- user: blorf\n", defaults)
    assert failure is not None
    assert failure.text.startswith("step 2 of 2: understood:")
    assert f"  at {SHOWN}:7 (conversation 'booking')" in failure.text


def test_each_conversation_starts_with_the_reset_hook(bot: Any, conversation: Conversation, load: Load) -> None:
    calls: list[int] = []
    case = conversation("- user: hello\n  understood: true\n")
    assert run_case(bot, case, before_conversation=lambda: calls.append(len(bot.received))) is None
    assert calls == [0]  # before the first message
    (message,) = load("cases:\n- text: hello\n  understood: true\n", "cases.yml").cases
    assert run_case(bot, message, before_conversation=lambda: calls.append(-1)) is None
    assert calls == [0]  # a single-message case has no conversation to reset


def test_a_message_case_with_dialogue_expectations_runs_the_dialogue(bot: Any, load: Load) -> None:
    (case,) = load("cases:\n- text: book a fitting\n  buttons: [tuesday]\n").cases
    assert run_case(bot, case) is None
    assert bot.received == ["book a fitting"]
    (nlu_only,) = load("cases:\n- text: hello\n  intent: greet\n", "nlu.yml").cases
    bot.received.clear()
    assert run_case(bot, nlu_only) is None
    assert bot.received == [] and bot.parsed[-1] == "hello"

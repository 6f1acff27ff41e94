"""Checking a turn against its expectation (`bot.testing.checks`): replies, buttons and `understood`,
each unmet expectation one mismatch."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.testing.runner import CaseFailure

Run = Callable[..., CaseFailure | None]


def mismatches(failure: CaseFailure | None) -> list[tuple[str, str]]:
    assert failure is not None, "the case passed"
    return [(m.what, m.expected) for m in failure.mismatches]


@pytest.mark.parametrize(
    ("expectation", "failed"),
    [
        ("reply_contains_any: [assist, help]", None),
        ("reply_contains_any: [HOW CAN]", None),
        ("reply_contains_any: [assist, order number]", ("reply contains one of", "'assist', 'order number'")),
        ("reply_not_contains: [goodbye, error]", None),
        ("reply_not_contains: [error, hello]", ("reply does not contain", "'hello'")),
        ("buttons: false", None),
        ("buttons: true", ("buttons", "some buttons")),
        ("buttons: [Tuesday]", ("button", "'Tuesday'")),
    ],
)
def test_reply_expectations_after_hello(run: Run, expectation: str, failed: tuple[str, str] | None) -> None:
    failure = run(f"- user: hello\n  {expectation}\n")
    if failed is None:
        assert failure is None
    else:
        assert mismatches(failure) == [failed]


@pytest.mark.parametrize(
    ("expectation", "failed"),
    [
        ("buttons: true", None),
        ("buttons: [tuesday, WEDNESDAY 23]", None),
        ("buttons: false", ("buttons", "no buttons")),
        ("buttons: [Tuesday, Friday, Saturday]", ("button", "'Friday'")),
    ],
)
def test_button_expectations_after_a_question_with_buttons(
    run: Run, expectation: str, failed: tuple[str, str] | None
) -> None:
    failure = run(f"- user: book a fitting\n  {expectation}\n")
    if failed is None:
        assert failure is None
    else:
        assert failure is not None and (failure.mismatches[0].what, failure.mismatches[0].expected) == failed
        assert failure.mismatches[0].actual == "Tuesday 22 December; Wednesday 23 December"


def test_every_missing_title_is_a_mismatch(run: Run) -> None:
    failure = run("- user: book a fitting\n  buttons: [Friday, Tuesday, Saturday]\n")
    assert mismatches(failure) == [("button", "'Friday'"), ("button", "'Saturday'")]


def test_a_fallback_is_not_understood(run: Run) -> None:
    assert run("- user: blorf\n  understood: false\n  buttons: [person]\n") is None
    failure = run("- user: blorf\n  understood: true\n")
    assert mismatches(failure) == [("understood", "handled (no fallback, no repeat)")]
    assert failure is not None
    assert failure.mismatches[0].actual == "fallback (utter_default): Sorry, I didn't get that."


def test_a_handled_message_is_understood(run: Run) -> None:
    assert run("- user: hello\n  understood: true\n") is None
    failure = run("- user: hello\n  understood: false\n")
    assert mismatches(failure) == [("understood", "a fallback or 'I don't know'")]


def test_repeating_the_previous_turn_is_not_understood(run: Run) -> None:
    steps = (
        "- user: book a fitting\n  buttons: true\n"
        "- click: wednesday\n  understood: true\n"
        "- user: what?\n  understood: true\n"  # the bot says the Wednesday times again
    )
    failure = run(steps)
    assert failure is not None
    assert failure.text.startswith("step 3 of 3: understood: expected handled (no fallback, no repeat)")
    assert failure.mismatches[0].actual == "the same replies as the turn before: On Wednesday I have 15:00."

"""Explaining a failed case (`bot.testing.explain`): expected against actual, the intent ranking, what
the dialogue did, the conversation so far, and the one-line summary."""

from __future__ import annotations

from bot.testing.case_types import Expectation, Step
from bot.testing.checks import Mismatch
from bot.testing.explain import explain, summarise
from bot.testing.turn import TurnResult
from bot.types import Button, Entity, IntentScore, Parse, Reply

RANKING = tuple(
    IntentScore(name, score)
    for name, score in [
        ("order_status", 0.61),
        ("cancel_order", 0.2),
        ("greet", 0.08),
        ("start_return", 0.05),
        ("ask_hours", 0.03),
        ("goodbye", 0.02),
        ("thank_you", 0.01),
    ]
)
PARSE = Parse(
    "where is AN-10001",
    RANKING[0],
    (Entity("order_number", "AN-10001", 9, 17, "OrderNumberExtractor"),),
    RANKING,
)


def test_expected_and_actual_are_aligned_under_the_header() -> None:
    step = Step("where is AN-10001", Expectation(intent="order_status"), line=3)
    mismatches = [Mismatch("intent", "cancel_order", "order_status (0.61)"), Mismatch("slot order_number", "x", "y")]
    text = explain("header", step, TurnResult(step.user, PARSE), mismatches, assistant=None)
    assert text.splitlines()[:6] == [
        "header",
        "  user: where is AN-10001",
        "",
        "  expected intent             cancel_order",
        "  actual intent               order_status (0.61)",
        "  expected slot order_number  x",
    ]


def test_the_ranking_marks_the_expected_intent_even_below_the_top_five() -> None:
    step = Step("where is AN-10001", Expectation(intent="thank_you"), line=3)
    turn = TurnResult(step.user, PARSE)
    text = explain("header", step, turn, [Mismatch("intent", "thank_you", "order_status (0.61)")], assistant=None)
    assert "    order_status  0.610" in text
    assert "    thank_you     (rank 7, 0.010)  <- expected" in text
    assert "  entities: order_number=AN-10001 (OrderNumberExtractor)" in text


def test_a_dialogue_turn_shows_actions_form_slots_replies_and_the_conversation_so_far() -> None:
    earlier = TurnResult("/inform", None, [Reply("Which day?", buttons=(Button("Tuesday", "/t"),))], clicked="Tuesday")
    turn = TurnResult(
        "11am",
        None,
        [Reply("Booked.")],
        actions=["appointment_form"],
        slots={"appointment_time": "11:00", "appointment_day": None},
        form="appointment_form",
        dialogue=True,
    )
    step = Step("11am", Expectation(understood=True), line=9)
    text = explain("header", step, turn, [Mismatch("understood", "handled", "x")], None, transcript=[earlier])
    assert text.splitlines()[-8:] == [
        "  actions this turn: appointment_form",
        "  active form: appointment_form",
        "  slots: appointment_time=11:00",
        "  bot: Booked.",
        "",
        "  conversation so far:",
        '    user: [clicks "Tuesday"] /inform',
        "      bot: Which day?  [buttons: Tuesday]",
    ]


def test_the_summary_is_one_line_with_long_values_cut() -> None:
    long = "word " * 30
    line = summarise([Mismatch("intent", "greet", "goodbye (0.91)"), Mismatch("reply contains", "'x'", long)])
    assert line.startswith("intent: expected greet, got goodbye (0.91); reply contains: expected 'x', got word word")
    assert line.endswith("…") and len(line.split("; ")[1]) < 120

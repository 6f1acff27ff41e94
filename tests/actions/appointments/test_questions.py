"""Asking for an appointment's time: the chosen day's free times, or the next free days, as buttons."""

from __future__ import annotations

from typing import Any

from bot.actions.appointments import ActionAskAppointmentTime

from ..conftest import make_tracker, run_action


def test_the_time_question_lists_the_chosen_days_free_times(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    tracker = make_tracker(slots={"appointment_shop": "paris", "appointment_day": "2026-12-22"})
    ask = run_action(ActionAskAppointmentTime(**deps), tracker, domain)
    assert ask.responses == ["utter_ask_appointment_time_on_day"]
    buttons = ask.messages[0]["buttons"]
    assert buttons[0] == {"title": "10:00", "payload": '/inform{"time": "2026-12-22T10:00:00+01:00"}'}

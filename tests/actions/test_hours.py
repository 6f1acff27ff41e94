"""action_store_hours: now, a date, a weekday, the week, follow-ups; the stores file loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.actions.hours import ActionStoreHours
from bot.actions.stores import load_stores
from bot.errors import KnowledgeError

from .conftest import ROOT, entity, make_tracker, run_action


def ask(deps: dict[str, Any], domain: dict[str, Any], text: str, **kwargs: Any):  # type: ignore[no-untyped-def]
    return run_action(ActionStoreHours(**deps), make_tracker(text=text, intent="ask_hours", **kwargs), domain)


def test_open_now_everywhere_uses_each_shops_local_time(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    result = ask(deps, domain, "are you open now?")
    assert result.responses == ["utter_hours_now_all"]
    lines = result.messages[0]["lines"]
    assert "- Atelier Nord Paris: open until 19:30" in lines
    assert "- Atelier Nord London: closed, opens today at 10:00" in lines  # 09:00 in London
    assert result.slots["hours_query"]["kind"] == "now"


def test_when_do_you_close_today_in_berlin(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "when do you close today in Berlin?"
    result = ask(
        deps,
        domain,
        text,
        entities=[entity("shop", "berlin", "Berlin", text), entity("time", "2026-12-21T00:00:00+01:00", "today", text)],
    )
    assert result.responses == ["utter_hours_date_open", "utter_hours_open_now"]
    assert result.messages[0]["hours"] == "10:00–20:00"
    assert result.messages[1]["closes"] == "20:00"


def test_hours_on_sunday_gives_the_usual_sunday(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "hours on Sunday"
    result = ask(
        deps,
        domain,
        text,
        entities=[
            entity("weekday", "sunday", "Sunday", text),
            entity("time", "2026-12-27T00:00:00+01:00", "Sunday", text),
        ],
    )
    assert result.responses[0] == "utter_hours_weekday_all"
    assert "- Atelier Nord London: 12:00–18:00" in result.messages[0]["lines"]
    assert "- Atelier Nord Paris: closed" in result.messages[0]["lines"]


def test_open_on_december_24th_shows_the_special_day(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "are you open on December 24th?"
    result = ask(deps, domain, text, entities=[entity("time", "2026-12-24T00:00:00+01:00", "December 24th", text)])
    assert result.responses == ["utter_hours_date_all"]
    assert result.messages[0]["date"] == "Thursday 24 December"
    assert "- Atelier Nord Paris: 10:00–16:00 (Christmas Eve)" in result.messages[0]["lines"]


def test_and_in_london_reuses_the_previous_question(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    previous = {"kind": "date", "shop": "paris", "day": "2026-12-24", "weekday": None}
    text = "and in London?"
    tracker = make_tracker(
        text=text, intent="inform", entities=[entity("shop", "london", "London", text)], slots={"hours_query": previous}
    )
    result = run_action(ActionStoreHours(**deps), tracker, domain)
    assert result.responses == ["utter_hours_date_special_open"]
    assert result.messages[0]["shop_name"] == "Atelier Nord London"
    assert result.slots["hours_query"]["shop"] == "london"


def test_and_on_sundays_keeps_the_shop_asked_about(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    previous = {"kind": "weekday", "shop": "berlin", "day": None, "weekday": 5}
    text = "and on sundays?"
    tracker = make_tracker(
        text=text,
        intent="ask_hours",  # classified as a new hours question, yet it continues the last one
        entities=[entity("weekday", "sunday", "sundays", text)],
        slots={"hours_query": previous},
    )
    result = run_action(ActionStoreHours(**deps), tracker, domain)
    assert result.responses[0] == "utter_hours_weekday"
    assert result.messages[0]["shop_name"] == "Atelier Nord Berlin" and result.messages[0]["hours"] == "closed"


def test_week_groups_days_and_lists_special_days(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    result = ask(deps, domain, "what are your opening hours?")
    assert result.responses == ["utter_hours_week_all", "utter_hours_specials"]
    assert "- Atelier Nord Paris: Mon–Fri 10:00–19:30, Sat 10:00–20:00, Sun closed" in result.messages[0]["lines"]
    assert "Christmas Day" in result.messages[1]["lines"]


def test_a_past_date_is_corrected(deps: dict[str, Any], domain: dict[str, Any]) -> None:
    text = "were you open on the 1st?"
    result = ask(deps, domain, text, entities=[entity("time", "2026-12-01T00:00:00+01:00", "the 1st", text)])
    assert result.responses == ["utter_hours_date_past"]


def test_the_real_stores_file_is_valid() -> None:
    path = ROOT / "knowledge" / "stores.yml"
    if not path.exists():
        pytest.skip("knowledge/stores.yml is not there yet")
    stores = load_stores(path)
    assert {"paris", "berlin", "london", "customer_service"} <= set(stores.shops)


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ('monday: ["10:00-9:00"]', "shops.paris.hours.monday[0]"),
        ('monday: ["ten to six"]', "shops.paris.hours.monday[0]"),
        ('mondy: ["10:00-19:00"]', "shops.paris.hours.mondy"),
    ],
)
def test_stores_errors_name_the_file_and_field(tmp_path: Path, bad: str, field: str) -> None:
    days = "\n".join(f"      {d}: []" for d in ("tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
    path = tmp_path / "stores.yml"
    path.write_text(f"shops:\n  paris:\n    name: P\n    timezone: Europe/Paris\n    hours:\n      {bad}\n{days}\n")
    with pytest.raises(KnowledgeError) as info:
        load_stores(path)
    assert str(path) in str(info.value)
    assert field in str(info.value)

"""Issue 12: days and times in German or French are understood ("am Mittwoch um 15 Uhr", "mercredi à
15h30", "sonntags"), and point at the customer's own words; English text is read exactly as before."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.nlu.entities.dates import DateTimeExtractor
from bot.nlu.entities.extractors import WeekdayExtractor
from bot.nlu.entities.foreign import to_english

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))  # a Sunday


@pytest.fixture(scope="module")
def dates() -> DateTimeExtractor:
    return DateTimeExtractor(clock=lambda: NOW)


@pytest.mark.parametrize(
    ("text", "value", "words"),
    [
        (
            "ich möchte einen Anprobetermin in Berlin am Mittwoch um 15 Uhr",
            "2026-12-09T15:00:00+01:00",
            "Mittwoch um 15 Uhr",
        ),
        ("je voudrais un essayage mercredi à 15h30", "2026-12-09T15:30:00+01:00", "mercredi à 15h30"),
        ("hat der Laden in Berlin sonntags offen?", "2026-12-13T00:00:00+01:00", "sonntags"),
    ],
)
def test_foreign_days_and_times_are_dates(dates: DateTimeExtractor, text: str, value: str, words: str) -> None:
    (found,) = dates.extract(text)
    assert found.value == value
    assert text[found.start : found.end] == words == found.text


@pytest.mark.parametrize(
    ("text", "day"), [("am Mittwoch", "wednesday"), ("sonntags offen?", "sunday"), ("samedi matin", "saturday")]
)
def test_foreign_weekdays_are_weekdays(text: str, day: str) -> None:
    assert [e.value for e in WeekdayExtractor().extract(text)] == [day]


@pytest.mark.parametrize("text", ["book next tuesday at 3pm", "the delivery takes 2h", "a size 38h"])
def test_english_text_is_not_rewritten(text: str) -> None:
    assert to_english(text) is None


def test_a_rewritten_span_maps_back_to_the_message() -> None:
    text = "am Mittwoch um 15 Uhr bitte"
    rewritten = to_english(text)
    assert rewritten is not None
    assert rewritten.text == "on Wednesday at 15:00 bitte"
    start = rewritten.text.index("Wednesday")
    assert rewritten.span(start, start + len("Wednesday at 15:00")) == (3, 21)

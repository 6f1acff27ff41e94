"""Price bounds and sizes read from the words around them: what shoppers write, odd inputs kept as
written, and the numbers and letters that are neither (a time, an order number, the "m" of "I'm")."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.nlu.entities import EntityPipeline, PriceBoundsExtractor, SizeExtractor, build_entity_pipeline
from bot.nlu.entities.shopping import parse_number
from bot.nlu.training_data import TrainingData
from bot.types import Entity

PRICES = PriceBoundsExtractor()
SIZES = SizeExtractor()


def bounds(text: str) -> dict[str, float]:
    found = PRICES.extract(text)
    values = {e.entity: e.value for e in found}
    assert len(values) == len(found), f"one price_min and one price_max at most in {text!r}: {found}"
    return values


def sizes(text: str) -> list[str]:
    return [e.value for e in SIZES.extract(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("warm coat under 200", {"price_max": 200.0}),
        ("below €150", {"price_max": 150.0}),
        ("less than 100 euros", {"price_max": 100.0}),
        ("max 80", {"price_max": 80.0}),
        ("up to 120", {"price_max": 120.0}),
        ("cheaper than 90", {"price_max": 90.0}),
        ("no more than 80 please", {"price_max": 80.0}),
        ("a scarf, £50 or less", {"price_max": 50.0}),
        ("200 max", {"price_max": 200.0}),
        ("my budget is 1,200", {"price_max": 1200.0}),
        ("19,90 € max", {"price_max": 19.9}),
        ("over 300", {"price_min": 300.0}),
        ("more than 50", {"price_min": 50.0}),
        ("at least 100", {"price_min": 100.0}),
        ("not less than 50", {"price_min": 50.0}),
        ("from 50", {"price_min": 50.0}),
        ("scarves from 20 euros", {"price_min": 20.0}),
        ("100+ is fine", {"price_min": 100.0}),
        ("between 100 and 200", {"price_min": 100.0, "price_max": 200.0}),
        ("100-200€", {"price_min": 100.0, "price_max": 200.0}),
        ("€100 - €200", {"price_min": 100.0, "price_max": 200.0}),
        ("from 100 to 200 euros", {"price_min": 100.0, "price_max": 200.0}),
        ("around 100", {"price_min": 80.0, "price_max": 120.0}),
        ("about €100", {"price_min": 80.0, "price_max": 120.0}),
        ("a gift, 50ish", {"price_min": 40.0, "price_max": 60.0}),
        ("$75 or so", {"price_min": 60.0, "price_max": 90.0}),
    ],
)
def test_price_bounds(text: str, expected: dict[str, float]) -> None:
    assert bounds(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("under -5", {"price_max": -5.0}),  # kept as written: the dialogue says a price can't be negative
        ("between 300 and 100", {"price_min": 300.0, "price_max": 100.0}),  # reversed, as written
        ("over 0", {"price_min": 0.0}),
    ],
)
def test_odd_price_bounds_are_kept_as_written(text: str, expected: dict[str, float]) -> None:
    assert bounds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "under",
        "between and",
        "cheaper ones",
        "I want it delivered in 30 days",
        "delivery takes 3-6 working days",
        "jeans size 30-32",
        "sizes between 36 and 40",
        "are you open from 9 to 5?",
        "book a fitting tomorrow from 10 to 12",
        "more than 2 items in my order AN-10001",
        "come at 11:30",
        "size 40 please",
        "over the phone",
    ],
)
def test_not_a_price(text: str) -> None:
    assert bounds(text) == {}


def test_a_range_is_two_entities_over_the_same_words() -> None:
    text = "a coat between €100 and €200?"
    low, high = sorted(PRICES.extract(text), key=lambda e: e.entity, reverse=True)
    assert (low.entity, high.entity) == ("price_min", "price_max")
    assert low.text == high.text == text[low.start : low.end] == "between €100 and €200"
    assert low.extractor == "PriceBoundsExtractor"


@pytest.mark.parametrize(
    ("written", "number"),
    [("200", 200.0), ("19,90", 19.9), ("19.90", 19.9), ("1,200", 1200.0), ("1.200", 1200.0), ("-5", -5.0)],
)
def test_parse_number(written: str, number: float) -> None:
    assert parse_number(written) == number


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("size M", ["M"]),
        ("do you have it in M?", ["M"]),
        ("I need an M", ["M"]),
        ("in medium please", ["M"]),
        ("I wear a medium", ["M"]),
        ("size 40", ["40"]),
        ("Size: xl", ["XL"]),
        ("in a 38", ["38"]),
        ("I'm a 38 in shoes", ["38"]),
        ("42 shoes", ["42"]),
        ("black boots, 39 boots", ["39"]),
        ("in XL", ["XL"]),
        ("in x-large", ["XL"]),
        ("extra small", ["XS"]),
        ("in 2xl", ["XXL"]),
        ("jeans W32", ["32"]),
        ("32 waist", ["32"]),
        ("waist 27 please", ["27"]),
        ("the belt in 85", ["85"]),
        ("the blazer in a 50", ["50"]),
        ("do you have it in S or M", ["S", "M"]),
        ("sizes 38, 39 or 40", ["38", "39", "40"]),
        ("is it one size?", ["one size"]),
        ("M", ["M"]),
        ("medium please", ["M"]),
        ("xl?", ["XL"]),
        ("no wait, 43", ["43"]),
        ("38 please", ["38"]),
        ("a medium size bag", ["M"]),
        ("red linen dress XS london", ["XS"]),
        ("xl jumper", ["XL"]),
    ],
)
def test_sizes(text: str, expected: list[str]) -> None:
    assert sizes(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I'm looking for a coat",
        "it's nice, I'll take it",
        "I am here",
        "under 40",
        "€38",
        "size up please",
        "I want it in 30 days",
        "in 2 weeks at 11:30",
        "in 25 December",
        "order AN-10001",
        "in AN-10038",
        "in 60 countries",
        "in a large bag",
        "a small gift",
        "exchange for one size up",
        "is it in l.a.?",
        "in 100%",
        "m&s",
        "the dress is too small",
        "an axle",
        "150",
        "no wait, 2",
        "AN-10001",
        "it's xlnt",
    ],
)
def test_not_a_size(text: str) -> None:
    assert sizes(text) == []


def test_a_size_is_the_value_alone_with_its_offsets() -> None:
    text = "have you got it in Medium, in Berlin?"
    (size,) = SIZES.extract(text)
    assert (size.value, size.text, text[size.start : size.end], size.extractor) == (
        "M",
        "Medium",
        "Medium",
        "SizeExtractor",
    )


@given(st.text(max_size=80))
def test_any_text_gives_entities_over_its_own_words(text: str) -> None:
    for entity in [*PRICES.extract(text), *SIZES.extract(text)]:
        assert isinstance(entity, Entity)
        assert text[entity.start : entity.end] == entity.text
        assert entity.value not in ("", None)


NEAR_KEYWORDS = r"(under|over|between|around|size|in a|in|from) -?[0-9]{1,6}([.,][0-9]{1,3})?( and -?[0-9]{1,4})?"


@given(st.from_regex(NEAR_KEYWORDS))
def test_numbers_near_the_keywords_never_raise(text: str) -> None:
    for entity in PRICES.extract(text):
        assert isinstance(entity.value, float)
    for entity in SIZES.extract(text):
        assert isinstance(entity.value, str)


# -- in the pipeline ----------------------------------------------------------------------------------
NOW = datetime(2026, 11, 18, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.fixture(scope="module")
def pipeline() -> EntityPipeline:
    """Data that annotates sizes and a price, as training examples do: the lookups those annotations
    would teach ("M", "200") must not find "I'm" or any number."""
    data = TrainingData(
        synonyms={"medium": "M"},
        lookups={"size": ["M", "S", "38"], "colour": ["black"], "price_max": ["200"]},
    )
    return build_entity_pipeline(data, order_number_pattern=r"\b[Aa][Nn][- ]?\d{5}\b", clock=lambda: NOW)


def found(pipeline: EntityPipeline, text: str) -> list[tuple[str, object]]:
    return [(e.entity, e.value) for e in pipeline.extract(text)]


def test_sizes_and_prices_come_from_the_built_in_extractors_once(pipeline: EntityPipeline) -> None:
    entities = pipeline.extract("black coat in M under 200")
    assert [(e.entity, e.value, e.extractor) for e in entities] == [
        ("colour", "black", "LookupEntityExtractor"),
        ("size", "M", "SizeExtractor"),
        ("price_max", 200.0, "PriceBoundsExtractor"),
    ]


def test_annotated_sizes_are_not_looked_up_everywhere(pipeline: EntityPipeline) -> None:
    assert found(pipeline, "I'm looking for something, it's for 38 people, budget 200") == [("price_max", 200.0)]


def test_a_date_inside_a_size_or_a_price_range_is_no_date(pipeline: EntityPipeline) -> None:
    assert found(pipeline, "fitting at 10 in a 38") == [("size", "38")]
    assert [e for e, _ in found(pipeline, "between 100 and 200 euros")] == ["price_max", "price_min", "amount"]


def test_hours_after_from_stay_a_time(pipeline: EntityPipeline) -> None:
    assert [e for e, _ in found(pipeline, "book a fitting tomorrow from 10 to 12")] == ["time"]


def test_the_pipeline_names_the_built_in_shopping_entities(pipeline: EntityPipeline) -> None:
    assert {"size", "price_min", "price_max"} <= pipeline.entity_names

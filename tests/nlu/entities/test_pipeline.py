"""Entity extraction, parametrised over messages a support bot sees."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.nlu.entities import EntityPipeline, build_entity_pipeline
from bot.nlu.training_data import TrainingData

NOW = datetime(2026, 11, 18, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))  # a Wednesday


@pytest.fixture(scope="module")
def pipeline() -> EntityPipeline:
    data = TrainingData(
        synonyms={"the berlin store": "berlin", "too tight": "too_small", "berlin": "berlin"},
        regexes={"zipcode": [r"\b\d{5}\b(?!-)"]},
        lookups={"shop": ["Paris", "Berlin", "London"], "return_reason": ["too tight"]},
    )
    return build_entity_pipeline(
        data, order_number_pattern=r"\b[Aa][Nn][- ]?\d{5}\b", timezone="Europe/Paris", clock=lambda: NOW
    )


def values(pipeline: EntityPipeline, text: str, entity: str) -> list[Any]:
    return [e.value for e in pipeline.extract(text) if e.entity == entity]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my order is AN-12345", ["AN-12345"]),
        ("order an 54321 please", ["AN-54321"]),
        ("an-10001 and AN-10002", ["AN-10001", "AN-10002"]),
        ("order 12345", []),
    ],
)
def test_order_numbers(pipeline: EntityPipeline, text: str, expected: list[str]) -> None:
    assert values(pipeline, text, "order_number") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("it's Anna.Berg@Example.com.", ["anna.berg@example.com"]),
        ("mail me at jo+shop@mail.co.uk or nothing", ["jo+shop@mail.co.uk"]),
        ("no email here @ all", []),
    ],
)
def test_emails(pipeline: EntityPipeline, text: str, expected: list[str]) -> None:
    assert values(pipeline, text, "email") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tomorrow at 3pm", ["2026-11-19T15:00:00+01:00"]),
        ("next Sunday", ["2026-11-22T00:00:00+01:00"]),
        ("are you open on December 24th?", ["2026-12-24T00:00:00+01:00"]),
        ("the 3rd of March at 11:30", ["2027-03-03T11:30:00+01:00"]),
        ("31st of February", []),
        ("February 30 at 10am", []),
        ("I may come by", []),
        ("gift card of 50€", []),
    ],
)
def test_dates_relative_to_shop_timezone(pipeline: EntityPipeline, text: str, expected: list[str]) -> None:
    assert values(pipeline, text, "time") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("open on Sunday?", ["sunday"]),
        ("hours tues", ["tuesday"]),
        ("we sat down", []),
        ("Sat and Sun", ["saturday", "sunday"]),
    ],
)
def test_weekdays(pipeline: EntityPipeline, text: str, expected: list[str]) -> None:
    assert values(pipeline, text, "weekday") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a gift card of 50€", [{"amount": 50.0, "currency": "EUR"}]),
        ("£19.90 or $20", [{"amount": 19.9, "currency": "GBP"}, {"amount": 20.0, "currency": "USD"}]),
        ("120 euros", [{"amount": 120.0, "currency": "EUR"}]),
    ],
)
def test_amounts(pipeline: EntityPipeline, text: str, expected: list[Any]) -> None:
    assert values(pipeline, text, "amount") == expected


def test_lookup_and_synonyms(pipeline: EntityPipeline) -> None:
    entities = pipeline.extract("Is the Berlin store open? It was too tight")
    shop = next(e for e in entities if e.entity == "shop")
    assert (shop.value, shop.text, shop.extractor) == ("berlin", "the Berlin store", "LookupEntityExtractor")
    assert values(pipeline, "Is the Berlin store open? It was too tight", "return_reason") == ["too_small"]


def test_regex_from_data_and_rasa_shape(pipeline: EntityPipeline) -> None:
    (entity,) = [e for e in pipeline.extract("zip 75010 please") if e.entity == "zipcode"]
    assert entity.as_dict() == {
        "entity": "zipcode",
        "value": "75010",
        "start": 4,
        "end": 9,
        "confidence_entity": 1.0,
        "extractor": "RegexEntityExtractor",
    }

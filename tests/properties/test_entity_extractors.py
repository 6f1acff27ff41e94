"""Properties of the entity extractors (order numbers, emails, dates and times, weekdays, amounts, sizes,
price bounds, the reference bot's shops and shopping words): any text a customer types gives entities
over its own characters — the span's text is the entity's text, the value is never empty — and never an
exception. The pipeline is built from the reference bot's own intents data, with a fixed clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Settings
from bot.intents_loader import load_intents
from bot.nlu.entities import (
    AmountExtractor,
    DateTimeExtractor,
    EmailExtractor,
    EntityExtractor,
    EntityPipeline,
    OrderNumberExtractor,
    PriceBoundsExtractor,
    SizeExtractor,
    WeekdayExtractor,
    build_entity_pipeline,
)
from bot.types import Entity

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 18, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))
BOUNDED = settings(
    max_examples=60,
    deadline=timedelta(seconds=5),  # a hang guard, not a performance target
    suppress_health_check=[HealthCheck.too_slow],
)

WORDS = [
    "AN-10001", "an 10001", "AN-1", "anna@example.com", "a@b", "x@y.co.", "tomorrow", "at 3pm", "25:99",
    "31st of February", "next friday", "sun", "Sat", "monday", "€200", "200€", "under 200", "between 100 and 50",
    "around -3", "1,200.50",
    "size M", "in a 38", "42 shoes", "W32", "one size", "XL", "Berlin", "Berln", "london store", "Paris", "coat",
    "wool", "navy", "?", ",", "-", "/", "\n", "\u200b", "ß", "İ", "ﬃ", "١٢٣", "𝟗𝟗", "½", "²",
]  # fmt: skip
message = st.lists(
    st.sampled_from(WORDS) | st.text(st.characters(blacklist_categories=("Cs",)), max_size=10), max_size=8
).map(" ".join) | st.text(st.characters(blacklist_categories=("Cs",)), max_size=120)


@pytest.fixture(scope="module")
def pipeline() -> EntityPipeline:
    settings_ = Settings(project_dir=ROOT)
    project = load_intents(settings_.intents_path, root=ROOT)
    assert not project.errors, project.errors
    return build_entity_pipeline(
        project.data,
        order_number_pattern=settings_.order_number_pattern,
        order_number_format=settings_.order_number_format,
        timezone=settings_.timezone,
        languages=settings_.date_languages,
        clock=lambda: NOW,
    )


def assert_over_the_text(entities: Sequence[Entity], text: str) -> None:
    for entity in entities:
        assert isinstance(entity, Entity), entity
        assert 0 <= entity.start < entity.end <= len(text), (entity, text)
        assert text[entity.start : entity.end] == entity.text, (entity, text)
        assert entity.value not in ("", None), entity


EXTRACTORS: dict[str, EntityExtractor] = {
    "email": EmailExtractor(),
    "order number": OrderNumberExtractor(r"\b[Aa][Nn][- ]?\d{5}\b"),
    "weekday": WeekdayExtractor(),
    "amount": AmountExtractor(),
    "size": SizeExtractor(),
    "price bounds": PriceBoundsExtractor(),
    "date and time": DateTimeExtractor("Europe/Paris", ("en",), lambda: NOW),
}


@pytest.mark.parametrize("name", sorted(EXTRACTORS))
@BOUNDED
@given(text=message)
def test_each_extractor_reads_any_text(name: str, text: str) -> None:
    assert_over_the_text(EXTRACTORS[name].extract(text), text)


@BOUNDED
@given(text=message)
def test_the_reference_pipeline_reads_any_text(pipeline: EntityPipeline, text: str) -> None:
    entities = pipeline.extract(text)
    assert_over_the_text(entities, text)
    assert {e.entity for e in entities} <= pipeline.entity_names

"""The entity pipeline: every extractor in priority order, overlaps resolved, synonyms mapped; and
how it is built from the Rasa data (lookup tables, annotations, synonyms)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from bot.nlu.entities.dates import DateTimeExtractor
from bot.nlu.entities.extractors import (
    AmountExtractor,
    EmailExtractor,
    EntityExtractor,
    LookupEntityExtractor,
    OrderNumberExtractor,
    RegexEntityExtractor,
    WeekdayExtractor,
)
from bot.nlu.entities.shopping import PriceBoundsExtractor, SizeExtractor
from bot.nlu.training_data import TrainingData
from bot.types import Entity

_NOT_A_TIME = frozenset({"amount", "order_number", "email", "price_min", "price_max", "size"})
"""A date found inside one of these ("100-200€", "in a 38") is not a date."""
IN_CONTEXT = frozenset({*SizeExtractor.entities, *PriceBoundsExtractor.entities})
"""Entities the built-in extractors read from the words around them: a lookup of annotated examples
("M", "200") would find them anywhere ("I'm", any number), so they are never looked up."""


def _overlaps(a: Entity, b: Entity) -> bool:
    return a.start < b.end and b.start < a.end


def resolve(entities: list[Entity]) -> list[Entity]:
    """Drop duplicates: for one entity type, the first extractor's span wins over overlapping ones."""
    kept: list[Entity] = []
    for candidate in entities:
        if any(k.entity == candidate.entity and _overlaps(k, candidate) for k in kept):
            continue
        kept.append(candidate)
    return sorted(kept, key=lambda e: (e.start, e.entity))


class EntityPipeline:
    """All extractors, in priority order, then synonym mapping.

    `values` lists each entity's canonical values (from its lookup table and annotations): a synonym
    applies to an entity only when its canonical value is one of that entity's, so "Germany" can be
    a `country` (germany) without becoming the Berlin `shop`. Entities without known values take every
    synonym, as in Rasa.
    """

    def __init__(
        self,
        extractors: Sequence[EntityExtractor],
        synonyms: dict[str, str],
        values: Mapping[str, set[str]] | None = None,
    ) -> None:
        self.extractors = list(extractors)
        self.synonyms = synonyms
        self.values = dict(values or {})

    def canonical(self, entity: str, value: str) -> str | None:
        found = self.synonyms.get(re.sub(r"\s+", " ", value.strip().lower()))
        known = self.values.get(entity)
        if found is None or (known and found.lower() not in known):
            return None
        return found

    def extract(self, text: str) -> list[Entity]:
        found: list[Entity] = []
        for extractor in self.extractors:
            found.extend(extractor.extract(text))
        result = []
        resolved = resolve(found)
        taken = [e for e in resolved if e.entity in _NOT_A_TIME]
        for entity in resolved:
            if entity.entity == "time" and any(_overlaps(entity, t) for t in taken):
                continue
            if isinstance(entity.value, str):
                canonical = self.canonical(entity.entity, entity.value)
                if canonical is not None:
                    entity = Entity(entity.entity, canonical, entity.start, entity.end, entity.extractor, entity.text)
            result.append(entity)
        return result

    def warm_up(self) -> None:
        for extractor in self.extractors:
            warm = getattr(extractor, "warm_up", None)
            if warm:
                warm()

    @property
    def entity_names(self) -> set[str]:
        names = {"email", "order_number", "time", "weekday", "amount"}
        for extractor in self.extractors:
            if isinstance(extractor, RegexEntityExtractor):
                names |= set(extractor.patterns)
            elif isinstance(extractor, LookupEntityExtractor):
                names |= set(extractor.tables)
            names |= set(getattr(extractor, "entities", ()))
        return names


def learned_lookups(data: TrainingData) -> dict[str, list[str]]:
    """Annotated example texts become lookup values (the annotations teach the extractor)."""
    tables: dict[str, list[str]] = {}
    for entity, values in data.lookups.items():
        tables.setdefault(entity, []).extend(values)
    for example in data.examples:
        for annotation in example.entities:
            tables.setdefault(annotation.entity, []).append(annotation.text)
    for synonym, canonical in data.synonyms.items():
        # a synonym's text is worth finding for entities that have lookup data with that value
        for entity, values in list(tables.items()):
            if canonical in {v.lower() for v in values} or any(
                a.value == canonical and a.entity == entity for e in data.examples for a in e.entities
            ):
                values.append(synonym)
    return tables


def entity_values(data: TrainingData) -> dict[str, set[str]]:
    """Each lookup-or-annotated entity's canonical values, lower case (see `EntityPipeline`)."""
    synonyms = {**annotation_synonyms(data), **data.synonyms}
    annotated: dict[str, set[str]] = {}
    for example in data.examples:
        for annotation in example.entities:
            if isinstance(annotation.value, str):
                annotated.setdefault(annotation.entity, set()).add(annotation.value.lower())
    written = {e: {re.sub(r"\s+", " ", v.strip().lower()) for v in vs} for e, vs in data.lookups.items()}
    owner = {e: written.get(e, set()) | annotated.get(e, set()) for e in {*written, *annotated}}
    found: dict[str, set[str]] = {k: set(v) for k, v in annotated.items()}
    for entity, keys in written.items():
        for key in keys:
            canonical = synonyms.get(key, key).lower()
            # a synonym of another entity's value ("germany" → the Berlin shop) does not make a country a shop
            elsewhere = any(canonical in values for other, values in owner.items() if other != entity)
            found.setdefault(entity, set()).add(key if elsewhere and canonical not in owner[entity] else canonical)
    return found


def annotation_synonyms(data: TrainingData) -> dict[str, str]:
    """`[London]{"entity": "shop", "value": "london"}` also teaches the synonym London → london (as in Rasa)."""
    found: dict[str, str] = {}
    for example in data.examples:
        for annotation in example.entities:
            if annotation.value != annotation.text:
                found[re.sub(r"\s+", " ", annotation.text.strip().lower())] = annotation.value
    return found


def build_entity_pipeline(
    data: TrainingData,
    *,
    order_number_pattern: str,
    order_number_format: str = "AN-{digits}",
    timezone: str = "Europe/Paris",
    languages: Sequence[str] = ("en",),
    clock: Callable[[], datetime] | None = None,
) -> EntityPipeline:
    lookups = {entity: values for entity, values in learned_lookups(data).items() if entity not in IN_CONTEXT}
    extractors: list[EntityExtractor] = [
        EmailExtractor(),
        OrderNumberExtractor(order_number_pattern, order_number_format),
        SizeExtractor(),
        PriceBoundsExtractor(),
        RegexEntityExtractor({k: v for k, v in data.regexes.items()}),
        LookupEntityExtractor(lookups),
        WeekdayExtractor(),
        AmountExtractor(),
        DateTimeExtractor(timezone, tuple(languages), clock),
    ]
    return EntityPipeline(extractors, {**annotation_synonyms(data), **data.synonyms}, entity_values(data))

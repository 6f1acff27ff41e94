"""Entity extraction: regexes, lookup tables and synonyms from the Rasa data, plus built-in
extractors a support bot needs (email, order number, date/time, weekday, amount, size, price bounds).

- `extractors`: the extractor protocol, the data-driven extractors (regex, lookup with one-typo
  matching) and the built-in email, order number, weekday and amount extractors;
- `dates`: dates and times through dateparser;
- `shopping`: sizes and price bounds, read from the words around them;
- `pipeline`: `EntityPipeline` (all extractors, overlaps, synonyms) and `build_entity_pipeline`.
"""

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
from bot.nlu.entities.pipeline import (
    EntityPipeline,
    annotation_synonyms,
    build_entity_pipeline,
    entity_values,
    learned_lookups,
)
from bot.nlu.entities.shopping import PriceBoundsExtractor, SizeExtractor

__all__ = [
    "AmountExtractor",
    "DateTimeExtractor",
    "EmailExtractor",
    "EntityExtractor",
    "EntityPipeline",
    "LookupEntityExtractor",
    "OrderNumberExtractor",
    "PriceBoundsExtractor",
    "RegexEntityExtractor",
    "SizeExtractor",
    "WeekdayExtractor",
    "annotation_synonyms",
    "build_entity_pipeline",
    "entity_values",
    "learned_lookups",
]

"""External events: the `EXTERNAL_…` intents a shop may fire into a conversation, and their entities.

The domain declares each event and the entities it takes (intents/domain/events.yml):

    external_events:
      EXTERNAL_order_shipped:
        entities:
          order_number: {type: text, required: true}
          delivery_date: {type: date}

Types: `text` (a non-empty string), `date` (ISO `YYYY-MM-DD`), `number` (an int or float) and `email`.
`check_event` refuses an undeclared name or an entity that is undeclared, missing or of the wrong type,
before anything is stored (`UnknownEventError`, `EventEntityError`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.proactive.errors import EventEntityError, UnknownEventError

EXTERNAL_PREFIX = "EXTERNAL_"
EXTERNAL_TEXT_PREFIX = "EXTERNAL: "
"""Rasa's text of the user event an external intent adds (`UserUttered.create_external`)."""
ENTITY_TYPES = ("text", "date", "number", "email")
MAX_TEXT_CHARS = 500
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class EntitySpec:
    name: str
    type: str = "text"
    required: bool = False


@dataclass(frozen=True)
class EventSpec:
    name: str
    entities: tuple[EntitySpec, ...] = ()


class EventCatalog:
    """The declared events, from the domain's `external_events:` section."""

    def __init__(self, specs: Mapping[str, EventSpec]) -> None:
        self.specs = dict(specs)

    @classmethod
    def from_domain_extras(cls, extras: Mapping[str, Any]) -> EventCatalog:
        raw = extras.get("external_events") or {}
        specs: dict[str, EventSpec] = {}
        if not isinstance(raw, Mapping):
            return cls(specs)
        for name, body in raw.items():
            entities: list[EntitySpec] = []
            declared = body.get("entities") if isinstance(body, Mapping) else None
            for entity, spec in (declared or {}).items():
                if isinstance(spec, str):
                    entities.append(EntitySpec(str(entity), spec))
                elif isinstance(spec, Mapping):
                    kind = str(spec.get("type", "text"))
                    entities.append(EntitySpec(str(entity), kind, bool(spec.get("required", False))))
            specs[str(name)] = EventSpec(str(name), tuple(entities))
        return cls(specs)

    def names(self) -> list[str]:
        return sorted(self.specs)

    def check(self, name: str, entities: Mapping[str, Any]) -> dict[str, Any]:
        """The event's entities, checked (dates as ISO strings). Raises UnknownEventError or EventEntityError."""
        spec = self.specs.get(name)
        if spec is None:
            known = ", ".join(self.names()) or "none"
            raise UnknownEventError(
                f"unknown event {name!r}: the domain declares {known} "
                "(add it under `external_events:` in intents/domain)"
            )
        declared = {e.name: e for e in spec.entities}
        problems: list[str] = []
        for key in entities:
            if key not in declared:
                problems.append(f"{key!r} is not an entity of {name} (it takes {', '.join(declared) or 'none'})")
        checked: dict[str, Any] = {}
        for entity in spec.entities:
            if entity.name not in entities or entities[entity.name] is None:
                if entity.required:
                    problems.append(f"{entity.name!r} is required ({entity.type})")
                continue
            value = entities[entity.name]
            try:
                checked[entity.name] = _coerce(entity.type, value)
            except ValueError as e:
                problems.append(f"{entity.name!r} must be {e}; got {value!r}"[:300])
        if problems:
            raise EventEntityError(f"event {name}: " + "; ".join(problems))
        return checked


def _coerce(kind: str, value: Any) -> Any:
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("a number")
        return value
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT_CHARS:
        raise ValueError(
            f"a non-empty string of at most {MAX_TEXT_CHARS} characters" if kind == "text" else f"a {kind}"
        )
    value = value.strip()
    if kind == "date":
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError("a date as YYYY-MM-DD") from None
    if kind == "email" and not _EMAIL.fullmatch(value):
        raise ValueError("an email address")
    return value


def entity_list(entities: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Entities as Rasa's list (`[{"entity", "value"}]`), as the user event of an external intent holds them."""
    return [{"entity": k, "value": v, "start": 0, "end": 0, "extractor": "external"} for k, v in entities.items()]


def is_external(intent: str) -> bool:
    return intent.startswith(EXTERNAL_PREFIX)

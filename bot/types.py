"""Value objects that flow through the engine. No I/O here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot import intent_names


@dataclass(frozen=True)
class Message:
    """One customer message as a channel hands it to `Assistant.handle`."""

    sender_id: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    input_channel: str | None = None


@dataclass(frozen=True)
class Button:
    title: str
    payload: str

    def as_dict(self) -> dict[str, str]:
        return {"title": self.title, "payload": self.payload}


@dataclass(frozen=True)
class Source:
    """Where a knowledge-base answer comes from."""

    id: str
    title: str
    file: str
    url: str | None = None

    def as_dict(self) -> dict[str, str]:
        data = {"id": self.id, "title": self.title, "file": self.file}
        if self.url:
            data["url"] = self.url
        return data


@dataclass(frozen=True)
class Card:
    """A product card: what a customer needs to act on one product (channels show several as a carousel)."""

    id: str
    """the product's SKU"""
    title: str
    subtitle: str
    """price, colours and sizes in stock, as one line ("€189 · navy, grey · S M L")"""
    price: str
    """the formatted price ("€189")"""
    image_url: str
    url: str
    """the product page"""
    colours: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    """sizes in stock (anywhere)"""
    buttons: tuple[Button, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "subtitle": self.subtitle,
            "price": self.price,
            "image_url": self.image_url,
            "url": self.url,
            "colours": list(self.colours),
            "sizes": list(self.sizes),
            "buttons": [b.as_dict() for b in self.buttons],
        }


@dataclass(frozen=True)
class Reply:
    """One bot message. `kind` says which part of the bot produced it."""

    text: str
    buttons: tuple[Button, ...] = ()
    sources: tuple[Source, ...] = ()
    image: str | None = None
    custom: Mapping[str, Any] | None = None
    kind: str = "response"
    id: str = ""
    response: str = ""  # the domain response it was rendered from (not sent to channels)
    cards: tuple[Card, ...] = ()
    remembered: tuple[str, ...] = ()
    """what the bot stored about the customer with this reply, as short texts ("Berlin as your shop", from
    `utter_memory_note`): channels show it as a small "remembered" note (docs/customers.md)"""

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "text": self.text,
            "buttons": [b.as_dict() for b in self.buttons],
        }
        if self.id:
            data["id"] = self.id
        if self.sources:
            data["sources"] = [s.as_dict() for s in self.sources]
        if self.image:
            data["image"] = self.image
        if self.custom:
            data["custom"] = dict(self.custom)
        if self.cards:
            data["cards"] = [c.as_dict() for c in self.cards]
        if self.remembered:
            data["remembered"] = list(self.remembered)
        return data


@dataclass(frozen=True)
class Entity:
    """An extracted entity in Rasa's shape."""

    entity: str
    value: Any
    start: int
    end: int
    extractor: str
    text: str = ""
    confidence: float = 1.0
    role: str | None = None
    group: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "entity": self.entity,
            "value": self.value,
            "start": self.start,
            "end": self.end,
            "confidence_entity": self.confidence,
            "extractor": self.extractor,
        }
        if self.role is not None:
            data["role"] = self.role
        if self.group is not None:
            data["group"] = self.group
        return data


@dataclass(frozen=True)
class IntentScore:
    name: str
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "confidence": round(float(self.confidence), 6)}


FALLBACK_INTENT = intent_names.FALLBACK


@dataclass(frozen=True)
class Parse:
    """The NLU result for one message, in Rasa's parse shape via `as_dict`.

    When the classifier abstains, `intent` is `nlu_fallback` (confidence = the threshold) and the
    original ranking follows it in `intent_ranking`, as Rasa's FallbackClassifier does.
    """

    text: str
    intent: IntentScore
    entities: tuple[Entity, ...] = ()
    intent_ranking: tuple[IntentScore, ...] = ()
    abstained: bool = False
    fallback_reason: str | None = None  # "ambiguous" (two intents too close) or "out_of_scope" (low score)
    language: str | None = None  # ISO 639-1 code when the message is confidently in a recognised language

    @property
    def top_intent(self) -> str:
        """The best real intent, skipping `nlu_fallback`."""
        for score in self.intent_ranking:
            if score.name != FALLBACK_INTENT:
                return score.name
        return self.intent.name

    def entity_values(self, name: str) -> list[Any]:
        return [e.value for e in self.entities if e.entity == name]

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "intent": self.intent.as_dict(),
            "entities": [e.as_dict() for e in self.entities],
            "intent_ranking": [s.as_dict() for s in self.intent_ranking],
            **({"language": self.language} if self.language else {}),
        }


@dataclass(frozen=True)
class KnowledgeQuery:
    """What the dialogue asks the knowledge base: the message, its one embedding (None: the knowledge
    base encodes the text itself), the values of the entities the customer named (`country`, `shop`,
    `item` …, normalised), and for a follow-up such as "and to France?" the id of the entry that
    answered the previous question. `record=False` keeps an unanswered question off the staff's list."""

    text: str
    embedding: Any = None
    entities: Mapping[str, frozenset[str]] = field(default_factory=dict)
    follow_up: str | None = None
    record: bool = True
    previous: str | None = None  # the entry that answered the previous message (not repeated when a close one fits)
    continues: bool = False  # the message continues the previous question ("and to France?"): another entry
    context: Mapping[str, frozenset[str]] = field(default_factory=dict)  # named earlier: filter only, no bonus

    @classmethod
    def from_parse(
        cls,
        parse: Parse,
        embedding: Any,
        *,
        follow_up: str | None = None,
        previous: str | None = None,
        record: bool = True,
        continues: bool = False,
    ) -> KnowledgeQuery:
        named = values_by_entity((e.entity, e.value) for e in parse.entities)
        return cls(parse.text, embedding, named, follow_up, record, previous, continues)


def values_by_entity(pairs: Iterable[tuple[str, Any]]) -> dict[str, frozenset[str]]:
    """(entity, value) pairs grouped by entity, text values only, lower case: what a customer named."""
    named: dict[str, set[str]] = {}
    for entity, value in pairs:
        if isinstance(value, str):
            named.setdefault(entity, set()).add(value.lower())
    return {k: frozenset(v) for k, v in named.items()}

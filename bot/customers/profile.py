"""What supportbot remembers about a customer who agreed: value objects only, no I/O.

A profile exists once the customer answered the question "shall I remember …?" (or asked the bot to
remember something): `consent` says yes (`given`) or no (`refused`, and then nothing else is kept). With
consent it holds the preferences (`PREFERENCES`), the products the customer looked at or was shown, and a
short record of past conversations (date, topics, outcome) — never their text, and never orders (those stay
in the shop's backend).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

PREFERENCES = ("shop", "size_tops", "size_bottoms", "size_shoes", "fit", "language")
"""The preferences a profile may hold, in the order they are listed to the customer."""
SIZE_PREFERENCES = {"tops": "size_tops", "bottoms": "size_bottoms", "shoes": "size_shoes"}
"""Size group (`bot.products.ranking.SIZE_GROUPS`) -> preference name."""
MAX_PRODUCTS = 20
"""Products kept per customer (the most recent)."""
MAX_CONVERSATIONS = 20
"""Conversation records kept per customer (the most recent)."""


class Consent(StrEnum):
    GIVEN = "given"
    REFUSED = "refused"


class Outcome(StrEnum):
    """How a conversation ended, as far as the bot can tell."""

    ANSWERED = "answered"
    TASK_DONE = "task_done"
    HANDED_OFF = "handed_off"


class Relation(StrEnum):
    VIEWED = "viewed"
    """the customer asked about this product (stock, what goes with it, similar ones)"""
    RECOMMENDED = "recommended"
    """the bot showed it as a card"""


@dataclass(frozen=True)
class ProductSeen:
    sku: str
    name: str
    relation: Relation
    at: float


@dataclass(frozen=True)
class ConversationRecord:
    """One past conversation (a session of a sender): when, about what, and how it ended."""

    sender_id: str
    session_id: int
    started_at: float
    updated_at: float
    topics: tuple[str, ...] = ()
    outcome: Outcome = Outcome.ANSWERED

    def as_dict(self) -> dict[str, Any]:
        return {
            "sender_id": self.sender_id,
            "session_id": self.session_id,
            "started_at": iso(self.started_at),
            "updated_at": iso(self.updated_at),
            "topics": list(self.topics),
            "outcome": self.outcome.value,
        }


@dataclass(frozen=True)
class CustomerProfile:
    id: str
    """supportbot's own id of the profile (`cus_…`), never shown to the customer"""
    consent: Consent
    email: str | None = None
    shop_customer_id: str | None = None
    consent_at: float = 0.0
    created_at: float = 0.0
    updated_at: float = 0.0
    preferences: Mapping[str, str] = field(default_factory=dict)
    products: tuple[ProductSeen, ...] = ()
    """most recent first"""
    conversations: tuple[ConversationRecord, ...] = ()
    """most recent first"""
    complete: bool = True
    """False for the brief profile read on every message (`CustomerStore.find_brief`): preferences only,
    without the products and conversation records"""

    @property
    def remembers(self) -> bool:
        """Does the profile hold anything beyond the consent answer?"""
        return bool(self.preferences or self.products or self.conversations)

    @property
    def sizes(self) -> dict[str, str]:
        """Size group -> size, for product search (`ShopperPreferences.sizes`)."""
        return {group: self.preferences[name] for group, name in SIZE_PREFERENCES.items() if name in self.preferences}

    def as_dict(self) -> dict[str, Any]:
        """Everything in the profile, for an export."""
        return {
            "id": self.id,
            "email": self.email,
            "shop_customer_id": self.shop_customer_id,
            "consent": self.consent.value,
            "consent_at": iso(self.consent_at),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "preferences": {name: self.preferences[name] for name in PREFERENCES if name in self.preferences},
            "products": [
                {"sku": p.sku, "name": p.name, "relation": p.relation.value, "at": iso(p.at)} for p in self.products
            ],
            "conversations": [c.as_dict() for c in self.conversations],
        }


def iso(moment: float) -> str | None:
    """A Unix time as an ISO 8601 UTC string (None for 0: never)."""
    return datetime.fromtimestamp(moment, UTC).isoformat() if moment else None

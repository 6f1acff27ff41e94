"""`CustomerStore`: where customer profiles live. The protocol, its errors and the in-memory fake.

`SqlCustomerStore` (`bot.customers.sql`) is the real one, in the bot's database. Every write is one
transaction; a database failure is a `CustomerStoreError`. A profile is created by the customer's answer
to "shall I remember …?" (`set_consent`); a refusal keeps only that answer.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from bot.customers.identity import Identity, normalise_email
from bot.customers.profile import (
    MAX_CONVERSATIONS,
    MAX_PRODUCTS,
    PREFERENCES,
    Consent,
    ConversationRecord,
    CustomerProfile,
    ProductSeen,
)
from bot.errors import BackendError

FORGETTABLE = (*PREFERENCES, "products", "conversations")
"""What `CustomerStore.forget` takes: a preference, the products seen, or the conversation records."""


class CustomerStoreError(BackendError):
    """The customer store cannot read or write now."""


class CustomerNotFoundError(BackendError):
    """Nothing is stored about the customer asked for (staff tools)."""

    def __init__(self, who: str) -> None:
        self.who = who
        super().__init__(
            f"nothing is stored about {who!r} — check the spelling (an email address, or the shop's customer id "
            "of a signed-in customer); `supportbot customers show` lists what is stored about someone"
        )


def new_customer_id() -> str:
    return "cus_" + secrets.token_hex(8)


def check_preferences(preferences: Mapping[str, str]) -> None:
    unknown = sorted(set(preferences) - set(PREFERENCES))
    if unknown:
        raise ValueError(f"unknown preference(s) {unknown}; a profile holds {', '.join(PREFERENCES)}")


class CustomerStore(Protocol):
    def find(self, identity: Identity) -> CustomerProfile | None:
        """The profile of a proven customer (None: never asked, or forgotten)."""
        ...

    def find_brief(self, identity: Identity) -> CustomerProfile | None:
        """`find` without the products and conversation records (`complete=False`): what every message of a
        proven customer reads, so it must be cheap."""
        ...

    def get(self, customer_id: str) -> CustomerProfile | None: ...

    def set_consent(
        self, identity: Identity, consent: Consent, preferences: Mapping[str, str] | None = None
    ) -> CustomerProfile:
        """Record the customer's answer, creating the profile, with the preferences it was given for (one
        transaction: both or neither); a refusal deletes everything else kept."""
        ...

    def remember(self, customer_id: str, preferences: Mapping[str, str]) -> CustomerProfile:
        """Set preferences (names of `PREFERENCES`); raises ValueError for another name."""
        ...

    def forget(self, customer_id: str, names: Collection[str]) -> CustomerProfile:
        """Delete preferences, `products` or `conversations` (names of `FORGETTABLE`)."""
        ...

    def delete(self, customer_id: str) -> bool:
        """Delete the profile and everything it holds; False when there was none."""
        ...

    def attach_email(self, customer_id: str, email: str) -> bool:
        """Give a signed-in customer's profile the email they verified (False when another profile has it)."""
        ...

    def record_conversation(self, customer_id: str, record: ConversationRecord) -> None:
        """Insert or update the record of (sender, session); only the most recent `MAX_CONVERSATIONS` stay.
        Nothing is written unless the profile exists with consent given (it may be written behind the turn)."""
        ...

    def record_products(self, customer_id: str, products: Sequence[ProductSeen]) -> None:
        """Add products seen; only the most recent `MAX_PRODUCTS` stay."""
        ...

    def profiles(self) -> list[CustomerProfile]:
        """Every profile (staff tools; a handful of rows per customer)."""
        ...


class InMemoryCustomerStore:
    """The fake: profiles in a dict."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._profiles: dict[str, CustomerProfile] = {}
        self._lock = threading.Lock()

    def find(self, identity: Identity) -> CustomerProfile | None:
        for profile in self._profiles.values():
            if identity.kind == "email" and profile.email == normalise_email(identity.value):
                return profile
            if identity.kind == "shop" and profile.shop_customer_id == identity.value:
                return profile
        return None

    def find_brief(self, identity: Identity) -> CustomerProfile | None:
        return self.find(identity)

    def get(self, customer_id: str) -> CustomerProfile | None:
        return self._profiles.get(customer_id)

    def set_consent(
        self, identity: Identity, consent: Consent, preferences: Mapping[str, str] | None = None
    ) -> CustomerProfile:
        check_preferences(preferences or {})
        now = self.clock()
        with self._lock:
            profile = self.find(identity)
            if profile is None:
                email = normalise_email(identity.value) if identity.kind == "email" else None
                shop_id = identity.value if identity.kind == "shop" else None
                profile = CustomerProfile(new_customer_id(), consent, email, shop_id, created_at=now)
            profile = replace(profile, consent=consent, consent_at=now, updated_at=now)
            if consent is Consent.REFUSED:
                profile = replace(profile, preferences={}, products=(), conversations=())
            elif preferences:
                profile = replace(profile, preferences={**profile.preferences, **preferences})
            self._profiles[profile.id] = profile
            return profile

    def _change(self, customer_id: str, **changes: object) -> CustomerProfile:
        profile = self._profiles.get(customer_id)
        if profile is None:
            raise CustomerNotFoundError(customer_id)
        profile = replace(profile, updated_at=self.clock(), **changes)  # type: ignore[arg-type]
        self._profiles[customer_id] = profile
        return profile

    def remember(self, customer_id: str, preferences: Mapping[str, str]) -> CustomerProfile:
        check_preferences(preferences)
        with self._lock:
            current = self._profiles[customer_id].preferences if customer_id in self._profiles else {}
            return self._change(customer_id, preferences={**current, **preferences})

    def forget(self, customer_id: str, names: Collection[str]) -> CustomerProfile:
        with self._lock:
            profile = self._profiles.get(customer_id)
            if profile is None:
                raise CustomerNotFoundError(customer_id)
            kept = {k: v for k, v in profile.preferences.items() if k not in names}
            products = () if "products" in names else profile.products
            conversations = () if "conversations" in names else profile.conversations
            return self._change(customer_id, preferences=kept, products=products, conversations=conversations)

    def delete(self, customer_id: str) -> bool:
        with self._lock:
            return self._profiles.pop(customer_id, None) is not None

    def attach_email(self, customer_id: str, email: str) -> bool:
        address = normalise_email(email)
        with self._lock:
            owner = self.find(Identity("email", address))
            if owner is not None:
                return owner.id == customer_id
            self._change(customer_id, email=address)
            return True

    def record_conversation(self, customer_id: str, record: ConversationRecord) -> None:
        with self._lock:
            profile = self._profiles.get(customer_id)
            if profile is None or profile.consent is not Consent.GIVEN:
                return
            others = [
                c for c in profile.conversations if (c.sender_id, c.session_id) != (record.sender_id, record.session_id)
            ]
            kept = sorted([record, *others], key=lambda c: c.updated_at, reverse=True)[:MAX_CONVERSATIONS]
            self._change(customer_id, conversations=tuple(kept))

    def record_products(self, customer_id: str, products: Sequence[ProductSeen]) -> None:
        with self._lock:
            profile = self._profiles.get(customer_id)
            if profile is None or profile.consent is not Consent.GIVEN:
                return
            kept = sorted([*products, *profile.products], key=lambda p: p.at, reverse=True)[:MAX_PRODUCTS]
            self._change(customer_id, products=tuple(kept))

    def profiles(self) -> list[CustomerProfile]:
        return sorted(self._profiles.values(), key=lambda p: p.created_at)

"""The `CustomerStore` contract, for the SQL store (an SQLite file, and a PostgreSQL schema when
SUPPORTBOT_TEST_POSTGRES_URL is set) and the in-memory fake alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.customers.identity import Identity
from bot.customers.profile import (
    MAX_CONVERSATIONS,
    MAX_PRODUCTS,
    Consent,
    ConversationRecord,
    Outcome,
    ProductSeen,
    Relation,
)
from bot.customers.sql import SqlCustomerStore
from bot.customers.store import CustomerNotFoundError, CustomerStore, InMemoryCustomerStore
from tests.databases import fresh_database

ANNA = Identity.email("Anna@Example.com")
SHOP_ID = Identity("shop", "cust-4711")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


@pytest.fixture(params=["sqlite", "postgresql", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CustomerStore]:
    if request.param == "memory":
        yield InMemoryCustomerStore(clock=Clock())
        return
    for url in fresh_database(str(request.param), tmp_path, "customers", "the customer store"):
        sql = SqlCustomerStore.from_url(url, clock=Clock())
        try:
            yield sql
        finally:
            sql.engine.dispose()


def test_consent_creates_the_profile_once(store: CustomerStore) -> None:
    assert store.find(ANNA) is None
    first = store.set_consent(ANNA, Consent.GIVEN)
    again = store.set_consent(Identity.email("anna@example.com"), Consent.GIVEN)
    assert first.id == again.id and first.id.startswith("cus_")
    assert again.email == "anna@example.com" and again.consent is Consent.GIVEN
    assert [p.id for p in store.profiles()] == [first.id]


def test_remember_and_forget_preferences(store: CustomerStore) -> None:
    profile = store.set_consent(SHOP_ID, Consent.GIVEN)
    store.remember(profile.id, {"shop": "berlin", "size_tops": "M"})
    updated = store.remember(profile.id, {"size_tops": "L", "fit": "slim"})
    assert dict(updated.preferences) == {"shop": "berlin", "size_tops": "L", "fit": "slim"}
    assert updated.sizes == {"tops": "L"}
    after = store.forget(profile.id, ["size_tops", "fit"])
    assert dict(after.preferences) == {"shop": "berlin"}
    with pytest.raises(ValueError, match="unknown preference"):
        store.remember(profile.id, {"favourite_colour": "red"})
    with pytest.raises(CustomerNotFoundError):
        store.remember("cus_missing", {"shop": "paris"})


def test_a_refusal_keeps_nothing_but_the_answer(store: CustomerStore) -> None:
    profile = store.set_consent(ANNA, Consent.GIVEN)
    store.remember(profile.id, {"shop": "paris"})
    store.record_products(profile.id, [ProductSeen("CO-101", "Wool coat", Relation.VIEWED, 1.0)])
    refused = store.set_consent(ANNA, Consent.REFUSED)
    assert refused.consent is Consent.REFUSED and not refused.remembers and refused.id == profile.id


def test_conversation_records_are_upserted_and_capped(store: CustomerStore) -> None:
    profile = store.set_consent(ANNA, Consent.GIVEN)
    store.record_conversation(profile.id, ConversationRecord("s1", 1, 10.0, 11.0, ("ask_hours",)))
    store.record_conversation(
        profile.id, ConversationRecord("s1", 1, 10.0, 12.0, ("ask_hours", "order_status"), Outcome.TASK_DONE)
    )
    (record,) = store.get(profile.id).conversations  # type: ignore[union-attr]
    assert record.topics == ("ask_hours", "order_status") and record.outcome is Outcome.TASK_DONE
    for n in range(MAX_CONVERSATIONS + 5):
        store.record_conversation(profile.id, ConversationRecord(f"s{n + 2}", 1, 20.0 + n, 20.0 + n))
    kept = store.get(profile.id).conversations  # type: ignore[union-attr]
    assert len(kept) == MAX_CONVERSATIONS and kept[0].sender_id == f"s{MAX_CONVERSATIONS + 6}"


def test_products_seen_keep_the_most_recent(store: CustomerStore) -> None:
    profile = store.set_consent(ANNA, Consent.GIVEN)
    for n in range(MAX_PRODUCTS + 3):
        store.record_products(profile.id, [ProductSeen(f"SKU-{n}", f"Product {n}", Relation.RECOMMENDED, float(n))])
    kept = store.get(profile.id).products  # type: ignore[union-attr]
    assert len(kept) == MAX_PRODUCTS and kept[0].sku == f"SKU-{MAX_PRODUCTS + 2}"
    assert store.forget(profile.id, ["products"]).products == ()


def test_a_signed_in_customer_gets_the_email_they_verified_unless_taken(store: CustomerStore) -> None:
    signed_in = store.set_consent(SHOP_ID, Consent.GIVEN)
    other = store.set_consent(Identity.email("ben@example.com"), Consent.GIVEN)
    assert store.attach_email(signed_in.id, "ANNA@example.com") is True
    assert store.find(ANNA) is not None and store.find(ANNA).id == signed_in.id  # type: ignore[union-attr]
    assert store.attach_email(signed_in.id, "ben@example.com") is False
    assert store.get(other.id).email == "ben@example.com"  # type: ignore[union-attr]


def test_delete_removes_the_profile(store: CustomerStore) -> None:
    profile = store.set_consent(ANNA, Consent.GIVEN)
    store.remember(profile.id, {"shop": "paris"})
    assert store.delete(profile.id) is True
    assert store.find(ANNA) is None and store.get(profile.id) is None
    assert store.delete(profile.id) is False


def test_consent_and_its_preference_are_stored_together_or_not_at_all(
    store: CustomerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = store.set_consent(ANNA, Consent.GIVEN, {"shop": "berlin"})
    assert dict(given.preferences) == {"shop": "berlin"}
    with pytest.raises(ValueError, match="unknown preference"):
        store.set_consent(SHOP_ID, Consent.GIVEN, {"favourite_colour": "red"})
    assert store.find(SHOP_ID) is None
    if isinstance(store, SqlCustomerStore):  # a failure inside the transaction rolls the profile back too
        import bot.customers.sql as sql

        def broken(*args: object) -> None:
            raise sql.SQLAlchemyError("disk I/O error")

        monkeypatch.setattr(sql, "_set_preferences", broken)
        with pytest.raises(sql.CustomerStoreError, match="disk I/O error"):
            store.set_consent(SHOP_ID, Consent.GIVEN, {"shop": "paris"})
        assert store.find(SHOP_ID) is None

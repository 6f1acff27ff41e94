"""`SqlCustomerStore`: customer profiles in the bot's SQL database (SQLite by default, Postgres-ready).

Four tables, created if missing like the other stores' (`customer_profiles` and, keyed by its id,
`customer_preferences`, `customer_products`, `customer_conversations`). Child rows are deleted explicitly
in the same transaction as their profile, so no foreign-key cascade (off by default on SQLite) is needed.
Every write is one transaction; a database failure is a `CustomerStoreError`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    RowMapping,
    String,
    Table,
    Text,
    bindparam,
    delete,
    select,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bot.customers.identity import Identity, normalise_email
from bot.customers.profile import (
    MAX_CONVERSATIONS,
    MAX_PRODUCTS,
    Consent,
    ConversationRecord,
    CustomerProfile,
    Outcome,
    ProductSeen,
    Relation,
)
from bot.customers.store import CustomerNotFoundError, CustomerStoreError, check_preferences, new_customer_id
from bot.database_file import damaged_database
from bot.dialogue.tracker_store import make_engine

metadata = MetaData()
profiles = Table(
    "customer_profiles",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("email", String(254), nullable=True, unique=True),
    Column("shop_customer_id", String(128), nullable=True, unique=True),
    Column("consent", String(16), nullable=False),
    Column("consent_at", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
preferences = Table(
    "customer_preferences",
    metadata,
    Column("customer_id", String(40), primary_key=True),
    Column("name", String(32), primary_key=True),
    Column("value", String(64), nullable=False),
    Column("updated_at", Float, nullable=False),
)
products = Table(
    "customer_products",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(40), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("relation", String(16), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_customer_products_customer", "customer_id", "at"),
)
conversations = Table(
    "customer_conversations",
    metadata,
    Column("customer_id", String(40), primary_key=True),
    Column("sender_id", String(128), primary_key=True),
    Column("session_id", Integer, primary_key=True),
    Column("started_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("topics", Text, nullable=False),
    Column("outcome", String(16), nullable=False),
    Index("ix_customer_conversations_sender", "sender_id"),
)
CHILD_TABLES = (preferences, products, conversations)


def _brief_query(key: Column[Any]) -> Any:
    """The profile row with its preferences (one row per preference), by `key` = :value: built once and
    reused, so SQLAlchemy compiles it once (a fresh statement per message costs ~0.3 ms)."""
    joined = profiles.outerjoin(preferences, preferences.c.customer_id == profiles.c.id)
    columns = (*profiles.c, preferences.c.name.label("pref_name"), preferences.c.value.label("pref_value"))
    return select(*columns).select_from(joined).where(key == bindparam("value"))


_BRIEF_BY_EMAIL = _brief_query(profiles.c.email)
_BRIEF_BY_SHOP_ID = _brief_query(profiles.c.shop_customer_id)


class SqlCustomerStore:
    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock
        try:
            metadata.create_all(engine)
        except SQLAlchemyError as e:
            url = engine.url.render_as_string(hide_password=True)
            raise damaged_database(url, e) or CustomerStoreError(
                f"cannot create the customer tables in {url}: {e}"
            ) from e

    @classmethod
    def from_url(cls, url: str, *, clock: Callable[[], float] = time.time) -> SqlCustomerStore:
        return cls(make_engine(url), clock=clock)

    @contextmanager
    def _transaction(self, what: str) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as e:
            where = self.engine.url.render_as_string(hide_password=True)
            raise CustomerStoreError(f"customer profiles: database {what} failed ({where}): {e}") from e

    # -- reading ---------------------------------------------------------------------------------
    def find(self, identity: Identity) -> CustomerProfile | None:
        column = profiles.c.email if identity.kind == "email" else profiles.c.shop_customer_id
        value = normalise_email(identity.value) if identity.kind == "email" else identity.value
        with self._transaction("read") as conn:
            row = conn.execute(select(profiles).where(column == value)).mappings().first()
            return _load(conn, row) if row is not None else None

    def find_brief(self, identity: Identity) -> CustomerProfile | None:
        query = _BRIEF_BY_EMAIL if identity.kind == "email" else _BRIEF_BY_SHOP_ID
        value = normalise_email(identity.value) if identity.kind == "email" else identity.value
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query, {"value": value}).mappings().all()
        except SQLAlchemyError as e:
            where = self.engine.url.render_as_string(hide_password=True)
            raise CustomerStoreError(f"customer profiles: database read failed ({where}): {e}") from e
        if not rows:
            return None
        return _profile(
            rows[0],
            preferences={str(r["pref_name"]): str(r["pref_value"]) for r in rows if r["pref_name"] is not None},
            complete=False,
        )

    def get(self, customer_id: str) -> CustomerProfile | None:
        with self._transaction("read") as conn:
            row = conn.execute(select(profiles).where(profiles.c.id == customer_id)).mappings().first()
            return _load(conn, row) if row is not None else None

    def profiles(self) -> list[CustomerProfile]:
        with self._transaction("read") as conn:
            rows = conn.execute(select(profiles).order_by(profiles.c.created_at)).mappings().all()
            return [_load(conn, row) for row in rows]

    # -- writing ---------------------------------------------------------------------------------
    def set_consent(
        self, identity: Identity, consent: Consent, preferences_: Mapping[str, str] | None = None
    ) -> CustomerProfile:
        check_preferences(preferences_ or {})
        now = self.clock()
        for _attempt in range(2):  # a concurrent first answer of the same customer: the loser updates
            try:
                with self._transaction("write") as conn:
                    customer_id = self._upsert_consent(conn, identity, consent, now)
                    if consent is Consent.REFUSED:
                        for table in CHILD_TABLES:
                            conn.execute(delete(table).where(table.c.customer_id == customer_id))
                    elif preferences_:
                        _set_preferences(conn, customer_id, preferences_, now)
                break
            except CustomerStoreError as e:
                if not isinstance(e.__cause__, IntegrityError):
                    raise
        found = self.find(identity)
        assert found is not None  # just written
        return found

    def _upsert_consent(self, conn: Connection, identity: Identity, consent: Consent, now: float) -> str:
        column = profiles.c.email if identity.kind == "email" else profiles.c.shop_customer_id
        value = normalise_email(identity.value) if identity.kind == "email" else identity.value
        existing = conn.execute(select(profiles.c.id).where(column == value)).scalar()
        if existing is not None:
            conn.execute(
                profiles.update()
                .where(profiles.c.id == existing)
                .values(consent=consent.value, consent_at=now, updated_at=now)
            )
            return str(existing)
        customer_id = new_customer_id()
        conn.execute(
            profiles.insert().values(
                id=customer_id,
                email=value if identity.kind == "email" else None,
                shop_customer_id=value if identity.kind == "shop" else None,
                consent=consent.value,
                consent_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        return customer_id

    def _touch(self, conn: Connection, customer_id: str, now: float) -> None:
        changed = conn.execute(profiles.update().where(profiles.c.id == customer_id).values(updated_at=now))
        if changed.rowcount == 0:
            raise CustomerNotFoundError(customer_id)

    def remember(self, customer_id: str, preferences_: Mapping[str, str]) -> CustomerProfile:
        check_preferences(preferences_)
        now = self.clock()
        with self._transaction("write") as conn:
            self._touch(conn, customer_id, now)
            _set_preferences(conn, customer_id, preferences_, now)
        return self._required(customer_id)

    def forget(self, customer_id: str, names: Collection[str]) -> CustomerProfile:
        now = self.clock()
        with self._transaction("write") as conn:
            self._touch(conn, customer_id, now)
            conn.execute(
                delete(preferences).where(
                    (preferences.c.customer_id == customer_id) & preferences.c.name.in_(list(names))
                )
            )
            if "products" in names:
                conn.execute(delete(products).where(products.c.customer_id == customer_id))
            if "conversations" in names:
                conn.execute(delete(conversations).where(conversations.c.customer_id == customer_id))
        return self._required(customer_id)

    def delete(self, customer_id: str) -> bool:
        with self._transaction("write") as conn:
            for table in CHILD_TABLES:
                conn.execute(delete(table).where(table.c.customer_id == customer_id))
            return bool(conn.execute(delete(profiles).where(profiles.c.id == customer_id)).rowcount)

    def attach_email(self, customer_id: str, email: str) -> bool:
        address = normalise_email(email)
        try:
            with self._transaction("write") as conn:
                owner = conn.execute(select(profiles.c.id).where(profiles.c.email == address)).scalar()
                if owner is not None:
                    return str(owner) == customer_id
                conn.execute(
                    profiles.update().where(profiles.c.id == customer_id).values(email=address, updated_at=self.clock())
                )
                return True
        except CustomerStoreError as e:
            if isinstance(e.__cause__, IntegrityError):  # another profile took it meanwhile
                return False
            raise

    def record_conversation(self, customer_id: str, record: ConversationRecord) -> None:
        c = conversations
        key = (
            (c.c.customer_id == customer_id)
            & (c.c.sender_id == record.sender_id)
            & (c.c.session_id == record.session_id)
        )
        values = {
            "updated_at": record.updated_at,
            "topics": json.dumps(list(record.topics)),
            "outcome": record.outcome.value,
        }
        with self._transaction("write") as conn:
            if not _consenting(conn, customer_id):
                return
            if conn.execute(c.update().where(key).values(**values)).rowcount == 0:
                conn.execute(
                    c.insert().values(
                        customer_id=customer_id,
                        sender_id=record.sender_id,
                        session_id=record.session_id,
                        started_at=record.started_at,
                        **values,
                    )
                )
            _keep_recent(conn, c, customer_id, c.c.updated_at, MAX_CONVERSATIONS)

    def record_products(self, customer_id: str, seen: Sequence[ProductSeen]) -> None:
        if not seen:
            return
        with self._transaction("write") as conn:
            if not _consenting(conn, customer_id):
                return
            conn.execute(
                products.insert(),
                [
                    {
                        "customer_id": customer_id,
                        "sku": p.sku,
                        "name": p.name[:200],
                        "relation": p.relation.value,
                        "at": p.at,
                    }
                    for p in seen
                ],
            )
            _keep_recent(conn, products, customer_id, products.c.at, MAX_PRODUCTS)

    def _required(self, customer_id: str) -> CustomerProfile:
        profile = self.get(customer_id)
        if profile is None:
            raise CustomerNotFoundError(customer_id)
        return profile


def _set_preferences(conn: Connection, customer_id: str, values: Mapping[str, str], now: float) -> None:
    p = preferences
    for name, value in values.items():
        where = (p.c.customer_id == customer_id) & (p.c.name == name)
        if conn.execute(p.update().where(where).values(value=value, updated_at=now)).rowcount == 0:
            conn.execute(p.insert().values(customer_id=customer_id, name=name, value=value, updated_at=now))


def _consenting(conn: Connection, customer_id: str) -> bool:
    """Does the profile still exist with consent given? (A record written behind the turn must not land
    after the customer said no or was deleted.)"""
    mine = (profiles.c.id == customer_id) & (profiles.c.consent == Consent.GIVEN.value)
    # FOR UPDATE (PostgreSQL): a delete or refusal waits for this write, or this write sees it
    return conn.execute(select(profiles.c.id).where(mine).with_for_update()).first() is not None


def _keep_recent(conn: Connection, table: Table, customer_id: str, order: Any, keep: int) -> None:
    """Delete the customer's rows of `table` beyond the `keep` most recent (by `order`)."""
    mine = table.c.customer_id == customer_id
    cutoff = conn.execute(select(order).where(mine).order_by(order.desc()).offset(keep - 1).limit(1)).scalar()
    if cutoff is not None:
        conn.execute(delete(table).where(mine & (order < cutoff)))


def _load(conn: Connection, row: RowMapping) -> CustomerProfile:
    customer_id = str(row["id"])
    prefs = conn.execute(
        select(preferences.c.name, preferences.c.value).where(preferences.c.customer_id == customer_id)
    ).all()
    seen = conn.execute(
        select(products)
        .where(products.c.customer_id == customer_id)
        .order_by(products.c.at.desc(), products.c.id.desc())
    ).mappings()
    records = conn.execute(
        select(conversations)
        .where(conversations.c.customer_id == customer_id)
        .order_by(conversations.c.updated_at.desc())
    ).mappings()
    return _profile(
        row,
        preferences={str(name): str(value) for name, value in prefs},
        products=tuple(ProductSeen(p["sku"], p["name"], Relation(p["relation"]), float(p["at"])) for p in seen),
        conversations=tuple(
            ConversationRecord(
                r["sender_id"],
                int(r["session_id"]),
                float(r["started_at"]),
                float(r["updated_at"]),
                tuple(json.loads(r["topics"])),
                Outcome(r["outcome"]),
            )
            for r in records
        ),
    )


def _profile(row: RowMapping, **parts: Any) -> CustomerProfile:
    """A profile from its `customer_profiles` row and its `parts` (preferences, products, conversations...)."""
    return CustomerProfile(
        id=str(row["id"]),
        consent=Consent(str(row["consent"])),
        email=row["email"],
        shop_customer_id=row["shop_customer_id"],
        consent_at=float(row["consent_at"]),
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
        **parts,
    )

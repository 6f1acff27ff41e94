"""`SqlShopBackend`: the reference `ShopBackend` on SQLAlchemy 2 (SQLite by default).

Every write runs in ONE transaction (`_write`); on SQLite it starts with `BEGIN IMMEDIATE`, so two
concurrent bookings of the last slot serialise instead of failing with "database is locked", and the
partial unique index `uq_appointment_booked_slot` guarantees a slot is never booked twice even if some
other writer skips the check. Any exception inside a transaction rolls it back entirely.

Failed verifications (an order number or booking reference with an email that does not go with it) are
kept in `verification_failures`, one row per key and failure, for `bot.actions.verification` to cap.

A damaged SQLite file (garbage, truncated, not a database) raises the `ConfigError` of
`bot.database_file.damaged_database`: the file, the cause and the fix; other database failures raise
`BackendError`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Column, Engine, Float, Index, Integer, String, Table, create_engine, event, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, contains_eager, joinedload, selectinload
from sqlalchemy.pool import StaticPool

from bot.actions.backend.activity import OpenActivity, open_activity_of
from bot.actions.backend.catalogue import SqlCatalogue
from bot.actions.backend.models import (
    AppointmentRow,
    Base,
    CustomerRow,
    OrderItemRow,
    OrderRow,
    ReturnLineRow,
    ReturnRow,
    SlotRow,
)
from bot.actions.backend.policy import item_refusal, order_refusal
from bot.actions.backend.protocol import (
    RETURN_WINDOW_DAYS,
    Appointment,
    AppointmentNotFoundError,
    AppointmentStatus,
    Order,
    OrderItem,
    OrderNotCancellableError,
    OrderNotFoundError,
    OrderStatus,
    Return,
    ReturnNotAllowedError,
    Slot,
    SlotUnavailableError,
)
from bot.database_file import damaged_database
from bot.dialogue.handoff import handoff_tickets
from bot.errors import BackendError, SupportbotError
from bot.products.catalogue import Pairing, Product

Clock = Callable[[], datetime]
_WRITE = "supportbot_write"
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
VERIFICATION_RETENTION = timedelta(days=7)
"""Failed verifications older than this are deleted (the cool-down is minutes; this bounds the table)."""

verification_failures = Table(
    "verification_failures",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),
    Column("failed_at", Float, nullable=False),  # Unix seconds
    Index("ix_verification_failures_key_time", "key", "failed_at"),
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _random_code(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(length))


def database_failure(url: str, doing: str, error: Exception) -> SupportbotError:
    """The error of a failed database operation: a damaged file names itself and the fix (ConfigError),
    anything else is a BackendError saying what failed."""
    return damaged_database(url, error) or BackendError(f"{doing} ({url}): {error}")


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets a busy timeout, foreign keys, WAL and `BEGIN IMMEDIATE` writes."""
    try:
        if not url.startswith("sqlite"):
            return create_engine(url, pool_pre_ping=True)
        memory = url in ("sqlite://", "sqlite:///:memory:")
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if memory:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)
    except (SQLAlchemyError, ValueError) as e:
        raise BackendError(
            f"database_url {url!r} is not usable: {e} — set SUPPORTBOT_DATABASE_URL to a SQLAlchemy URL "
            "such as sqlite:///.supportbot/supportbot.db"
        ) from e

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class SqlShopBackend:
    """The reference shop backend on a SQLAlchemy database (implements `ShopBackend`)."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock = utc_now,
        return_window_days: int = RETURN_WINDOW_DAYS,
        engine: Engine | None = None,
    ) -> None:
        self.url = url
        self.clock = clock
        self.return_window_days = return_window_days
        self.engine = engine or make_engine(url)
        self._write_engine = self.engine.execution_options(**{_WRITE: True})
        self.catalogue = SqlCatalogue(self._read, self.write)

    # Catalogue (bot.products.Catalogue) -------------------------------------------------------------
    def products(self) -> Sequence[Product]:
        return self.catalogue.products()

    def product(self, sku: str) -> Product | None:
        return self.catalogue.product(sku)

    def pairings(self) -> Sequence[Pairing]:
        return self.catalogue.pairings()

    def co_purchases(self) -> Mapping[tuple[str, str], int]:
        return self.catalogue.co_purchases()

    def colour_families(self) -> Mapping[str, str]:
        return self.catalogue.colour_families()

    def replace_catalogue(self, products: Sequence[Product], pairings: Sequence[Pairing] | None = None) -> None:
        self.catalogue.replace_catalogue(products, pairings)

    # Schema -----------------------------------------------------------------------------------
    # The handoff tickets (bot.dialogue.handoff) share this database: a reset starts them afresh too.
    def create_schema(self) -> None:
        try:
            Base.metadata.create_all(self.engine)
            handoff_tickets.create(self.engine, checkfirst=True)
        except SQLAlchemyError as e:
            raise database_failure(self.url, "cannot create the shop tables", e) from e

    def drop_schema(self) -> None:
        try:
            Base.metadata.drop_all(self.engine)
            handoff_tickets.drop(self.engine, checkfirst=True)
        except SQLAlchemyError as e:
            raise BackendError(f"cannot drop the shop tables in {self.url!r}: {e}") from e

    def is_empty(self) -> bool:
        with self._read() as s:
            return s.scalar(select(func.count()).select_from(OrderRow)) == 0

    def dispose(self) -> None:
        self.engine.dispose()

    # Transactions -----------------------------------------------------------------------------
    @contextmanager
    def _read(self) -> Iterator[Session]:
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                yield session
        except SQLAlchemyError as e:
            raise database_failure(self.url, "shop database read failed", e) from e

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed on success, rolled back on ANY exception."""
        try:
            with Session(self._write_engine, expire_on_commit=False) as session, session.begin():
                yield session
        except SQLAlchemyError as e:
            raise database_failure(self.url, "shop database write failed", e) from e

    # Orders -----------------------------------------------------------------------------------
    def _order_row(self, s: Session, number: str, email: str) -> OrderRow | None:
        """The order with its customer, items and their return lines, in one query."""
        row = (
            s.execute(
                select(OrderRow)
                .join(OrderRow.customer)
                .where(OrderRow.number == number.strip().upper())
                .where(CustomerRow.email == normalise_email(email))
                .options(
                    contains_eager(OrderRow.customer),
                    joinedload(OrderRow.items).joinedload(OrderItemRow.return_line).joinedload(ReturnLineRow.ret),
                )
            )
            .unique()
            .scalar_one_or_none()
        )
        return row

    def find_order(self, number: str, email: str) -> Order | None:
        with self._read() as s:
            row = self._order_row(s, number, email)
            return _order(row) if row is not None else None

    def cancel_order(self, number: str, email: str) -> Order:
        with self.write() as s:
            row = self._order_row(s, number, email)
            if row is None:
                raise OrderNotFoundError(f"no order {number} for that email")
            status = OrderStatus(row.status)
            if not status.cancellable:
                raise OrderNotCancellableError(row.number, status)
            row.status = OrderStatus.CANCELLED.value
            s.flush()
            return _order(row)

    # Returns ----------------------------------------------------------------------------------
    def create_return(self, number: str, email: str, item_ids: Sequence[int], reason: str, *, today: date) -> Return:
        if not item_ids:
            raise ReturnNotAllowedError(number, "no items chosen")
        with self.write() as s:
            row = self._order_row(s, number, email)
            if row is None:
                raise OrderNotFoundError(f"no order {number} for that email")
            order = _order(row)
            refusal = order_refusal(order, today, self.return_window_days)
            if refusal is not None:
                raise ReturnNotAllowedError(order.number, refusal.value)
            for item_id in item_ids:
                item = order.item(item_id)
                if item is None:
                    raise ReturnNotAllowedError(order.number, f"item {item_id} is not in this order")
                item_problem = item_refusal(item)
                if item_problem is not None:
                    raise ReturnNotAllowedError(order.number, f"{item.name}: {item_problem.value}")
            ret = ReturnRow(rma=_random_code("RMA-", 6), order_id=row.id, reason=reason, created_at=self.clock())
            ret.lines = [ReturnLineRow(item_id=i) for i in dict.fromkeys(item_ids)]
            s.add(ret)
            try:
                s.flush()
            except IntegrityError as e:
                raise ReturnNotAllowedError(order.number, "an item was returned meanwhile") from e
            return Return(ret.rma, order.number, tuple(dict.fromkeys(item_ids)), reason, ret.created_at)

    # A known customer's open business (bot.actions.backend.activity) ---------------------------------
    def open_activity(self, customer: str, now: datetime) -> OpenActivity | None:
        """By email, or by the shop's customer id (`shop_customers.id`); None for an unknown customer."""
        wanted = customer.strip()
        with self._read() as s:
            query = select(CustomerRow)
            if "@" in wanted:
                query = query.where(CustomerRow.email == normalise_email(wanted))
            elif wanted.isdigit():
                query = query.where(CustomerRow.id == int(wanted))
            else:
                return None
            person = s.scalar(query)
            if person is None:
                return None
            orders = s.scalars(
                select(OrderRow)
                .where(OrderRow.customer_id == person.id)
                .options(
                    joinedload(OrderRow.customer),
                    joinedload(OrderRow.items).joinedload(OrderItemRow.return_line).joinedload(ReturnLineRow.ret),
                )
            ).unique()
            returns = s.scalars(
                select(ReturnRow)
                .join(ReturnRow.order)
                .where(OrderRow.customer_id == person.id)
                .options(selectinload(ReturnRow.lines), contains_eager(ReturnRow.order))
            )
            booked = s.scalars(
                select(AppointmentRow)
                .where(AppointmentRow.email == person.email)
                .options(selectinload(AppointmentRow.slot))
            )
            return open_activity_of(
                person.name.split(" ")[0],
                [_order(o) for o in orders],
                [Return(r.rma, r.order.number, tuple(li.item_id for li in r.lines), r.reason, r.created_at)
                 for r in returns],
                [_appointment(a, a.slot) for a in booked],
                now,
            )  # fmt: skip

    # Failed verifications (bot.actions.verification.VerificationLog) ----------------------------------
    def record_failed_verification(self, keys: Sequence[str]) -> None:
        """One failure now for each key (e.g. `order:AN-10001`, `conversation:<sender>`); drops old ones."""
        now = self.clock().timestamp()
        with self.write() as s:
            s.execute(verification_failures.insert(), [{"key": key, "failed_at": now} for key in keys])
            old = now - VERIFICATION_RETENTION.total_seconds()
            s.execute(verification_failures.delete().where(verification_failures.c.failed_at < old))

    def failed_verifications(self, key: str, since: datetime) -> int:
        """How many failures `key` had from `since` on."""
        table = verification_failures
        with self._read() as s:
            count = s.scalar(
                select(func.count())
                .select_from(table)
                .where(table.c.key == key, table.c.failed_at >= since.timestamp())
            )
        return int(count or 0)

    # Appointments -----------------------------------------------------------------------------
    def list_slots(self, shop: str, start: datetime, end: datetime) -> list[Slot]:
        with self._read() as s:
            booked_ids = select(AppointmentRow.slot_id).where(AppointmentRow.status == AppointmentStatus.BOOKED.value)
            rows = s.execute(
                select(SlotRow, SlotRow.id.in_(booked_ids))
                .where(SlotRow.shop == shop, SlotRow.starts_at >= start, SlotRow.starts_at < end)
                .order_by(SlotRow.starts_at)
            ).all()
            return [Slot(row.shop, row.starts_at, bool(booked)) for row, booked in rows]

    def _take_slot(self, s: Session, shop: str, starts_at: datetime) -> SlotRow:
        slot = s.scalar(select(SlotRow).where(SlotRow.shop == shop, SlotRow.starts_at == starts_at))
        if slot is None:
            raise SlotUnavailableError(shop, starts_at, "no appointment starts at that time")
        taken = s.scalar(
            select(AppointmentRow.id).where(
                AppointmentRow.slot_id == slot.id, AppointmentRow.status == AppointmentStatus.BOOKED.value
            )
        )
        if taken is not None:
            raise SlotUnavailableError(shop, starts_at)
        return slot

    def book_appointment(self, shop: str, starts_at: datetime, email: str) -> Appointment:
        with self.write() as s:
            slot = self._take_slot(s, shop, starts_at)
            row = AppointmentRow(
                reference=_random_code("FT-", 5),
                slot_id=slot.id,
                email=normalise_email(email),
                status=AppointmentStatus.BOOKED.value,
                created_at=self.clock(),
            )
            s.add(row)
            try:
                s.flush()
            except IntegrityError as e:  # the unique index caught a concurrent booking
                raise SlotUnavailableError(shop, starts_at) from e
            return _appointment(row, slot)

    def _appointment_row(self, s: Session, reference: str, email: str) -> AppointmentRow | None:
        return s.scalar(
            select(AppointmentRow)
            .where(AppointmentRow.reference == reference.strip().upper())
            .where(AppointmentRow.email == normalise_email(email))
            .where(AppointmentRow.status == AppointmentStatus.BOOKED.value)
            .options(selectinload(AppointmentRow.slot))
        )

    def find_appointment(self, reference: str, email: str) -> Appointment | None:
        with self._read() as s:
            row = self._appointment_row(s, reference, email)
            return _appointment(row, row.slot) if row is not None else None

    def reschedule_appointment(
        self, reference: str, email: str, starts_at: datetime, shop: str | None = None
    ) -> Appointment:
        with self.write() as s:
            row = self._appointment_row(s, reference, email)
            if row is None:
                raise AppointmentNotFoundError(f"no booked appointment {reference} for that email")
            slot = self._take_slot(s, shop or row.slot.shop, starts_at)
            row.slot_id = slot.id
            row.slot = slot
            try:
                s.flush()
            except IntegrityError as e:
                raise SlotUnavailableError(slot.shop, starts_at) from e
            return _appointment(row, slot)

    def cancel_appointment(self, reference: str, email: str) -> Appointment:
        with self.write() as s:
            row = self._appointment_row(s, reference, email)
            if row is None:
                raise AppointmentNotFoundError(f"no booked appointment {reference} for that email")
            row.status = AppointmentStatus.CANCELLED.value
            s.flush()
            return _appointment(row, row.slot)


# Row → value ----------------------------------------------------------------------------------
def _order(row: OrderRow) -> Order:
    items = tuple(
        OrderItem(
            id=i.id,
            sku=i.sku,
            name=i.name,
            category=i.category,
            size=i.size,
            quantity=i.quantity,
            price_cents=i.price_cents,
            returnable=i.returnable,
            returned=i.return_line is not None,
            return_rma=i.return_line.ret.rma if i.return_line is not None else None,
        )
        for i in row.items
    )
    return Order(
        number=row.number,
        email=row.customer.email,
        customer_name=row.customer.name,
        status=OrderStatus(row.status),
        placed_on=row.placed_on,
        shipping_country=row.shipping_country,
        total_cents=row.total_cents,
        currency=row.currency,
        items=items,
        carrier=row.carrier,
        tracking_url=row.tracking_url,
        expected_delivery=row.expected_delivery,
        delivered_on=row.delivered_on,
    )


def _appointment(row: AppointmentRow, slot: SlotRow) -> Appointment:
    return Appointment(
        reference=row.reference,
        shop=slot.shop,
        starts_at=slot.starts_at,
        email=row.email,
        status=AppointmentStatus(row.status),
        created_at=row.created_at,
    )

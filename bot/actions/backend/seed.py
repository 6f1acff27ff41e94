"""Demo data for the reference shop: fixed customers, orders, items, slots and bookings.

Dates are relative to "today", so the 30-day return window always has cases inside and outside it.
docs/demo-data.md lists what a newcomer can try; `DEMO_ORDERS` below is the source of truth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.actions.backend.models import (
    AppointmentRow,
    CustomerRow,
    OrderItemRow,
    OrderRow,
    ReturnLineRow,
    ReturnRow,
    SlotRow,
)
from bot.actions.backend.protocol import AppointmentStatus, OrderStatus
from bot.actions.backend.sql import SqlShopBackend
from bot.actions.stores import Stores, get_stores
from bot.products.catalogue import Product

DEMO_FOLDER = Path(__file__).parent / "demo"
"""The demo catalogue: products.csv, pairings.csv, colours.csv and history.csv (see its README.md)."""
APPOINTMENT_MINUTES = 45
SLOT_STEP_MINUTES = 60
SLOT_DAYS = 14
APPOINTMENT_SHOPS = ("paris", "berlin", "london")
EXCLUDED_CATEGORIES = frozenset({"earrings", "underwear", "personalised"})
"""Categories (and catalogue kinds) excluded from returns."""

# email, name, country
DEMO_CUSTOMERS = (
    ("anna@example.com", "Anna Keller", "DE"),
    ("ben@example.com", "Ben Carter", "GB"),
    ("chloe@example.com", "Chloé Martin", "FR"),
    ("david@example.com", "David Okafor", "GB"),
    ("elena@example.com", "Elena Rossi", "IT"),
    ("felix@example.com", "Felix Braun", "DE"),
    ("grace@example.com", "Grace Lee", "US"),
    ("hugo@example.com", "Hugo Lefèvre", "FR"),
)

# sku: (name, category, price in cents)
CATALOGUE = {
    "WC-01": ("Wool coat", "coats", 34900),
    "TC-02": ("Trench coat", "coats", 29900),
    "CS-03": ("Cashmere sweater", "knitwear", 18900),
    "CD-04": ("Cardigan", "knitwear", 12900),
    "LS-05": ("Linen shirt", "shirts", 8900),
    "SB-06": ("Silk blouse", "shirts", 11900),
    "SS-07": ("Silk scarf", "accessories", 6900),
    "BJ-08": ("Black jeans", "denim", 9900),
    "LT-09": ("Linen trousers", "trousers", 9900),
    "NB-10": ("Navy blazer", "jackets", 22900),
    "LB-11": ("Leather boots", "shoes", 24900),
    "SN-12": ("Sneakers", "shoes", 11900),
    "GE-13": ("Gold hoop earrings", "earrings", 5900),
    "UW-14": ("Cotton briefs (3-pack)", "underwear", 3900),
    "PT-15": ("Monogrammed tote bag", "personalised", 7900),
    "TS-16": ("Organic T-shirt", "t-shirts", 3500),
}


@dataclass(frozen=True)
class DemoOrder:
    number: str
    email: str
    status: OrderStatus
    placed_days_ago: int
    items: tuple[tuple[str, str], ...]  # (sku, size)
    country: str
    carrier: str | None = None
    delivered_days_ago: int | None = None
    expected_in_days: int | None = None
    returned_skus: tuple[str, ...] = ()

    def tracking_url(self) -> str | None:
        if self.carrier is None:
            return None
        return f"https://tracking.example/{self.carrier.lower().replace(' ', '-')}/{self.number[3:]}00042"


S = OrderStatus
DEMO_ORDERS = (
    DemoOrder("AN-10001", "anna@example.com", S.SHIPPED, 3, (("WC-01", "M"),), "DE", "DHL", expected_in_days=2),
    DemoOrder(
        "AN-10002",
        "anna@example.com",
        S.DELIVERED,
        14,
        (("CS-03", "S"), ("SS-07", "-"), ("GE-13", "-")),
        "DE",
        "DHL",
        delivered_days_ago=10,
    ),
    DemoOrder(
        "AN-10003", "ben@example.com", S.DELIVERED, 50, (("NB-10", "L"),), "GB", "Royal Mail", delivered_days_ago=45
    ),
    DemoOrder("AN-10004", "ben@example.com", S.PLACED, 0, (("SN-12", "43"), ("TS-16", "L")), "GB"),
    DemoOrder("AN-10005", "chloe@example.com", S.PAID, 1, (("SB-06", "36"),), "FR"),
    DemoOrder("AN-10006", "chloe@example.com", S.PACKED, 2, (("LT-09", "38"), ("LS-05", "38")), "FR"),
    DemoOrder(
        "AN-10007",
        "david@example.com",
        S.OUT_FOR_DELIVERY,
        4,
        (("LB-11", "44"),),
        "GB",
        "Royal Mail",
        expected_in_days=0,
    ),
    DemoOrder("AN-10008", "david@example.com", S.CANCELLED, 8, (("TC-02", "L"),), "GB"),
    DemoOrder(
        "AN-10009",
        "elena@example.com",
        S.DELIVERED,
        33,
        (("CD-04", "M"), ("BJ-08", "28")),
        "IT",
        "UPS",
        delivered_days_ago=29,
    ),
    DemoOrder("AN-10010", "elena@example.com", S.DELIVERED, 35, (("SB-06", "38"),), "IT", "UPS", delivered_days_ago=31),
    DemoOrder(
        "AN-10011",
        "felix@example.com",
        S.SHIPPED,
        2,
        (("BJ-08", "32"), ("TS-16", "M")),
        "DE",
        "UPS",
        expected_in_days=3,
    ),
    DemoOrder(
        "AN-10012",
        "felix@example.com",
        S.DELIVERED,
        9,
        (("UW-14", "M"), ("PT-15", "-"), ("LS-05", "M")),
        "DE",
        "DHL",
        delivered_days_ago=5,
    ),
    DemoOrder("AN-10013", "grace@example.com", S.SHIPPED, 5, (("TC-02", "S"),), "US", "FedEx", expected_in_days=4),
    DemoOrder("AN-10014", "grace@example.com", S.PLACED, 0, (("SS-07", "-"),), "US"),
    DemoOrder(
        "AN-10015",
        "hugo@example.com",
        S.DELIVERED,
        6,
        (("LS-05", "L"), ("LT-09", "42")),
        "FR",
        "Colissimo",
        delivered_days_ago=2,
        returned_skus=("LT-09",),
    ),
    DemoOrder("AN-10016", "hugo@example.com", S.PAID, 0, (("NB-10", "50"),), "FR"),
    DemoOrder("AN-10017", "anna@example.com", S.DELIVERED, 65, (("CD-04", "S"),), "DE", "DHL", delivered_days_ago=60),
    DemoOrder("AN-10018", "ben@example.com", S.PACKED, 1, (("CS-03", "L"),), "GB"),
    DemoOrder(
        "AN-10019",
        "chloe@example.com",
        S.DELIVERED,
        18,
        (("WC-01", "S"), ("GE-13", "-")),
        "FR",
        "Colissimo",
        delivered_days_ago=15,
    ),
    DemoOrder("AN-10020", "david@example.com", S.PLACED, 0, (("LS-05", "XL"),), "GB"),
)

# reference, email, shop, days ahead (first open day on or after), slot index that day
DEMO_APPOINTMENTS = (
    ("FT-DEMO1", "anna@example.com", "berlin", 2, 1),
    ("FT-DEMO2", "ben@example.com", "london", 4, 2),
)
FULLY_BOOKED_SHOP = "paris"
FULLY_BOOKED_DAYS_AHEAD = 12
"""The first day on or after today+12 when Paris is open has every slot booked: beyond the week a weekday's
name reaches ("thursday" is never that day), within the two weeks that can be booked."""


@dataclass(frozen=True)
class SeedReport:
    seeded: bool
    customers: int = 0
    orders: int = 0
    slots: int = 0
    appointments: int = 0
    fully_booked_day: date | None = None
    products: int = 0


def slot_times(stores: Stores, shop_key: str, day: date) -> list[datetime]:
    """Appointment start times of one shop on one day: hourly from opening, ending before closing."""
    shop = stores.shop(shop_key)
    out: list[datetime] = []
    for r in shop.hours_on(day).ranges:
        start = datetime.combine(day, r.start, tzinfo=shop.timezone)
        end = datetime.combine(day, r.end, tzinfo=shop.timezone)
        while start + timedelta(minutes=APPOINTMENT_MINUTES) <= end:
            out.append(start)
            start += timedelta(minutes=SLOT_STEP_MINUTES)
    return out


def _first_open_day(stores: Stores, shop: str, today: date, ahead: int) -> date:
    for offset in range(ahead, SLOT_DAYS):
        day = today + timedelta(days=offset)
        if slot_times(stores, shop, day):
            return day
    return today + timedelta(days=ahead)


def seed(
    backend: SqlShopBackend,
    *,
    reset: bool,
    today: date | None = None,
    stores: Stores | None = None,
) -> SeedReport:
    """Create the tables and load the demo data in one transaction.

    Without `reset`, a database that already holds orders is left alone (`seeded=False`).
    """
    stores = stores or get_stores()
    today = today or backend.clock().astimezone(stores.timezone_default).date()
    if reset:
        backend.drop_schema()
    backend.create_schema()
    if not reset and not backend.is_empty():
        seed_catalogue(backend, today)
        return SeedReport(seeded=False)
    now = backend.clock()
    with backend.write() as s:
        customers = {email: CustomerRow(email=email, name=name, country=c) for email, name, c in DEMO_CUSTOMERS}
        s.add_all(customers.values())
        for demo in DEMO_ORDERS:
            _add_order(s, demo, customers[demo.email], today, now)
        slots = _add_slots(s, stores, today)
        s.flush()
        appointments, full_day = _add_appointments(s, slots, stores, today, now)
        slot_count = sum(len(v) for v in slots.values())
    products, history = seed_catalogue(backend, today)
    with backend.write() as s:
        customer_count = len(s.scalars(select(CustomerRow.id)).all())
    orders = len(DEMO_ORDERS) + history
    return SeedReport(True, customer_count, orders, slot_count, appointments, full_day, products)


def seed_catalogue(backend: SqlShopBackend, today: date, folder: Path = DEMO_FOLDER) -> tuple[int, int]:
    """The demo catalogue (products, pairings, colour families) and the past orders that give co-purchase
    counts, when the shop has no products yet: (products, past orders) added."""
    from bot.products.csv_io import (
        read_catalogue_csv,
        read_colour_families_csv,
        read_history_csv,
        read_pairings_csv,
    )

    if not backend.catalogue.is_empty():
        return 0, 0
    products = read_catalogue_csv(folder / "products.csv")
    backend.replace_catalogue(products, read_pairings_csv(folder / "pairings.csv", products))
    backend.catalogue.replace_colour_families(read_colour_families_csv(folder / "colours.csv"))
    by_sku = {p.sku: p for p in products}
    history = read_history_csv(folder / "history.csv", products)
    with backend.write() as s:
        known = set(s.scalars(select(OrderRow.number)).all())
        customers = {c.email: c for c in s.scalars(select(CustomerRow)).all()}
        added = 0
        for past in history:
            if past.number in known:
                continue
            customer = customers.get(past.email)
            if customer is None:
                customer = CustomerRow(email=past.email, name=past.email.split("@")[0].title(), country=past.country)
                customers[past.email] = customer
                s.add(customer)
            s.add(_past_order(past.number, customer, past.country, past.days_ago, past.items, by_sku, today))
            added += 1
    return len(products), added


def _past_order(
    number: str,
    customer: CustomerRow,
    country: str,
    days_ago: int,
    items: Sequence[tuple[str, str]],
    products: Mapping[str, Product],
    today: date,
) -> OrderRow:
    """A delivered order of the shop's history (its items give co-purchase counts)."""
    rows = [
        OrderItemRow(
            sku=sku,
            name=products[sku].name,
            category=products[sku].category,
            size=size,
            quantity=1,
            price_cents=products[sku].price_cents,
            returnable=products[sku].kind not in EXCLUDED_CATEGORIES,
        )
        for sku, size in items
        if sku in products
    ]
    delivered = today - timedelta(days=max(days_ago - 4, 0))
    return OrderRow(
        number=number,
        customer=customer,
        status=OrderStatus.DELIVERED.value,
        placed_on=today - timedelta(days=days_ago),
        shipping_country=country,
        total_cents=sum(i.price_cents for i in rows),
        currency="GBP" if country == "GB" else "USD" if country == "US" else "EUR",
        carrier="DHL",
        tracking_url=None,
        expected_delivery=delivered,
        delivered_on=delivered,
        items=rows,
    )


def _add_order(s: Session, demo: DemoOrder, customer: CustomerRow, today: date, now: datetime) -> None:
    """One demo order with its items, and its return when some were sent back."""
    items = [
        OrderItemRow(
            sku=sku,
            name=CATALOGUE[sku][0],
            category=CATALOGUE[sku][1],
            size=size,
            quantity=1,
            price_cents=CATALOGUE[sku][2],
            returnable=CATALOGUE[sku][1] not in EXCLUDED_CATEGORIES,
        )
        for sku, size in demo.items
    ]
    delivered = today - timedelta(days=demo.delivered_days_ago) if demo.delivered_days_ago is not None else None
    expected = today + timedelta(days=demo.expected_in_days) if demo.expected_in_days is not None else None
    order = OrderRow(
        number=demo.number,
        customer=customer,
        status=demo.status.value,
        placed_on=today - timedelta(days=demo.placed_days_ago),
        shipping_country=demo.country,
        total_cents=sum(i.price_cents for i in items),
        currency="GBP" if demo.country == "GB" else "USD" if demo.country == "US" else "EUR",
        carrier=demo.carrier,
        tracking_url=demo.tracking_url(),
        expected_delivery=expected or delivered,
        delivered_on=delivered,
        items=items,
    )
    s.add(order)
    returned = [i for i in items if i.sku in demo.returned_skus]
    if returned:
        s.add(
            ReturnRow(
                rma=f"RMA-DEMO{demo.number[-2:]}",
                order=order,
                reason="too_large",
                created_at=now,
                lines=[ReturnLineRow(item=i) for i in returned],
            )
        )


def _add_slots(s: Session, stores: Stores, today: date) -> dict[tuple[str, date], list[SlotRow]]:
    """The appointment slots of every fitting shop for the next `SLOT_DAYS` days, by (shop, day)."""
    slots: dict[tuple[str, date], list[SlotRow]] = {}
    for shop in APPOINTMENT_SHOPS:
        for offset in range(SLOT_DAYS):
            day = today + timedelta(days=offset)
            rows = [SlotRow(shop=shop, starts_at=t.astimezone(UTC)) for t in slot_times(stores, shop, day)]
            slots[(shop, day)] = rows
            s.add_all(rows)
    return slots


def _add_appointments(
    s: Session, slots: dict[tuple[str, date], list[SlotRow]], stores: Stores, today: date, now: datetime
) -> tuple[int, date]:
    """The demo bookings, and a fully booked day in `FULLY_BOOKED_SHOP`: (appointments made, that day)."""
    appointments = 0
    for reference, email, shop, ahead, index in DEMO_APPOINTMENTS:
        day_slots = slots[(shop, _first_open_day(stores, shop, today, ahead))]
        slot = day_slots[min(index, len(day_slots) - 1)]
        s.add(AppointmentRow(reference=reference, slot_id=slot.id, email=email, status="booked", created_at=now))
        appointments += 1
    full_day = _first_open_day(stores, FULLY_BOOKED_SHOP, today, FULLY_BOOKED_DAYS_AHEAD)
    emails = [c[0] for c in DEMO_CUSTOMERS]
    for n, slot in enumerate(slots[(FULLY_BOOKED_SHOP, full_day)]):
        s.add(
            AppointmentRow(
                reference=f"FT-FULL{n + 1}",
                slot_id=slot.id,
                email=emails[n % len(emails)],
                status=AppointmentStatus.BOOKED.value,
                created_at=now,
            )
        )
        appointments += 1
    return appointments, full_day

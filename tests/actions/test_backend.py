"""SqlShopBackend: one transaction per write, and no double booking even for concurrent requests."""

from __future__ import annotations

import threading
from datetime import date, datetime
from pathlib import Path

import pytest

from bot.actions.backend.models import AppointmentRow
from bot.actions.backend.protocol import OrderStatus, ShopBackend, SlotUnavailableError
from bot.actions.backend.seed import seed
from bot.actions.backend.sql import SqlShopBackend
from bot.actions.stores import load_stores
from bot.dialogue.handoff import SqlHandoffStore, TranscriptLine

from .conftest import STORES, TODAY, clock


def test_sql_backend_implements_the_protocol(backend: SqlShopBackend) -> None:
    assert isinstance(backend, ShopBackend)


def test_demo_data_covers_every_status_and_both_sides_of_the_window(backend: SqlShopBackend) -> None:
    from bot.actions.backend.seed import DEMO_ORDERS

    assert {o.status for o in DEMO_ORDERS} == set(OrderStatus)
    delivered = [o.delivered_days_ago for o in DEMO_ORDERS if o.delivered_days_ago is not None]
    assert min(delivered) < 30 < max(delivered)
    order = backend.find_order("AN-10002", "anna@example.com")
    assert order is not None and any(not i.returnable for i in order.items)


def test_seed_without_reset_keeps_existing_data(backend: SqlShopBackend) -> None:
    backend.cancel_order("AN-10004", "ben@example.com")
    report = seed(backend, reset=False, today=TODAY, stores=load_stores(STORES))
    assert report.seeded is False
    order = backend.find_order("AN-10004", "ben@example.com")
    assert order is not None and order.status.value == "cancelled"


def test_an_exception_inside_a_write_leaves_nothing_half_written(backend: SqlShopBackend) -> None:
    moment = datetime.fromisoformat("2026-12-22T11:00:00+01:00")
    slot_id = None
    with pytest.raises(RuntimeError), backend.write() as session:
        slot = backend._take_slot(session, "paris", moment)
        slot_id = slot.id
        session.add(AppointmentRow(reference="FT-HALF1", slot_id=slot.id, email="x@example.com", status="booked",
                                   created_at=clock()))  # fmt: skip
        session.flush()
        raise RuntimeError("handler crashed mid-transaction")
    assert slot_id is not None
    assert backend.find_appointment("FT-HALF1", "x@example.com") is None
    assert backend.book_appointment("paris", moment, "y@example.com").reference.startswith("FT-")


def test_a_reset_starts_the_handoff_tickets_of_the_same_database_afresh(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    shop = SqlShopBackend(url, clock=clock)
    seed(shop, reset=True, today=TODAY, stores=load_stores(STORES))
    handoffs = SqlHandoffStore.from_url(url, clock=clock)
    handoffs.open("u1", "help", [TranscriptLine("customer", "help")])
    seed(shop, reset=False, today=TODAY, stores=load_stores(STORES))
    assert len(handoffs.tickets()) == 1
    seed(shop, reset=True, today=TODAY, stores=load_stores(STORES))
    assert handoffs.tickets() == []
    assert handoffs.open("u2", "agent", []).id == 1
    shop.dispose()


@pytest.mark.integration
def test_concurrent_requests_for_the_last_slot_book_it_exactly_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    first = SqlShopBackend(url, clock=clock)
    seed(first, reset=True, today=TODAY, stores=load_stores(STORES))
    stores = load_stores(STORES)
    paris = stores.shop("paris")
    day = date(2026, 12, 22)
    start = datetime.combine(day, datetime.min.time(), tzinfo=paris.timezone)
    slots = first.list_slots("paris", start, start.replace(hour=23))
    for slot in slots[1:]:  # leave exactly one free slot that day
        first.book_appointment("paris", slot.starts_at, "filler@example.com")
    last = slots[0].starts_at

    workers = 8
    barrier = threading.Barrier(workers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        own = SqlShopBackend(url, clock=clock)  # its own engine and connections, like another process
        barrier.wait()
        try:
            own.book_appointment("paris", last, f"racer{n}@example.com")
            outcome = "booked"
        except SlotUnavailableError:
            outcome = "taken"
        finally:
            own.dispose()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["booked"] + ["taken"] * (workers - 1)
    remaining = first.list_slots("paris", start, start.replace(hour=23))
    assert all(s.booked for s in remaining)
    first.dispose()

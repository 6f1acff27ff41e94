"""The `ShopBackend` seam: what the task handlers need from a shop, as plain values.

The default implementation is `SqlShopBackend` (SQLite through SQLAlchemy); a deployer swaps in a
client for their own shop API by implementing this Protocol. Values are frozen dataclasses that never
touch I/O. Every datetime is timezone-aware (UTC from the backend); dates are calendar dates.

Business refusals are exceptions under `BackendError`, so a handler can tell the customer why:

    BackendError                      (bot.errors)
    ├── OrderNotFoundError            no order with that number AND that email (never says which)
    ├── OrderNotCancellableError      the order was packed, shipped or already cancelled
    ├── ReturnNotAllowedError         outside the return window, excluded or already returned items
    ├── SlotUnavailableError          no such appointment slot, or it was just booked
    └── AppointmentNotFoundError      no booked appointment with that reference AND that email

Handoff tickets are not the shop's: they live in `bot.dialogue.handoff` (`HandoffStore`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from bot.errors import BackendError
from bot.products.catalogue import Catalogue

RETURN_WINDOW_DAYS = 30
"""Days after delivery during which an item can be returned (Atelier Nord policy)."""


class OrderStatus(StrEnum):
    PLACED = "placed"
    PAID = "paid"
    PACKED = "packed"
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"

    @property
    def cancellable(self) -> bool:
        """An order can be cancelled until it is packed."""
        return self in (OrderStatus.PLACED, OrderStatus.PAID)


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class OrderItem:
    id: int
    sku: str
    name: str
    category: str
    size: str
    quantity: int
    price_cents: int
    returnable: bool
    """False for categories excluded from returns (earrings, underwear, personalised items)."""
    returned: bool = False
    """True once a return (RMA) covers this item."""
    return_rma: str | None = None
    """The RMA number of the return that covers this item."""


@dataclass(frozen=True)
class Order:
    number: str
    email: str
    customer_name: str
    status: OrderStatus
    placed_on: date
    shipping_country: str
    total_cents: int
    currency: str
    items: tuple[OrderItem, ...] = ()
    carrier: str | None = None
    tracking_url: str | None = None
    expected_delivery: date | None = None
    delivered_on: date | None = None

    def item(self, item_id: int) -> OrderItem | None:
        return next((i for i in self.items if i.id == item_id), None)


@dataclass(frozen=True)
class Return:
    rma: str
    order_number: str
    item_ids: tuple[int, ...]
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class Slot:
    shop: str
    starts_at: datetime
    booked: bool = False


@dataclass(frozen=True)
class Appointment:
    reference: str
    shop: str
    starts_at: datetime
    email: str
    status: AppointmentStatus
    created_at: datetime


class OrderNotFoundError(BackendError):
    """No order matches this number and email (deliberately silent about which one is wrong)."""


class OrderNotCancellableError(BackendError):
    def __init__(self, number: str, status: OrderStatus) -> None:
        self.number = number
        self.status = status
        super().__init__(f"order {number} is {status.value}; only placed or paid orders can be cancelled")


class ReturnNotAllowedError(BackendError):
    def __init__(self, number: str, reason: str) -> None:
        self.number = number
        self.reason = reason
        super().__init__(f"return refused for order {number}: {reason}")


class SlotUnavailableError(BackendError):
    def __init__(self, shop: str, starts_at: datetime, reason: str = "already booked") -> None:
        self.shop = shop
        self.starts_at = starts_at
        super().__init__(f"slot {shop} {starts_at.isoformat()} is unavailable: {reason}")


class AppointmentNotFoundError(BackendError):
    """No booked appointment matches this reference and email."""


@runtime_checkable
class ShopBackend(Catalogue, Protocol):
    """Orders, returns, appointments and the catalogue (`bot.products.Catalogue`: products, stock,
    pairings, co-purchases). Every write is one transaction."""

    # Orders -----------------------------------------------------------------------------------
    def find_order(self, number: str, email: str) -> Order | None:
        """The order only if BOTH the number and the email (case-insensitive) match, else None."""
        ...

    def cancel_order(self, number: str, email: str) -> Order:
        """Cancel a placed/paid order. Raises OrderNotFoundError, OrderNotCancellableError."""
        ...

    # Returns ----------------------------------------------------------------------------------
    def create_return(self, number: str, email: str, item_ids: Sequence[int], reason: str, *, today: date) -> Return:
        """Create a return (RMA) for some items. Raises OrderNotFoundError, ReturnNotAllowedError."""
        ...

    # Appointments -----------------------------------------------------------------------------
    def list_slots(self, shop: str, start: datetime, end: datetime) -> list[Slot]:
        """Every slot of `shop` starting in [start, end), free or booked, ordered by time."""
        ...

    def book_appointment(self, shop: str, starts_at: datetime, email: str) -> Appointment:
        """Book a free slot. Raises SlotUnavailableError if it does not exist or is booked."""
        ...

    def find_appointment(self, reference: str, email: str) -> Appointment | None:
        """The booked appointment only if BOTH reference and email match, else None."""
        ...

    def reschedule_appointment(
        self, reference: str, email: str, starts_at: datetime, shop: str | None = None
    ) -> Appointment:
        """Move a booking to another free slot of the same shop (or of `shop`), atomically (old freed, new taken)."""
        ...

    def cancel_appointment(self, reference: str, email: str) -> Appointment:
        """Cancel a booking. Raises AppointmentNotFoundError."""
        ...

"""What a known customer has open at the shop: orders on their way, recent returns, booked appointments.

`CustomerActivitySource` is an optional part of a shop backend: the greeting of a known customer
(`bot.actions.greeting`) uses it when the backend has it, and greets as usual when it does not. The
reference implementation is `SqlShopBackend.open_activity`; `open_activity_of` is the pure selection it
and a deployer's own backend can share.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from bot.actions.backend.protocol import Appointment, AppointmentStatus, Order, OrderStatus, Return

OPEN_RETURN_DAYS = 14
"""A return created this many days ago or less is still being processed (the demo shop keeps no refund state)."""
CLOSED_ORDERS = frozenset({OrderStatus.DELIVERED, OrderStatus.CANCELLED})
ON_THE_WAY = frozenset({OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY})


@dataclass(frozen=True)
class OpenActivity:
    """A customer's open business, most pressing first in each list."""

    first_name: str
    orders: tuple[Order, ...] = ()
    """not yet delivered nor cancelled: those on their way first, then the newest"""
    returns: tuple[Return, ...] = ()
    """created within `OPEN_RETURN_DAYS`, newest first"""
    appointments: tuple[Appointment, ...] = ()
    """booked and still ahead, soonest first"""

    @property
    def empty(self) -> bool:
        return not (self.orders or self.returns or self.appointments)


@runtime_checkable
class CustomerActivitySource(Protocol):
    def open_activity(self, customer: str, now: datetime) -> OpenActivity | None:
        """The open business of the customer named by their email or the shop's customer id; None when the
        shop does not know them."""
        ...


def open_activity_of(
    first_name: str,
    orders: Iterable[Order],
    returns: Iterable[Return],
    appointments: Iterable[Appointment],
    now: datetime,
) -> OpenActivity:
    """Select what is open at `now` (an aware datetime)."""
    since = now - timedelta(days=OPEN_RETURN_DAYS)
    return OpenActivity(
        first_name=first_name,
        orders=tuple(
            sorted(
                (o for o in orders if o.status not in CLOSED_ORDERS),
                key=lambda o: (o.status not in ON_THE_WAY, -o.placed_on.toordinal()),
            )
        ),
        returns=tuple(sorted((r for r in returns if r.created_at >= since), key=lambda r: r.created_at, reverse=True)),
        appointments=tuple(
            sorted(
                (a for a in appointments if a.status is AppointmentStatus.BOOKED and a.starts_at > now),
                key=lambda a: a.starts_at,
            )
        ),
    )

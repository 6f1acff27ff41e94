"""Return policy as pure functions over `Order` values (used by the backend and by the handlers)."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum

from bot.actions.backend.protocol import Order, OrderItem, OrderStatus


class ReturnRefusal(StrEnum):
    """Why a return is refused; each code has a customer response `utter_return_refused_<code>`."""

    NOT_DELIVERED = "not_delivered"
    WINDOW_CLOSED = "window_closed"
    EXCLUDED = "excluded"
    ALREADY_RETURNED = "already_returned"
    UNKNOWN_ITEM = "unknown_item"


def return_deadline(order: Order, window_days: int) -> date | None:
    """The last day an item of this order can be returned, or None before delivery."""
    if order.delivered_on is None:
        return None
    return order.delivered_on + timedelta(days=window_days)


def order_refusal(order: Order, today: date, window_days: int) -> ReturnRefusal | None:
    """Why nothing of this order can be returned today, or None if items may be returned."""
    deadline = return_deadline(order, window_days)
    if order.status is not OrderStatus.DELIVERED or deadline is None:
        return ReturnRefusal.NOT_DELIVERED
    if today > deadline:
        return ReturnRefusal.WINDOW_CLOSED
    return None


def item_refusal(item: OrderItem) -> ReturnRefusal | None:
    """Why this item cannot be returned (excluded category, already returned), or None."""
    if item.returned:
        return ReturnRefusal.ALREADY_RETURNED
    if not item.returnable:
        return ReturnRefusal.EXCLUDED
    return None

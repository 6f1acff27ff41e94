"""Task handlers of the Atelier Nord reference shop, as rasa-sdk Actions.

`python -m rasa_sdk --actions bot.actions` (or `ActionExecutor().register_package("bot.actions")`)
imports this package and registers every concrete Action subclass below. Nothing heavy happens at
import: the backend, clock and stores file are built on first use (see `_common.Deps`).

`prepare(settings)` is the package's set-up hook: `supportbot serve --workers N` calls it once before the
workers start (see `bot.bootstrap.prepare_actions`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.actions.appointments import (
    ActionAskAppointmentConfirmed,
    ActionAskAppointmentTime,
    ActionAskCancelAppointmentConfirmed,
    ActionSubmitAppointment,
    ActionSubmitCancelAppointment,
    ActionSubmitRescheduleAppointment,
    ValidateAppointmentForm,
    ValidateCancelAppointmentForm,
    ValidateRescheduleAppointmentForm,
)
from bot.actions.events import (
    ActionAppointmentReminder,
    ActionOrderShipped,
    ActionRemindAppointment,
    ActionReturnReceived,
)
from bot.actions.greeting import ActionGreetKnownCustomer
from bot.actions.handoff import ActionHandoffNoteEmail, ActionHumanHandoff
from bot.actions.hours import ActionStoreHours
from bot.actions.orders import (
    ActionAskCancelOrderConfirmed,
    ActionOrderStatus,
    ActionSubmitCancelOrder,
    ValidateCancelOrderForm,
    ValidateOrderStatusForm,
)
from bot.actions.returns import (
    ActionAskReturnConfirmed,
    ActionAskReturnItems,
    ActionAskReturnReason,
    ActionSubmitReturn,
    ValidateReturnForm,
)

if TYPE_CHECKING:
    from sqlalchemy import MetaData

    from bot.config import Settings
    from bot.products.catalogue import Catalogue


def prepare(settings: Settings) -> None:
    """Create and seed the shop database, once, before several server processes use it."""
    from bot.actions.backend import get_backend

    get_backend(settings.resolved_database_url)


def table_metadata() -> list[MetaData]:
    """The shop's tables, for the database migrations (`bot.migrations.schema` asks the action package)."""
    from bot.actions.backend import sql as shop_sql
    from bot.actions.backend.models import Base

    assert shop_sql.verification_failures.metadata is Base.metadata  # the shop's extra table, in its metadata
    return [Base.metadata]


__all__ = [
    "ActionAppointmentReminder",
    "ActionOrderShipped",
    "ActionRemindAppointment",
    "ActionReturnReceived",
    "ActionAskAppointmentConfirmed",
    "ActionAskAppointmentTime",
    "ActionAskCancelAppointmentConfirmed",
    "ActionAskCancelOrderConfirmed",
    "ActionAskReturnConfirmed",
    "ActionAskReturnItems",
    "ActionAskReturnReason",
    "ActionGreetKnownCustomer",
    "ActionHandoffNoteEmail",
    "ActionHumanHandoff",
    "ActionOrderStatus",
    "ActionStoreHours",
    "ActionSubmitAppointment",
    "ActionSubmitCancelAppointment",
    "ActionSubmitCancelOrder",
    "ActionSubmitRescheduleAppointment",
    "ActionSubmitReturn",
    "ValidateAppointmentForm",
    "ValidateCancelAppointmentForm",
    "ValidateCancelOrderForm",
    "ValidateOrderStatusForm",
    "ValidateRescheduleAppointmentForm",
    "ValidateReturnForm",
    "catalogue",
    "prepare",
]


def catalogue(settings: Settings) -> Catalogue:
    """The reference shop's catalogue: its database (the `catalogue_provider` setting points here)."""
    from bot.actions.backend import get_backend

    return get_backend(settings.resolved_database_url)

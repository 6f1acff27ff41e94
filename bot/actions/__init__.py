"""Task handlers of the Atelier Nord reference shop, as rasa-sdk Actions.

`python -m rasa_sdk --actions bot.actions` (or `ActionExecutor().register_package("bot.actions")`)
imports this package and registers every concrete Action subclass below. Nothing heavy happens at
import: the backend, clock and stores file are built on first use (see `_common.Deps`).
"""

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
from bot.actions.handoff import ActionHumanHandoff
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

__all__ = [
    "ActionAskAppointmentConfirmed",
    "ActionAskAppointmentTime",
    "ActionAskCancelAppointmentConfirmed",
    "ActionAskCancelOrderConfirmed",
    "ActionAskReturnConfirmed",
    "ActionAskReturnItems",
    "ActionAskReturnReason",
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
]

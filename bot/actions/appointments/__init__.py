"""Fitting appointments: book (`appointment_form`), reschedule and cancel, with a confirmation step.

Availability comes from the backend; the backend's transaction and unique index make a double
booking impossible, and a customer who loses the race for the last slot is offered other times.
Reschedule and cancel identify a booking by its reference AND the email it was made with (the same
answer for either being wrong).

- `form`: the forms' slots and what every appointment response may say about a booking;
- `validation`: the `validate_*_appointment_form` actions (shop, time, reference, email, confirmation);
- `questions`: the `action_ask_*` actions (free times as buttons, the confirmation question);
- `submits`: the `action_submit_*` actions (book, reschedule, cancel in the backend).
"""

from bot.actions.appointments.form import (
    BOOK_SLOTS,
    CANCEL_SLOTS,
    MAX_TIME_BUTTONS,
    RESCHEDULE_SLOTS,
    appointment_values,
)
from bot.actions.appointments.questions import (
    ActionAskAppointmentConfirmed,
    ActionAskAppointmentTime,
    ActionAskCancelAppointmentConfirmed,
)
from bot.actions.appointments.submits import (
    ActionSubmitAppointment,
    ActionSubmitCancelAppointment,
    ActionSubmitRescheduleAppointment,
)
from bot.actions.appointments.validation import (
    ValidateAppointmentForm,
    ValidateCancelAppointmentForm,
    ValidateRescheduleAppointmentForm,
)

__all__ = [
    "BOOK_SLOTS",
    "CANCEL_SLOTS",
    "MAX_TIME_BUTTONS",
    "RESCHEDULE_SLOTS",
    "ActionAskAppointmentConfirmed",
    "ActionAskAppointmentTime",
    "ActionAskCancelAppointmentConfirmed",
    "ActionSubmitAppointment",
    "ActionSubmitCancelAppointment",
    "ActionSubmitRescheduleAppointment",
    "ValidateAppointmentForm",
    "ValidateCancelAppointmentForm",
    "ValidateRescheduleAppointmentForm",
    "appointment_values",
]

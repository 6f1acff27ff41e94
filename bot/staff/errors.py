"""The errors of staff accounts, in the one error tree (`bot/errors.py`)::

    SupportbotError
    └── StaffError                 a staff account cannot be used or changed as asked
        ├── StaffNotFound          no member has this email (or id)
        ├── StaffExists            a member already has this email
        ├── InvalidStaffInput      a field is invalid: a role that does not exist, a short password, an email
        ├── LastAdminError         the change would leave the console without an admin
        ├── SignInRefused          wrong email or password (never says which)
        └── AccountLocked          too many wrong passwords in a row: locked until `until`
    BackendError
    └── StaffStoreError            the staff tables cannot be read or written

Each carries `code`, the name the console and the CLI give it.
"""

from __future__ import annotations

from datetime import datetime

from bot.errors import BackendError, SupportbotError


class StaffError(SupportbotError):
    """A staff account could not be used or changed as asked; the message says why and how to go on."""

    code = "staff_error"


class StaffNotFound(StaffError):
    code = "not_found"

    def __init__(self, email: str) -> None:
        self.email = email
        super().__init__(f"email: no staff member has the email {email!r} — list them with `supportbot staff list`")


class StaffExists(StaffError):
    code = "duplicate"

    def __init__(self, email: str) -> None:
        self.email = email
        super().__init__(
            f"email: {email!r} already has a staff account — pick another email, or change that member's role or "
            "password instead (`supportbot staff reset-password EMAIL`)"
        )


class InvalidStaffInput(StaffError):
    """One field is invalid; `field` names it."""

    code = "invalid"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class LastAdminError(StaffError):
    code = "last_admin"

    def __init__(self, email: str) -> None:
        self.email = email
        super().__init__(
            f"{email} is the last admin: the console would have nobody to manage staff — add another admin first "
            "(`supportbot staff add EMAIL --role admin`)"
        )


class SignInRefused(StaffError):
    """Wrong email or password: the message never says which, so nobody learns which emails have accounts."""

    code = "sign_in_refused"

    def __init__(self) -> None:
        super().__init__("wrong email or password")


class AccountLocked(StaffError):
    code = "locked"

    def __init__(self, email: str, until: datetime, failures: int) -> None:
        self.email = email
        self.until = until
        self.failures = failures
        super().__init__(
            f"{email} is locked until {until:%H:%M} UTC after {failures} wrong passwords in a row — try again then, "
            "or ask an admin to reset the password (`supportbot staff reset-password EMAIL` also unlocks)"
        )


class StaffStoreError(BackendError):
    """The staff tables (members, console sessions, audit log) cannot be read or written."""

    code = "store_error"

"""`supportbot staff add|list|remove|reset-password` (a plugin of bot/cli.py): the console's members.

Passwords are asked twice (hidden), or read from the first line of standard input with `--password-stdin`
(scripts, tests). Exit codes: 0 done, 1 refused (unknown or duplicate email, last admin, database), 2 bad
input (role, email, a short password, the two passwords differ).
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from bot.staff.accounts import ROLES
from bot.staff.errors import InvalidStaffInput, StaffError, StaffExists, StaffNotFound, StaffStoreError
from bot.staff.passwords import check_new_password
from bot.staff.wiring import StaffServices

staff_app = typer.Typer(
    help="Staff accounts of the console at /console: add, list, remove, reset a password.", no_args_is_help=True
)
Email = Annotated[str, typer.Argument(help="The member's email address (case does not matter).")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input.")
]


def _services() -> StaffServices:
    from bot.cli import _settings

    return StaffServices.from_settings(_settings())


def _fail(error: Exception, code: int = 1) -> typer.Exit:
    from bot.cli import err_console

    err_console.print(f"[red]{error}[/red]", highlight=False)
    return typer.Exit(code)


def _exit_code(error: StaffError | StaffStoreError) -> int:
    return 2 if isinstance(error, InvalidStaffInput) else 1


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password (at least 10 characters): ")
    check_new_password(first)
    if getpass.getpass("The same password again: ") != first:
        raise InvalidStaffInput("password", "the two passwords differ; run the command again and type the same one")
    return first


@staff_app.command("add")
def staff_add(
    email: Email,
    role: Annotated[str, typer.Option("--role", help=f"One of {', '.join(ROLES)}.", show_default=False)],
    name: Annotated[str, typer.Option("--name", help="The name shown in the console (default: from the email).")] = "",
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a member with ROLE (agent, editor or admin); the password is asked for twice."""
    try:
        if role not in ROLES:
            raise InvalidStaffInput("--role", f"{role!r} is not a role; use one of {', '.join(ROLES)}")
        services = _services()
        if services.accounts.find(email) is not None:
            raise StaffExists(email.strip().lower())  # before asking for a password
        member = services.accounts.add(email, _password(password_stdin), role, name)
        services.audit.record(None, "cli", "staff.add", member.email, f"role {member.role}")
    except (StaffError, StaffStoreError) as e:
        raise _fail(e, _exit_code(e)) from e
    typer.echo(f"Added {member.email} ({member.display_name}) as {member.role}; they sign in at /console/login.")


@staff_app.command("list")
def staff_list() -> None:
    """Every member: email, role, name, and whether the account is locked."""
    from bot.staff.accounts import utc_now

    try:
        members = _services().accounts.members()
    except StaffStoreError as e:
        raise _fail(e) from e
    if not members:
        typer.echo("No staff members yet: add one with `supportbot staff add EMAIL --role admin`.")
    now = utc_now()
    for m in members:
        lock = f"  locked until {m.locked_until:%Y-%m-%d %H:%M} UTC" if m.locked_at(now) and m.locked_until else ""
        typer.echo(f"{m.email:32} {m.role:7} {m.display_name}{lock}")


@staff_app.command("remove")
def staff_remove(email: Email) -> None:
    """Remove a member and sign them out everywhere (their audit entries stay)."""
    try:
        services = _services()
        member = services.accounts.remove(email)
        services.audit.record(None, "cli", "staff.remove", member.email)
    except (StaffError, StaffStoreError) as e:
        raise _fail(e, _exit_code(e)) from e
    typer.echo(f"Removed {member.email}; their console sessions have ended.")


@staff_app.command("reset-password")
def staff_reset_password(email: Email, password_stdin: PasswordStdin = False) -> None:
    """Set a new password (asked twice); also unlocks the account and signs the member out everywhere."""
    try:
        services = _services()
        if services.accounts.find(email) is None:
            raise StaffNotFound(email)  # before asking for a password
        member = services.accounts.reset_password(email, _password(password_stdin))
        services.audit.record(None, "cli", "staff.reset_password", member.email)
    except (StaffError, StaffStoreError) as e:
        raise _fail(e, _exit_code(e)) from e
    typer.echo(f"New password set for {member.email}; the account is unlocked and signed out everywhere.")

"""`supportbot staff add|list|remove|reset-password` on a temporary database (real argon2 parameters)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.config import Settings
from bot.staff import AccountLocked, SignInRefused, StaffServices
from bot.staff.cli import staff_app

runner = CliRunner()
PASSWORD = "correct horse battery"


@pytest.fixture
def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StaffServices:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", url)
    monkeypatch.setenv("SUPPORTBOT_STATE_DIR", str(tmp_path / "state"))
    return StaffServices.from_settings(Settings())


def add(email: str, role: str, password: str = PASSWORD, *extra: str) -> object:
    return runner.invoke(staff_app, ["add", email, "--role", role, "--password-stdin", *extra], input=password + "\n")


def test_add_list_and_sign_in(services: StaffServices) -> None:
    result = add("Ann@Example.com", "admin", PASSWORD, "--name", "Ann Berg")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "Added ann@example.com (Ann Berg) as admin" in result.output  # type: ignore[attr-defined]
    listed = runner.invoke(staff_app, ["list"])
    assert listed.exit_code == 0 and "ann@example.com" in listed.output and "admin" in listed.output
    assert services.accounts.authenticate("ann@example.com", PASSWORD).role == "admin"
    assert [e.action for e in services.audit.entries().entries] == ["staff.add"]


def test_the_password_is_prompted_twice(services: StaffServices, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([PASSWORD, "something else!"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    result = runner.invoke(staff_app, ["add", "ann@example.com", "--role", "agent"])
    assert result.exit_code == 2 and "password: the two passwords differ" in result.output
    answers = iter([PASSWORD, PASSWORD])
    assert runner.invoke(staff_app, ["add", "ann@example.com", "--role", "agent"]).exit_code == 0
    assert services.accounts.find("ann@example.com") is not None


@pytest.mark.parametrize(
    ("args", "password", "code", "message"),
    [
        (["add", "ann@example.com", "--role", "owner"], PASSWORD, 2, "--role: 'owner' is not a role; use one of agent"),
        (["add", "ann@example.com", "--role", "agent"], "too short", 2, "password: it has 9 characters"),
        (["add", "nobody", "--role", "agent"], PASSWORD, 2, "email: 'nobody' is not an email address"),
        (["remove", "ghost@example.com"], "", 1, "email: no staff member has the email 'ghost@example.com'"),
        (["reset-password", "ghost@example.com"], PASSWORD, 1, "no staff member has the email"),
    ],
)
def test_clear_errors(services: StaffServices, args: list[str], password: str, code: int, message: str) -> None:
    result = runner.invoke(
        staff_app, [*args, "--password-stdin"] if args[0] != "remove" else args, input=password + "\n"
    )
    assert result.exit_code == code
    assert message in " ".join(result.output.split())
    assert services.accounts.members() == []


def test_a_duplicate_is_refused_before_the_password_is_asked(services: StaffServices) -> None:
    assert add("ann@example.com", "agent").exit_code == 0  # type: ignore[attr-defined]
    result = runner.invoke(staff_app, ["add", "ANN@example.com", "--role", "admin"])  # no input: not prompted
    assert result.exit_code == 1 and "already has a staff account" in result.output


def test_reset_password_unlocks_and_remove_deletes(services: StaffServices) -> None:
    add("boss@example.com", "admin")
    add("ann@example.com", "agent")
    for _ in range(5):
        with pytest.raises((SignInRefused, AccountLocked)):
            services.accounts.authenticate("ann@example.com", "wrong password")
    assert "locked until" in runner.invoke(staff_app, ["list"]).output
    reset = runner.invoke(
        staff_app, ["reset-password", "ann@example.com", "--password-stdin"], input="new password 123\n"
    )
    assert reset.exit_code == 0 and "unlocked" in reset.output
    assert services.accounts.authenticate("ann@example.com", "new password 123").email == "ann@example.com"
    assert runner.invoke(staff_app, ["remove", "ann@example.com"]).exit_code == 0
    with pytest.raises(SignInRefused):
        services.accounts.authenticate("ann@example.com", "new password 123")
    last = runner.invoke(staff_app, ["remove", "boss@example.com"])
    assert last.exit_code == 1 and "last admin" in last.output

"""`bot.staff`: members, argon2 hashes, the lockout and its expiry, sessions and their idle expiry, the audit
log, on a temporary SQLite database with a clock the tests move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from bot.config import Settings
from bot.dialogue.tracker_store import make_engine
from bot.staff import (
    AccountLocked,
    InvalidStaffInput,
    LastAdminError,
    Passwords,
    SignInRefused,
    StaffExists,
    StaffNotFound,
    StaffServices,
)
from bot.staff.tables import console_sessions, staff_members

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class CountingPasswords(Passwords):
    def __init__(self) -> None:
        super().__init__(FAST)
        self.verified = 0

    def verify(self, stored_hash: str | None, password: str) -> bool:
        self.verified += 1
        return super().verify(stored_hash, password)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def passwords() -> CountingPasswords:
    return CountingPasswords()


@pytest.fixture
def services(tmp_path: Path, clock: Clock, passwords: CountingPasswords) -> StaffServices:
    settings = Settings(
        project_dir=tmp_path, console_lockout_failures=3, console_lockout_minutes=15, console_session_hours=2
    )
    return StaffServices.from_engine(
        make_engine(f"sqlite:///{tmp_path / 'staff.db'}"), settings, passwords=passwords, clock=clock
    )


def test_a_member_is_stored_with_an_argon2_hash_never_the_password(services: StaffServices) -> None:
    member = services.accounts.add("Ann@Example.COM", PASSWORD, "editor", "Ann")
    assert (member.email, member.role, member.display_name) == ("ann@example.com", "editor", "Ann")
    with services.accounts.database.engine.connect() as conn:  # type: ignore[attr-defined]
        stored = conn.execute(select(staff_members.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert services.accounts.authenticate("  ANN@example.com ", PASSWORD).id == member.id


def test_emails_are_unique_ignoring_case(services: StaffServices) -> None:
    services.accounts.add("ann@example.com", PASSWORD, "agent")
    with pytest.raises(StaffExists, match="already has a staff account"):
        services.accounts.add("ANN@example.com", PASSWORD, "admin")


@pytest.mark.parametrize(
    ("email", "password", "role", "field"),
    [
        ("not-an-email", PASSWORD, "agent", "email"),
        ("ann@example.com", "short", "agent", "password"),
        ("ann@example.com", PASSWORD, "owner", "role"),
    ],
)
def test_bad_input_names_the_field(services: StaffServices, email: str, password: str, role: str, field: str) -> None:
    with pytest.raises(InvalidStaffInput) as error:
        services.accounts.add(email, password, role)
    assert error.value.field == field and str(error.value).startswith(f"{field}: ")
    assert services.accounts.members() == []


def test_an_unknown_email_is_refused_like_a_wrong_password_after_a_hash(
    services: StaffServices, passwords: CountingPasswords
) -> None:
    services.accounts.add("ann@example.com", PASSWORD, "agent")
    with pytest.raises(SignInRefused) as unknown:
        services.accounts.authenticate("bob@example.com", PASSWORD)
    with pytest.raises(SignInRefused) as wrong:
        services.accounts.authenticate("ann@example.com", "wrong password")
    assert str(unknown.value) == str(wrong.value) == "wrong email or password"
    assert passwords.verified == 2  # the unknown email was verified against a dummy hash too


def test_the_lockout_after_failures_in_a_row_and_its_expiry(services: StaffServices, clock: Clock) -> None:
    services.accounts.add("ann@example.com", PASSWORD, "agent")
    for _ in range(2):
        with pytest.raises(SignInRefused):
            services.accounts.authenticate("ann@example.com", "wrong password")
    with pytest.raises(AccountLocked) as locked:
        services.accounts.authenticate("ann@example.com", "wrong password")
    assert locked.value.until == clock.now + timedelta(minutes=15)
    assert "locked until 09:15 UTC" in str(locked.value)
    clock.advance(minutes=14)
    with pytest.raises(AccountLocked):  # even the right password, while locked
        services.accounts.authenticate("ann@example.com", PASSWORD)
    clock.advance(minutes=1)
    assert services.accounts.authenticate("ann@example.com", PASSWORD).email == "ann@example.com"


def test_a_correct_password_resets_the_count(services: StaffServices) -> None:
    services.accounts.add("ann@example.com", PASSWORD, "agent")
    for _ in range(2):
        with pytest.raises(SignInRefused):
            services.accounts.authenticate("ann@example.com", "wrong password")
    services.accounts.authenticate("ann@example.com", PASSWORD)
    for _ in range(2):  # two more wrong ones are not three in a row
        with pytest.raises(SignInRefused):
            services.accounts.authenticate("ann@example.com", "wrong password")
    assert services.accounts.authenticate("ann@example.com", PASSWORD).failed_attempts == 0


def test_a_password_reset_unlocks_and_ends_the_sessions(services: StaffServices) -> None:
    member = services.accounts.add("ann@example.com", PASSWORD, "agent")
    session = services.sessions.start(member.id)
    for _ in range(3):
        with pytest.raises((SignInRefused, AccountLocked)):
            services.accounts.authenticate("ann@example.com", "wrong password")
    services.accounts.reset_password("ann@example.com", "a brand new password")
    assert services.sessions.lookup(session.token) is None
    assert services.accounts.authenticate("ann@example.com", "a brand new password").id == member.id
    with pytest.raises(SignInRefused):
        services.accounts.authenticate("ann@example.com", PASSWORD)


def test_sessions_expire_after_idle_hours_and_each_use_moves_the_expiry(services: StaffServices, clock: Clock) -> None:
    member = services.accounts.add("ann@example.com", PASSWORD, "agent")
    session = services.sessions.start(member.id)
    with services.accounts.database.engine.connect() as conn:  # type: ignore[attr-defined]
        assert conn.execute(select(console_sessions.c.token_hash)).scalar_one() != session.token
    clock.advance(hours=1, minutes=59)
    found = services.sessions.lookup(session.token)
    assert found is not None and found.member.email == "ann@example.com" and found.csrf_token == session.csrf_token
    clock.advance(hours=1, minutes=59)  # idle less than 2 h since the last use
    assert services.sessions.lookup(session.token) is not None
    clock.advance(hours=2, seconds=1)
    assert services.sessions.lookup(session.token) is None
    assert services.sessions.lookup("not-a-token") is None


def test_sign_out_and_removal_end_sessions(services: StaffServices) -> None:
    services.accounts.add("boss@example.com", PASSWORD, "admin")
    member = services.accounts.add("ann@example.com", PASSWORD, "agent")
    first, second = services.sessions.start(member.id), services.sessions.start(member.id)
    services.sessions.end(first.token)
    assert services.sessions.lookup(first.token) is None and services.sessions.lookup(second.token) is not None
    services.accounts.remove("ANN@example.com")
    assert services.sessions.lookup(second.token) is None
    with pytest.raises(StaffNotFound, match="supportbot staff list"):
        services.accounts.remove("ann@example.com")


def test_the_last_admin_cannot_be_removed_or_demoted(services: StaffServices) -> None:
    services.accounts.add("boss@example.com", PASSWORD, "admin")
    with pytest.raises(LastAdminError):
        services.accounts.set_role("boss@example.com", "editor")
    with pytest.raises(LastAdminError):
        services.accounts.remove("boss@example.com")
    services.accounts.add("second@example.com", PASSWORD, "admin")
    assert services.accounts.set_role("boss@example.com", "editor").role == "editor"
    with pytest.raises(LastAdminError):
        services.accounts.remove("second@example.com")


def test_the_audit_log_is_newest_first_filtered_and_paged(services: StaffServices, clock: Clock) -> None:
    for n in range(5):
        services.audit.record(1, "ann@example.com", "staff.add", f"m{n}@example.com")
        clock.advance(minutes=1)
    services.audit.record(2, "bob@example.com", "console.sign_in")
    page = services.audit.entries(per_page=4)
    assert (page.total, page.pages) == (6, 2)
    assert [e.target for e in page.entries] == ["", "m4@example.com", "m3@example.com", "m2@example.com"]
    assert [e.target for e in services.audit.entries(per_page=4, page=2).entries] == [
        "m1@example.com",
        "m0@example.com",
    ]
    assert services.audit.entries(email="BOB@example.com").total == 1
    assert services.audit.entries(action="staff.").total == 5
    assert services.audit.entries(action="staff").total == 0  # exact unless it ends in "."
    assert services.audit.actions() == ["console.sign_in", "staff.add"]

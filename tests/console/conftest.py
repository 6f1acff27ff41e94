"""Console test fixtures: a real app with the staff tables in a temporary SQLite database, and signed-in
clients.

    def test_inbox(console_client):
        agent = console_client("agent")                  # a new member, signed in through /console/login
        agent.get("/console")                            # pages: the session cookie goes along
        agent.post("/console/api/...", headers=agent.csrf_header)   # or agent.post_form(url, {...})
        agent.member                                      # the StaffMember (id, email, display_name, role)

Each call makes a new member (email `<role>N@example.com`, password `PASSWORD`) and a new TestClient with
its own cookies. To serve something else in the app (an assistant, a handoff store), override the
`console_app` fixture in your test module, building on `make_console_app(settings)` and
`console_settings`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from datetime import date, tzinfo
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from bot.config import Settings
from bot.dialogue.tracker_store import make_engine
from bot.staff import Passwords, StaffServices
from server.console.access import StaffMember, StaffRole
from tests.databases import fresh_database

PASSWORD = "correct horse battery staple"
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
"""argon2id with tiny parameters: the same code paths, milliseconds instead of a tenth of a second."""
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


class ConsoleClient(TestClient):
    """A TestClient signed in to the console as `member`; `csrf` is its session's CSRF token."""

    member: StaffMember
    csrf: str
    password: str

    @property
    def csrf_header(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf}

    def post_form(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        """POST a form with the session's CSRF token; redirects are not followed."""
        kwargs.setdefault("follow_redirects", False)
        return self.post(url, data={**(data or {}), "csrf_token": self.csrf}, **kwargs)


def make_console_app(settings: Settings, services: StaffServices) -> FastAPI:
    from server.app import create_app

    app = create_app(settings)
    app.state.staff_services = services
    return app


def login_csrf(client: TestClient) -> str:
    """The CSRF token of the sign-in form (a signed-out visitor's token)."""
    page = client.get("/console/login")
    found = CSRF_INPUT.search(page.text)
    assert found is not None, page.text
    return found.group(1)


@pytest.fixture
def console_settings(tmp_path: Path) -> Settings:
    return Settings(
        project_dir=tmp_path,
        state_dir=tmp_path / "state",
        database_url=f"sqlite:///{tmp_path / 'console.db'}",
        console_lockout_failures=3,
        console_lockout_minutes=15,
    )


@pytest.fixture
def staff_services(console_settings: Settings) -> Iterator[StaffServices]:
    engine = make_engine(console_settings.resolved_database_url)
    yield StaffServices.from_engine(engine, console_settings, passwords=Passwords(FAST_HASHER))
    engine.dispose()


@pytest.fixture
def console_app(console_settings: Settings, staff_services: StaffServices) -> FastAPI:
    return make_console_app(console_settings, staff_services)


@pytest.fixture
def console_client(console_app: FastAPI, staff_services: StaffServices) -> Iterator[Callable[..., ConsoleClient]]:
    """A factory: `console_client("agent" | "editor" | "admin", email=None, name=None)`."""
    numbers = itertools.count(1)
    clients: list[ConsoleClient] = []

    def make(role: str | StaffRole = StaffRole.AGENT, *, email: str | None = None, name: str = "") -> ConsoleClient:
        role = StaffRole(role)
        email = email or f"{role.value}{next(numbers)}@example.com"
        account = staff_services.accounts.add(email, PASSWORD, role.value, name)
        client = ConsoleClient(console_app, client=("127.0.0.1", 50000))
        clients.append(client)
        signed_in = client.post(
            "/console/login",
            data={"email": email, "password": PASSWORD, "csrf_token": login_csrf(client)},
            follow_redirects=False,
        )
        assert signed_in.status_code == 303, signed_in.text
        token = client.cookies.get("supportbot_console")
        assert token
        session = staff_services.sessions.lookup(token)
        assert session is not None
        client.member = StaffMember(account.id, account.email, account.display_name, role)
        client.csrf = session.csrf_token
        client.password = PASSWORD
        return client

    yield make
    for client in clients:
        client.close()


def seeded_engine(kind: str, tmp_path: Path, day: date, zone: tzinfo) -> Iterator[Engine]:
    """An engine (SQLite file or a fresh PostgreSQL schema, `tests/databases.py`) holding the known sample
    conversations of `day`, for a fixture parametrised over `["sqlite", "postgresql"]` to `yield from`."""
    from bot.analytics.sample import seed_sample

    for url in fresh_database(kind, tmp_path, "console", "the report"):
        engine = make_engine(url)
        try:
            seed_sample(engine, day, zone)
            yield engine
        finally:
            engine.dispose()

"""Every console route, including those other areas add later (found by walking the app's routes):

* a page without a session redirects to the sign-in page; a `/console/api/...` route answers 401 in the
  JSON error shape; a console WebSocket is not accepted;
* every state-changing route (POST, PUT, PATCH, DELETE) refuses a signed-in admin who omits the CSRF token;
* a session cookie whose member was removed, or whose session expired, counts as signed out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.routing import APIWebSocketRoute
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bot.staff import StaffServices
from tests.console.conftest import ConsoleClient

Factory = Callable[..., ConsoleClient]
PUBLIC = {("GET", "/console/login"), ("POST", "/console/login")}
"""Reachable without a session (the sign-in form is still CSRF-protected)."""
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class ConsoleRoute:
    path: str
    methods: frozenset[str]
    websocket: bool

    @property
    def url(self) -> str:
        """The path with every parameter filled in (`{id}` -> 1, `{entry:path}` -> 1)."""
        return re.sub(r"\{[^}]+\}", "1", self.path)


def console_routes(app: FastAPI) -> list[ConsoleRoute]:
    try:  # FastAPI >= 0.16x includes routers lazily: walk the effective routes
        from fastapi.routing import iter_route_contexts

        found = [(c.path, c.methods, c.original_route) for c in iter_route_contexts(app.routes)]
    except ImportError:
        found = [(getattr(r, "path", None), getattr(r, "methods", None), r) for r in app.routes]
    routes = []
    for path, methods, original in found:
        if isinstance(path, str) and (path == "/console" or path.startswith("/console/")):
            routes.append(ConsoleRoute(path, frozenset(methods or ()), isinstance(original, APIWebSocketRoute)))
    return routes


@pytest.fixture
def routes(console_app: FastAPI) -> list[ConsoleRoute]:
    found = console_routes(console_app)
    paths = {r.path for r in found}
    assert {"/console/login", "/console/logout", "/console/staff", "/console/audit"} <= paths, paths
    return found


def assert_signed_out(response: object, route: ConsoleRoute, method: str) -> str | None:
    """None when `response` is the signed-out answer for `route`, else what is wrong."""
    status = response.status_code  # type: ignore[attr-defined]
    if route.path.startswith("/console/api/"):
        body = response.json() if "json" in response.headers.get("content-type", "") else {}  # type: ignore[attr-defined]
        if status != 401 or body.get("error", {}).get("code") != "unauthorized":
            return f"{method} {route.path}: {status} {str(body)[:80]} (want 401 unauthorized)"
        return None
    location = response.headers.get("location", "")  # type: ignore[attr-defined]
    if status != 303 or not location.startswith("/console/login?next="):
        return f"{method} {route.path}: {status} to {location!r} (want 303 to /console/login?next=...)"
    return None


def test_every_page_without_a_session_sends_to_sign_in(console_app: FastAPI, routes: list[ConsoleRoute]) -> None:
    client = TestClient(console_app, client=("127.0.0.1", 50000))
    problems = []
    checked = 0
    for route in routes:
        for method in sorted(route.methods & {"GET"}):
            if (method, route.path) in PUBLIC:
                continue
            checked += 1
            problem = assert_signed_out(client.request(method, route.url, follow_redirects=False), route, method)
            if problem:
                problems.append(problem)
    assert checked >= 2 and problems == []


def test_the_redirect_keeps_the_page_asked_for(console_app: FastAPI) -> None:
    response = TestClient(console_app).get("/console/audit?page=2", follow_redirects=False)
    assert response.headers["location"] == "/console/login?next=%2Fconsole%2Faudit%3Fpage%3D2"


def test_every_console_websocket_without_a_session_is_refused(console_app: FastAPI, routes: list[ConsoleRoute]) -> None:
    client = TestClient(console_app, client=("127.0.0.1", 50000))
    accepted = []
    for route in (r for r in routes if r.websocket):
        try:
            with client.websocket_connect(route.url) as socket:
                socket.close()
                accepted.append(route.path)
        except WebSocketDisconnect:
            pass
    assert accepted == []


def test_every_state_changing_route_without_the_csrf_token_is_refused(
    console_client: Factory, routes: list[ConsoleRoute]
) -> None:
    admin = console_client("admin")
    problems = []
    checked = 0
    for route in routes:
        for method in sorted(route.methods & STATE_CHANGING):
            checked += 1
            for headers, data in (
                ({"Accept": "application/json"}, None),
                ({"Accept": "application/json"}, {"csrf_token": "forged-token-0123456789"}),
                ({"Accept": "application/json", "X-CSRF-Token": "forged-token-0123456789"}, None),
            ):
                response = admin.request(method, route.url, headers=headers, data=data, follow_redirects=False)
                code = response.json().get("error", {}).get("code") if response.status_code == 403 else None
                if code != "csrf_rejected":
                    problems.append(
                        f"{method} {route.path} {sorted(headers)}: {response.status_code} {response.text[:80]}"
                    )
    assert checked >= 5 and problems == []
    assert admin.get("/console/staff").status_code == 200  # still signed in: the refusals changed nothing


def test_the_csrf_token_of_another_session_is_refused(console_client: Factory) -> None:
    admin, other = console_client("admin"), console_client("admin")
    refused = admin.post("/console/logout", data={"csrf_token": other.csrf}, follow_redirects=False)
    assert refused.status_code == 403
    assert admin.post_form("/console/logout").status_code == 303


def test_a_removed_members_cookie_is_signed_out(console_client: Factory, staff_services: StaffServices) -> None:
    admin, agent = console_client("admin"), console_client("agent")
    staff_services.accounts.remove(agent.member.email)
    response = agent.get("/console/audit", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/console/login")
    cleared = response.headers.get_list("set-cookie")
    assert any(c.startswith("supportbot_console=;") and "Max-Age=0" in c for c in cleared)
    assert admin.get("/console/audit").status_code == 200


def test_an_expired_session_is_signed_out(console_client: Factory, staff_services: StaffServices) -> None:
    admin = console_client("admin")
    assert admin.get("/console/staff").status_code == 200
    sessions = staff_services.sessions
    real_clock = sessions.clock  # type: ignore[attr-defined]
    sessions.clock = lambda: datetime.now(UTC) + timedelta(hours=13)  # type: ignore[attr-defined]  # idle > 12 h
    try:
        response = admin.get("/console/staff", follow_redirects=False)
    finally:
        sessions.clock = real_clock  # type: ignore[attr-defined]
    assert response.status_code == 303 and response.headers["location"].startswith("/console/login")
    assert admin.get("/console/staff", follow_redirects=False).status_code == 303  # the row is gone, not revived


def test_a_forged_session_cookie_is_signed_out(console_app: FastAPI) -> None:
    client = TestClient(console_app, cookies={"supportbot_console": "A" * 43})
    response = client.get("/console/staff", follow_redirects=False)
    assert response.status_code == 303

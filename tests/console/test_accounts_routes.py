"""The console's sign-in, sign-out, staff and audit pages against a real app (TestClient, SQLite)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.staff import StaffServices
from server.console.accounts import safe_next
from tests.console.conftest import PASSWORD, ConsoleClient, login_csrf

Factory = Callable[..., ConsoleClient]


def sign_in(client: TestClient, email: str, password: str, next: str = "/console") -> object:
    data = {"email": email, "password": password, "next": next, "csrf_token": login_csrf(client)}
    return client.post("/console/login", data=data, follow_redirects=False)


@pytest.fixture
def visitor(console_app: FastAPI) -> TestClient:
    return TestClient(console_app, client=("127.0.0.1", 50000))


def test_the_login_page_sets_a_pre_session_csrf_cookie(visitor: TestClient) -> None:
    page = visitor.get("/console/login")
    assert page.status_code == 200 and 'name="csrf_token"' in page.text
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("supportbot_console_csrf=")
    assert all(part in cookie for part in ("HttpOnly", "SameSite=Strict", "Path=/console"))
    assert "Secure" not in cookie
    again = visitor.get("/console/login")
    assert "set-cookie" not in again.headers  # the same token while signed out
    assert login_csrf(visitor) in visitor.cookies.get("supportbot_console_csrf", "")


def test_cookies_are_secure_behind_https(visitor: TestClient, staff_services: StaffServices) -> None:
    staff_services.accounts.add("ann@example.com", PASSWORD, "agent")
    page = visitor.get("/console/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in page.headers["set-cookie"]
    token = login_csrf(visitor)
    signed = visitor.post(
        "/console/login",
        data={"email": "ann@example.com", "password": PASSWORD, "csrf_token": token},
        headers={"X-Forwarded-Proto": "https"},
        follow_redirects=False,
    )
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith("supportbot_console=") and "Secure" in cookie and "HttpOnly" in cookie


def test_sign_in_without_the_csrf_token_is_refused(visitor: TestClient, staff_services: StaffServices) -> None:
    staff_services.accounts.add("ann@example.com", PASSWORD, "agent")
    visitor.get("/console/login")
    refused = visitor.post("/console/login", data={"email": "ann@example.com", "password": PASSWORD})
    assert refused.status_code == 403 and "security token" in refused.text
    assert "supportbot_console" not in {c for c in visitor.cookies if c != "supportbot_console_csrf"}


def test_sign_in_then_out_is_audited(visitor: TestClient, staff_services: StaffServices) -> None:
    staff_services.accounts.add("ann@example.com", PASSWORD, "admin", "Ann")
    done = sign_in(visitor, "ANN@example.com", PASSWORD, next="/console/audit?page=1")
    assert done.status_code == 303 and done.headers["location"] == "/console/audit?page=1"  # type: ignore[attr-defined]
    page = visitor.get("/console/audit")
    assert page.status_code == 200 and "console.sign_in" in page.text and "Ann (admin)" in page.text
    csrf = staff_services.sessions.lookup(visitor.cookies["supportbot_console"])
    assert csrf is not None
    out = visitor.post("/console/logout", data={"csrf_token": csrf.csrf_token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/console/login"
    assert "Max-Age=0" in out.headers["set-cookie"]
    assert visitor.get("/console/staff", follow_redirects=False).status_code == 303
    assert [e.action for e in staff_services.audit.entries().entries] == ["console.sign_out", "console.sign_in"]


def test_a_wrong_password_does_not_say_whether_the_email_exists(
    visitor: TestClient, staff_services: StaffServices
) -> None:
    staff_services.accounts.add("ann@example.com", PASSWORD, "agent")
    wrong = sign_in(visitor, "ann@example.com", "not the password")
    unknown = sign_in(visitor, "nobody@example.com", "not the password")
    for response in (wrong, unknown):
        assert response.status_code == 401  # type: ignore[attr-defined]
        assert "Wrong email or password" in response.text  # type: ignore[attr-defined]
    failed = staff_services.audit.entries(action="console.sign_in_failed")
    assert [e.email for e in failed.entries] == ["nobody@example.com", "ann@example.com"]


def test_the_lockout_shows_until_when(visitor: TestClient, staff_services: StaffServices) -> None:
    staff_services.accounts.add("ann@example.com", PASSWORD, "agent")
    for _ in range(2):
        assert sign_in(visitor, "ann@example.com", "not the password").status_code == 401  # type: ignore[attr-defined]
    locked = sign_in(visitor, "ann@example.com", "not the password")
    assert locked.status_code == 423  # type: ignore[attr-defined]
    assert "locked until" in locked.text and "UTC" in locked.text  # type: ignore[attr-defined]
    still = sign_in(visitor, "ann@example.com", PASSWORD)
    assert still.status_code == 423  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/console/staff", "/console/staff"),
        ("/console", "/console"),
        ("/console/conversations?q=x", "/console/conversations?q=x"),
        ("https://evil.example/console", "/console"),
        ("//evil.example/console", "/console"),
        ("/\\evil.example", "/console"),
        ("/consolex", "/console"),
        ("/admin/handoffs", "/console"),
        ("", "/console"),
    ],
)
def test_next_is_honoured_only_for_console_pages(target: str, safe: str) -> None:
    assert safe_next(target) == safe


def test_an_admin_manages_staff(console_client: Factory, staff_services: StaffServices) -> None:
    admin = console_client("admin")
    added = admin.post_form(
        "/console/staff",
        {"email": "Bob@Example.com", "display_name": "Bob", "role": "editor", "password": "long enough pw"},
    )
    assert added.status_code == 303 and "done=added" in added.headers["location"]
    bob = staff_services.accounts.find("bob@example.com")
    assert bob is not None and bob.role == "editor"
    page = admin.get(added.headers["location"])
    assert "Added bob@example.com" in page.text

    assert admin.post_form(f"/console/staff/{bob.id}/role", {"role": "agent"}).status_code == 303
    assert admin.post_form(f"/console/staff/{bob.id}/password", {"password": "another long one"}).status_code == 303
    assert staff_services.accounts.authenticate("bob@example.com", "another long one").role == "agent"
    assert admin.post_form(f"/console/staff/{bob.id}/remove").status_code == 303
    assert staff_services.accounts.find("bob@example.com") is None
    actions = [(e.action, e.target) for e in staff_services.audit.entries(action="staff.").entries]
    assert actions == [
        ("staff.remove", "bob@example.com"),
        ("staff.reset_password", "bob@example.com"),
        ("staff.role", "bob@example.com"),
        ("staff.add", "bob@example.com"),
    ]
    assert all(e.email == admin.member.email for e in staff_services.audit.entries(action="staff.").entries)


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"email": "admin1@example.com", "role": "agent", "password": "long enough pw"}, 409, "already has a staff"),
        (
            {"email": "x@example.com", "role": "owner", "password": "long enough pw"},
            400,
            "role: &#39;owner&#39; is not",
        ),
        ({"email": "x@example.com", "role": "agent", "password": "short"}, 400, "password: it has 5 characters"),
    ],
)
def test_staff_form_errors_are_shown(
    console_client: Factory, staff_services: StaffServices, form: dict[str, str], status: int, message: str
) -> None:
    admin = console_client("admin", email="admin1@example.com")
    refused = admin.post_form("/console/staff", form)
    assert refused.status_code == status and message in refused.text
    assert [m.email for m in staff_services.accounts.members()] == ["admin1@example.com"]


def test_the_last_admin_cannot_remove_or_demote_themselves(
    console_client: Factory, staff_services: StaffServices
) -> None:
    admin = console_client("admin")
    own = admin.member.id
    demote = admin.post_form(f"/console/staff/{own}/role", {"role": "agent"})
    assert demote.status_code == 409 and "last admin" in demote.text
    remove = admin.post_form(f"/console/staff/{own}/remove")
    assert remove.status_code == 409 and "last admin" in remove.text
    assert staff_services.accounts.find(admin.member.email) is not None
    assert admin.post_form("/console/staff/9999/remove").status_code == 404


def test_resetting_ones_own_password_keeps_this_browser_signed_in(console_client: Factory) -> None:
    admin = console_client("admin")
    reset = admin.post_form(f"/console/staff/{admin.member.id}/password", {"password": "my new password"})
    assert reset.status_code == 303
    assert admin.get("/console/staff", follow_redirects=False).status_code == 200


def test_a_removed_members_session_is_signed_out(console_client: Factory, staff_services: StaffServices) -> None:
    admin, agent = console_client("admin"), console_client("agent")
    assert agent.get("/console/login", follow_redirects=False).status_code == 303  # signed in: sent on
    admin.post_form(f"/console/staff/{agent.member.id}/remove")
    gone = agent.get("/console/staff", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/console/login")
    assert "supportbot_console=;" in gone.headers.get("set-cookie", "")


def test_agents_and_editors_are_refused_admin_pages(console_client: Factory) -> None:
    for role in ("agent", "editor"):
        client = console_client(role)
        for path in ("/console/staff", "/console/audit"):
            page = client.get(path)
            assert page.status_code == 403 and "needs the admin role" in page.text


def test_the_audit_page_filters_and_pages(console_client: Factory, staff_services: StaffServices) -> None:
    admin = console_client("admin")
    for n in range(60):
        staff_services.audit.record(None, "cli", "staff.add", f"m{n}@example.com")
    first = admin.get("/console/audit")
    assert "Page 1 of 2" in first.text and "m59@example.com" in first.text and "m0@example.com" not in first.text
    second = admin.get("/console/audit", params={"page": 2})
    assert "m0@example.com" in second.text
    only = admin.get("/console/audit", params={"member": admin.member.email, "action": "console.sign_in"})
    assert "console.sign_in" in only.text and "m5@example.com" not in only.text


def test_customer_routes_get_no_console_cookie(visitor: TestClient) -> None:
    response = visitor.get("/healthz")
    assert "set-cookie" not in response.headers

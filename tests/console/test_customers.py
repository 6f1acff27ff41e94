"""The console's Customers page (server/console/customers.py): admins look a customer up, download everything
stored as JSON and delete it after a confirmation, through the same `PersonalRecords` as `supportbot customers`
and /admin/customers; agents and editors are refused, every POST needs the CSRF token, all of it is audited."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from fastapi import FastAPI

from bot.config import Settings
from bot.customers.identity import Identity
from bot.customers.profile import Consent
from bot.customers.records import PersonalRecords
from bot.customers.sql import SqlCustomerStore
from bot.customers.store import CustomerNotFoundError
from bot.dialogue.state import ConversationState, event
from bot.dialogue.tracker_store import SqlTrackerStore, make_engine
from bot.errors import BackendError
from bot.staff import StaffServices
from tests.console.conftest import ConsoleClient

Clients = Callable[..., ConsoleClient]
ANNA = "anna@example.com"


@pytest.fixture
def seeded(console_settings: Settings) -> PersonalRecords:
    """Anna: a profile that remembers her size, and a conversation in which she verified her order."""
    engine = make_engine(console_settings.resolved_database_url)
    store = SqlCustomerStore(engine)
    profile = store.set_consent(Identity.email(ANNA), Consent.GIVEN)
    store.remember(profile.id, {"size_tops": "M"})
    tracker = SqlTrackerStore(engine)
    state = ConversationState("anna-chat", session_id=1)
    state.add(event("user", text=f"where is AN-10001 {ANNA}", parse_data={}, metadata={}))
    state.set_slot("verified_email", ANNA)
    tracker.save(state)
    return PersonalRecords.from_settings(console_settings)


def audited(staff_services: StaffServices, action: str) -> list[tuple[str, str, str]]:
    return [(e.email, e.target, e.detail) for e in staff_services.audit.entries(action=action).entries]


def test_an_admin_looks_a_customer_up_and_sees_the_profile(
    console_client: Clients, seeded: PersonalRecords, staff_services: StaffServices
) -> None:
    admin = console_client("admin")
    page = admin.get("/console/customers", params={"who": ANNA})
    assert page.status_code == 200
    assert "size_tops: M" in page.text and "1 conversation(s)" in page.text and "given" in page.text
    assert '<a href="/console/customers" aria-current="page">Customers</a>' in page.text  # in the admin's navigation
    [(who, target, detail)] = audited(staff_services, "customers.show")
    assert who == admin.member.email and target == ANNA and "conversations: 1" in detail
    unknown = admin.get("/console/customers", params={"who": "nobody@example.com"})
    assert unknown.status_code == 404 and "Nothing is stored about nobody@example.com" in unknown.text


def test_export_is_a_json_download_of_everything_and_audited(
    console_client: Clients, seeded: PersonalRecords, staff_services: StaffServices
) -> None:
    admin = console_client("admin")
    response = admin.post_form("/console/customers/export", {"who": ANNA})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"] == 'attachment; filename="customer-anna@example.com.json"'
    data = json.loads(response.text)
    assert data == {**seeded.export(ANNA), "exported_at": data["exported_at"]}  # what the CLI exports
    assert data["profile"]["preferences"] == {"size_tops": "M"}
    assert [c["sender_id"] for c in data["conversations"]] == ["anna-chat"]
    assert audited(staff_services, "customers.export") == [(admin.member.email, ANNA, "1 conversation(s)")]


def test_delete_asks_for_a_confirmation_then_removes_everything(
    console_client: Clients, seeded: PersonalRecords, staff_services: StaffServices, console_settings: Settings
) -> None:
    admin = console_client("admin")
    confirm = admin.get("/console/customers/delete", params={"who": ANNA})
    assert confirm.status_code == 200 and f"Type <strong>{ANNA}</strong> to confirm" in confirm.text
    wrong = admin.post_form("/console/customers/delete", {"who": ANNA, "confirm": "anna"})
    assert wrong.status_code == 400 and "Nothing was deleted" in wrong.text
    assert seeded.show(ANNA)["profile"] is not None  # still there
    done = admin.post_form("/console/customers/delete", {"who": ANNA, "confirm": ANNA.upper()})
    assert done.status_code == 200 and f"Deleted everything stored about {ANNA}" in done.text
    with pytest.raises(CustomerNotFoundError):
        seeded.show(ANNA)
    assert SqlTrackerStore(make_engine(console_settings.resolved_database_url)).load("anna-chat") is None
    [(who, target, detail)] = audited(staff_services, "customers.delete")
    assert who == admin.member.email and target == ANNA and "customer_profiles=1" in detail
    again = admin.post_form("/console/customers/delete", {"who": ANNA, "confirm": ANNA})
    assert again.status_code == 404 and "Nothing is stored about" in again.text


@pytest.mark.parametrize("role", ["agent", "editor"])
def test_agents_and_editors_are_refused(
    console_client: Clients, seeded: PersonalRecords, staff_services: StaffServices, role: str
) -> None:
    member = console_client(role)
    refused = member.get("/console/customers", params={"who": ANNA})
    assert refused.status_code == 403 and "needs the admin role" in refused.text
    assert 'href="/console/customers"' not in refused.text and 'href="/console/conversations"' in refused.text
    assert member.get("/console/customers/delete", params={"who": ANNA}).status_code == 403
    assert member.post_form("/console/customers/export", {"who": ANNA}).status_code == 403
    assert member.post_form("/console/customers/delete", {"who": ANNA, "confirm": ANNA}).status_code == 403
    assert seeded.show(ANNA)["profile"] is not None
    assert audited(staff_services, "customers.show") == audited(staff_services, "customers.delete") == []


def test_export_and_delete_need_the_csrf_token(
    console_client: Clients, seeded: PersonalRecords, staff_services: StaffServices
) -> None:
    admin = console_client("admin")
    for path, data in (("export", {"who": ANNA}), ("delete", {"who": ANNA, "confirm": ANNA})):
        refused = admin.post(f"/console/customers/{path}", data={**data, "csrf_token": "forged-0123456789"})
        assert refused.status_code == 403 and "security token" in refused.text
    assert seeded.show(ANNA)["profile"] is not None
    assert audited(staff_services, "customers.export") == audited(staff_services, "customers.delete") == []


def test_a_failing_database_is_explained_and_nothing_is_audited(
    console_client: Clients,
    console_app: FastAPI,
    seeded: PersonalRecords,
    staff_services: StaffServices,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(who: str) -> None:
        raise BackendError("database is locked")

    monkeypatch.setattr(seeded, "delete", broken)
    console_app.state.customer_records = seeded
    admin = console_client("admin")
    response = admin.post_form("/console/customers/delete", {"who": ANNA, "confirm": ANNA})
    assert response.status_code == 503 and "could not be read or changed now (database is locked)" in response.text
    assert audited(staff_services, "customers.delete") == []

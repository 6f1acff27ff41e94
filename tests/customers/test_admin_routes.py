"""`/admin/customers/` (server/routes/admin_customers.py) on a temporary database, without the model."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bot.config import Settings
from bot.customers.database import PersonalDatabase
from bot.customers.identity import Identity
from bot.customers.profile import Consent
from bot.customers.records import PersonalRecords
from bot.customers.sql import SqlCustomerStore
from bot.errors import BackendError
from server.app import create_app

TOKEN = "admin-token-for-tests"


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    settings = Settings(project_dir=tmp_path, state_dir=tmp_path / "state", admin_token=SecretStr(TOKEN))
    app = create_app(settings)
    store = SqlCustomerStore.from_url(f"sqlite:///{tmp_path / 'bot.db'}")
    profile = store.set_consent(Identity("shop", "cust-4711"), Consent.GIVEN)
    store.remember(profile.id, {"size_tops": "M"})
    app.state.customer_records = PersonalRecords(PersonalDatabase(store.engine), store)
    return TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})


def test_show_export_delete(client: TestClient) -> None:
    shown = client.get("/admin/customers/cust-4711").json()
    assert shown["profile"]["preferences"] == {"size_tops": "M"}
    exported = client.get("/admin/customers/cust-4711/export").json()
    assert exported["profile"]["shop_customer_id"] == "cust-4711" and exported["conversations"] == []
    deleted = client.delete("/admin/customers/cust-4711").json()
    assert deleted == {"deleted": True, "rows": {"customer_preferences": 1, "customer_profiles": 1}}
    gone = client.get("/admin/customers/cust-4711")
    assert gone.status_code == 404


@pytest.mark.parametrize("method", ["get", "delete"])
def test_unknown_customer_is_404_in_the_error_shape(client: TestClient, method: str) -> None:
    response = client.request(method.upper(), "/admin/customers/nobody@example.com")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found" and "nothing is stored about 'nobody@example.com'" in error["message"]


def test_admin_token_is_required(client: TestClient) -> None:
    response = client.get("/admin/customers/cust-4711", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert client.delete("/admin/customers/cust-4711", headers={"Authorization": ""}).status_code == 401
    assert client.get("/admin/customers/cust-4711").status_code == 200  # still there


def test_a_failing_database_is_503_store_unavailable(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    records = client.app.state.customer_records  # type: ignore[attr-defined]

    def broken(who: str) -> None:
        raise BackendError("database is locked")

    monkeypatch.setattr(records, "export", broken)
    response = client.get("/admin/customers/cust-4711/export")
    assert response.status_code == 503 and response.json()["error"]["code"] == "store_unavailable"
    assert response.headers["Retry-After"] == "5"


def test_purge_now(client: TestClient) -> None:
    response = client.post("/admin/customers/purge").json()
    assert response == {"retention_days": 90, "purged": {}}

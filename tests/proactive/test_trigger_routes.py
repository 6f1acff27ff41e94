"""`GET /widget/triggers`, `GET /admin/triggers` and the demo pages, without the model (no lifespan)."""

from __future__ import annotations

import html
import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.config import Settings
from bot.customers.identity import check_customer_token
from server.app import create_app

ROOT = Path(__file__).resolve().parents[2]
GOOD = 'triggers:\n  - id: returns\n    page: "^/demo/returns"\n    message: "Need help with a return?"\n'


def write(path: Path, text: str) -> None:
    path.write_text(text)
    stamp = path.stat().st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


@pytest.fixture
def triggers(tmp_path: Path) -> Path:
    path = tmp_path / "triggers.yml"
    write(path, GOOD)
    return path


@pytest.fixture
def client(tmp_path: Path, triggers: Path) -> TestClient:
    settings = Settings(project_dir=ROOT, state_dir=tmp_path / "state", triggers_file=triggers, admin_token="t" * 12)
    return TestClient(create_app(settings))  # not entered: no model


def test_widget_gets_the_triggers_and_a_bad_edit_keeps_the_last_good_ones(client: TestClient, triggers: Path) -> None:
    first = client.get("/widget/triggers")
    assert first.status_code == 200 and first.headers["cache-control"] == "no-cache"
    assert [t["message"] for t in first.json()["triggers"]] == ["Need help with a return?"]
    write(triggers, GOOD.replace('"^/demo/returns"', '"^/demo/(returns"'))
    assert client.get("/widget/triggers").json() == first.json()
    staff = client.get("/admin/triggers", headers={"Authorization": "Bearer " + "t" * 12}).json()
    (problem,) = staff["problems"]
    assert problem["line"] == 3 and "not a valid regular expression" in problem["message"]
    assert staff["triggers"] == first.json()["triggers"]


def test_admin_triggers_needs_the_token(client: TestClient) -> None:
    answer = client.get("/admin/triggers")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("page", "values"),
    [
        ("returns", {}),
        ("checkout", {"payment": "failed", "basket_total": 289}),
        ("welcome-back", {}),  # no shop on app.state (no lifespan): nobody is signed in
    ],
)
def test_demo_pages_pass_their_values_to_the_widget(client: TestClient, page: str, values: dict[str, object]) -> None:
    answer = client.get(f"/demo/{page}")
    assert answer.status_code == 200
    found = re.search(r'data-page-values="([^"]*)"', answer.text)
    assert found is not None and json.loads(html.unescape(found.group(1))) == values
    assert 'data-triggers="/widget/triggers"' in answer.text


@dataclass(frozen=True)
class FakeItem:
    name: str


@dataclass(frozen=True)
class FakeOrder:
    number: str
    customer_name: str
    items: tuple[FakeItem, ...]
    expected_delivery: date | None


@dataclass(frozen=True)
class FakeActivity:
    first_name: str
    orders: tuple[FakeOrder, ...]


@dataclass
class FakeShop:
    activity: FakeActivity | None
    asked: list[str] = field(default_factory=list)

    def open_activity(self, customer: str, now: datetime) -> FakeActivity | None:
        self.asked.append(customer)
        return self.activity


ON_ITS_WAY = FakeOrder("AN-10001", "Anna Keller", (FakeItem("Wool coat"),), date(2026, 12, 10))


def welcome_back(tmp_path: Path, triggers: Path, shop: FakeShop, secret: str | None) -> str:
    settings = Settings(
        project_dir=ROOT, state_dir=tmp_path / "state", triggers_file=triggers, customer_token_secret=secret
    )
    app = create_app(settings)
    app.state.catalogue = shop
    answer = TestClient(app).get("/demo/welcome-back")
    assert answer.status_code == 200
    return answer.text


def page_values(text: str) -> dict[str, object]:
    found = re.search(r'data-page-values="([^"]*)"', text)
    assert found is not None
    values: dict[str, object] = json.loads(html.unescape(found.group(1)))
    return values


def test_welcome_back_reads_the_customer_from_the_shop_and_signs_her_in(tmp_path: Path, triggers: Path) -> None:
    shop = FakeShop(FakeActivity("Anna", (ON_ITS_WAY,)))
    text = welcome_back(tmp_path, triggers, shop, secret="s" * 32)
    assert shop.asked == ["anna@example.com"]
    assert page_values(text) == {
        "customer_name": "Anna",
        "order_item": "wool coat",
        "order_due": "Thursday 10 December",
    }
    token = re.search(r'data-customer-token="([^"]+)"', text)
    assert token is not None
    check = check_customer_token(token.group(1), "s" * 32, time.time())
    assert check.customer_id == "anna@example.com"


def test_welcome_back_without_a_secret_has_no_token(tmp_path: Path, triggers: Path) -> None:
    text = welcome_back(tmp_path, triggers, FakeShop(FakeActivity("Anna", (ON_ITS_WAY,))), secret=None)
    assert page_values(text)["customer_name"] == "Anna"
    assert "data-customer-token" not in text and "SUPPORTBOT_CUSTOMER_TOKEN_SECRET" in text


@pytest.mark.parametrize(
    "activity",
    [None, FakeActivity("Anna", ()), FakeActivity("Anna", (FakeOrder("AN-1", "Anna Keller", (), None),))],
    ids=["unknown customer", "nothing open", "nothing on its way"],
)
def test_welcome_back_without_an_order_on_its_way_has_no_values(
    tmp_path: Path, triggers: Path, activity: FakeActivity | None
) -> None:
    text = welcome_back(tmp_path, triggers, FakeShop(activity), secret="s" * 32)
    assert page_values(text) == {} and "data-customer-token" not in text


def test_unknown_demo_page_is_a_json_404(client: TestClient) -> None:
    answer = client.get("/demo/nope")
    assert answer.status_code == 404 and "/demo/returns" in answer.json()["error"]["message"]

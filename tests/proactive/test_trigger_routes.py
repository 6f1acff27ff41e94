"""`GET /widget/triggers`, `GET /admin/triggers` and the demo pages, without the model (no lifespan)."""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.config import Settings
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
        ("welcome-back", {"customer_name": "Anna", "order_item": "coat", "order_due": "Thursday"}),
    ],
)
def test_demo_pages_pass_their_values_to_the_widget(client: TestClient, page: str, values: dict[str, object]) -> None:
    answer = client.get(f"/demo/{page}")
    assert answer.status_code == 200
    found = re.search(r'data-page-values="([^"]*)"', answer.text)
    assert found is not None and json.loads(html.unescape(found.group(1))) == values
    assert 'data-triggers="/widget/triggers"' in answer.text


def test_unknown_demo_page_is_a_json_404(client: TestClient) -> None:
    answer = client.get("/demo/nope")
    assert answer.status_code == 404 and "/demo/returns" in answer.json()["error"]["message"]

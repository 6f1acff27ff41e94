"""Issue 13: schemathesis against the app's own `/openapi.json` — every operation, generated requests.

The real app (`create_app`, its lifespan, the reference bot's intents, knowledge base, catalogue, actions
and a fresh SQLite database) serves on loopback; only the encoder is the fake one, and the classifier uses
the embedding alone with fixed thresholds, so the bot trains in seconds instead of minutes. Rate limits are
off (the fuzzer sends hundreds of requests) and the admin token is set and sent, so `/admin/*` is reached.

Each operation of the schema the server publishes at `/openapi.json` gets `MAX_EXAMPLES` generated requests,
valid and invalid (schemathesis' positive and negative modes). Every answer must be: no 5xx, a status code the
schema documents, a documented content type and headers, and a body that conforms to the documented schema.
(The schema is built from the same `create_app` at collection, so each operation is its own test; the last
test checks it is the one served.)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bot import bootstrap
from bot.config import Settings
from bot.encoding import FakeEncoder
from server.app import create_app
from server.testing import ServerThread

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "schemathesis-admin-token"
MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app = create_app(app_settings(tmp_path_factory.mktemp("schemathesis")))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bootstrap, "make_encoder", lambda _settings: FakeEncoder())
        with ServerThread(app, timeout=180) as url:
            yield url


def app_settings(state: Path) -> Settings:
    return Settings(
        project_dir=ROOT,
        state_dir=state,
        admin_token=TOKEN,
        rate_limit_per_minute=0,
        rate_limit_per_ip_per_minute=0,
        watch_knowledge=False,
        catalogue_refresh_seconds=0,
        nlu_layer_features=[],
        nlu_threshold=0.3,
        nlu_ambiguity_margin=0.05,
    )


# the schema the app publishes at /openapi.json (building the app does no work: its lifespan loads the bot)
schema = schemathesis.openapi.from_dict(create_app(app_settings(ROOT / ".no-state")).openapi())


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=timedelta(seconds=10),  # a hang guard, not a performance target
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_every_operation_answers_as_its_schema_says(api: str, case: schemathesis.Case) -> None:
    case.call_and_validate(base_url=api, headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS, timeout=30)


def test_the_schema_tested_is_the_one_the_server_publishes(api: str) -> None:
    response = httpx.get(f"{api}/openapi.json", timeout=30)
    assert response.status_code == 200
    assert response.json() == schema.raw_schema

"""Admin routes of the knowledge base (`server/routes/admin_knowledge.py`): the admin token, loopback
only without one, and a reload that reports file:line. The knowledge fixtures are tests/faq's."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.config import Settings
from server.errors import install_error_handlers
from server.routes.admin_knowledge import router

from ..faq import conftest as knowledge
from ..faq.conftest import ServiceFactory, write

kb = knowledge.kb  # the knowledge folder and service fixtures of tests/faq
make_service = knowledge.make_service


def make_app(kb: Path, make_service: ServiceFactory, token: str | None) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.state.settings = Settings(project_dir=kb.parent, admin_token=token)
    app.state.knowledge = make_service(kb)
    app.state.knowledge.load()
    return app


def test_token_required_when_configured(kb: Path, make_service: ServiceFactory) -> None:
    client = TestClient(make_app(kb, make_service, "s3cret"))
    missing = client.get("/admin/knowledge/status")
    assert missing.status_code == 401
    assert missing.json() == {
        "error": {"code": "unauthorized", "message": "send the admin token as 'Authorization: Bearer <token>'"}
    }
    wrong = client.get("/admin/knowledge/status", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "forbidden"
    ok = client.get("/admin/knowledge/status", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.json()["entries"] == 3 and ok.json()["ok"] is True


@pytest.mark.parametrize(("client_host", "status"), [("127.0.0.1", 200), ("::1", 200), ("203.0.113.9", 403)])
def test_without_token_only_loopback(kb: Path, make_service: ServiceFactory, client_host: str, status: int) -> None:
    client = TestClient(make_app(kb, make_service, None), client=(client_host, 50000))
    assert client.get("/admin/knowledge/status").status_code == status


def test_reload_reports_errors_with_file_and_line(kb: Path, make_service: ServiceFactory) -> None:
    client = TestClient(make_app(kb, make_service, None), client=("127.0.0.1", 50000))
    write(kb / "shipping.md", "## Do you ship to Canada?\n")
    response = client.post("/admin/knowledge/reload")
    assert response.status_code == 422
    body = response.json()
    assert body["ok"] is False and body["entries"] == 3
    assert [(e["file"], e["line"]) for e in body["last_error"]] == [("knowledge/shipping.md", 1)]
    write(kb / "shipping.md", "## Do you ship to Canada?\n\nYes.\n")
    assert client.post("/admin/knowledge/reload").status_code == 200

"""End to end with the real model: a real HTTP server, a knowledge edit, a broken edit."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from bot.config import Settings
from bot.encoding import SentenceTransformerEncoder
from bot.faq.service import KnowledgeService
from server.errors import install_error_handlers
from server.routes.admin_knowledge import router

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def encoder() -> SentenceTransformerEncoder:
    enc = SentenceTransformerEncoder()
    enc.warm_up()
    return enc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path, encoder: SentenceTransformerEncoder) -> Iterator[tuple[str, Path]]:
    kb = tmp_path / "knowledge"
    kb.mkdir()
    (kb / "returns.md").write_text(
        "## How long do I have to return an item? {#return-window}\nAlso asked:\n- return deadline\n\n"
        "You have 30 days.\n\n## Do you ship to Canada? {#canada}\n\nNot yet.\n",
        encoding="utf-8",
    )
    service = KnowledgeService(kb, encoder, state_path=tmp_path / "state")
    service.load()
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.state.settings = Settings(project_dir=tmp_path)
    app.state.knowledge = service

    @app.get("/ask")
    def ask(q: str) -> dict[str, Any]:
        result = service.respond(encoder.encode([q])[0], q)
        return {"decision": result.decision, "replies": [r.as_dict() for r in result.replies]}

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    uv = uvicorn.Server(config)
    stop = None

    async def serve() -> None:
        nonlocal stop
        import asyncio

        stop = asyncio.Event()
        watcher = asyncio.create_task(service.watch(stop, debounce_ms=100))
        await uv.serve()
        stop.set()
        await watcher

    thread = threading.Thread(target=lambda: __import__("asyncio").run(serve()), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(base + "/admin/knowledge/status", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    yield base, kb
    uv.should_exit = True
    thread.join(10)


def wait_for(predicate: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_edit_goes_live_and_a_broken_edit_keeps_the_old_answer(server: tuple[str, Path]) -> None:
    base, kb = server
    question = {"q": "how many days do I have to send something back?"}
    first = httpx.get(base + "/ask", params=question).json()
    assert first["decision"] == "answer" and first["replies"][0]["text"].startswith("You have 30 days.")
    assert first["replies"][0]["sources"][0]["id"] == "return-window"
    path = kb / "returns.md"
    path.write_text(path.read_text().replace("You have 30 days.", "You have 45 days."), encoding="utf-8")
    assert wait_for(lambda: "45 days" in httpx.get(base + "/ask", params=question).json()["replies"][0]["text"])
    path.write_text(path.read_text().replace("Not yet.", "Within {{ unknown_var }} days."), encoding="utf-8")

    def reports_error() -> bool:
        return bool(httpx.get(base + "/admin/knowledge/status").json()["last_error"])

    assert wait_for(reports_error)
    status = httpx.get(base + "/admin/knowledge/status").json()
    assert status["ok"] is False and status["entries"] == 2
    assert [(e["file"], e["line"], e["message"]) for e in status["last_error"]] == [
        ("knowledge/returns.md", 9, "unknown variable 'unknown_var' in the answer")
    ]
    assert "45 days" in httpx.get(base + "/ask", params=question).json()["replies"][0]["text"]


def test_real_model_retrieval_on_the_shipped_knowledge(encoder: SentenceTransformerEncoder, tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    service = KnowledgeService(root / "knowledge", encoder, root=root, state_path=tmp_path / "state")
    service.load()
    for text, expected in [
        ("can i pay with paypal", "payment-methods"),
        ("do you deliver to canada", "no-delivery-countries"),
    ]:
        result = service.respond(encoder.encode([text])[0], text)
        assert result.hits[0].entry.id == expected
    nonsense = "what is the airspeed velocity of an unladen swallow"
    assert service.respond(encoder.encode([nonsense])[0], nonsense).decision != "answer"

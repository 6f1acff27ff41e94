"""Issue 13, item 7: socket.io enforces the origin check of `/ws/chat` (`cors_origins`), on every transport.

A browser page on another origin used to open socket.io over WebSocket — where CORS does not apply — and
talk to the bot. Now the socket.io connection is refused ("origin not allowed") unless the page's origin
is listed in `cors_origins`, is the bot's own, or the client is not a browser (no Origin header). The
engine.io protocol is spoken by hand over a real WebSocket (the sync socket.io client has no WebSocket
transport here), and over HTTP long-polling.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from bot.config import Settings
from bot.testing.fakes import ScriptedAssistant
from server.app import create_app
from server.testing import ServerThread

ALLOWED = "https://shop.example"
EVIL = "https://evil.example"


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    app = create_app(Settings(project_dir=tmp_path, state_dir=tmp_path / "state", cors_origins=[ALLOWED]))
    app.state.assistant = ScriptedAssistant()
    with ServerThread(app, lifespan=False) as base:
        yield base


def socketio_over_websocket(url: str, origin: str | None) -> str:
    """Open engine.io over WebSocket, ask to join the default namespace; the server's answer packet."""
    headers = {"Origin": origin} if origin else None
    address = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    with connect(address, additional_headers=headers, open_timeout=10) as ws:
        opened = str(ws.recv(timeout=10))
        assert opened.startswith("0{"), opened  # engine.io open
        ws.send("40")  # socket.io CONNECT to "/"
        return str(ws.recv(timeout=10))


def test_socketio_over_websocket_refuses_another_origin(url: str) -> None:
    answer = socketio_over_websocket(url, EVIL)
    assert answer.startswith("44"), answer  # CONNECT_ERROR
    assert json.loads(answer[2:]) == {"message": "origin not allowed"}


@pytest.mark.parametrize("origin", [ALLOWED, None, "same"])
def test_socketio_over_websocket_accepts_listed_same_and_non_browser_origins(url: str, origin: str | None) -> None:
    answer = socketio_over_websocket(url, url if origin == "same" else origin)
    assert answer.startswith("40{"), answer
    assert "sid" in json.loads(answer[2:])


def test_socketio_long_polling_refuses_another_origin(url: str) -> None:
    headers = {"Origin": EVIL}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        opened = client.get("/socket.io/", params={"EIO": "4", "transport": "polling"}).text
        assert opened.startswith("0{"), opened
        sid = json.loads(opened[1:])["sid"]
        params = {"EIO": "4", "transport": "polling", "sid": sid}
        assert client.post("/socket.io/", params=params, content="40").status_code == 200
        answer = client.get("/socket.io/", params=params).text
    assert answer.startswith("44"), answer
    assert json.loads(answer[2:]) == {"message": "origin not allowed"}

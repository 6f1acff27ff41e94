"""Issue 13, item 4: `supportbot serve` shuts down gracefully on SIGTERM, within a bound.

The server runs in a subprocess through `server.cli.serve_app` — what `supportbot serve` runs — with the
scripted assistant instead of the model (the lifespan is off), so a turn can take as long as the test
says ("wait 1.5"). Each test sends SIGTERM and expects a clean exit (status 0) within 10 s: a turn in
flight is answered before its WebSocket closes (1012, the widget reconnects), a hung turn does not hold
the process past `shutdown_timeout_seconds`, and a connected socket.io client does not either.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import socketio
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from server.testing import free_port

EXIT_WITHIN = 10.0
HARNESS = """
import sys, time
from pathlib import Path
from bot.config import Settings
from bot.testing.fakes import ScriptedAssistant
from bot.types import Reply
from server.app import create_app
from server.cli import serve_app

def answer(text):
    if text.startswith("wait "):
        time.sleep(float(text.split()[1]))
        return [Reply("done waiting")]
    return [Reply("echo: " + text)]

port, folder, grace = int(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
settings = Settings(project_dir=folder, state_dir=folder / "state", port=port, shutdown_timeout_seconds=grace)
app = create_app(settings)
app.state.assistant = ScriptedAssistant(fallback=answer)
sys.exit(0 if serve_app(app, settings, lifespan="off") else 1)
"""


class Served:
    def __init__(self, folder: Path, grace: float) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "serve.log"
        script = folder / "harness.py"
        script.write_text(HARNESS)
        self.process = subprocess.Popen(
            [sys.executable, str(script), str(self.port), str(folder), str(grace)],
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return
            except httpx.TransportError:
                assert self.process.poll() is None, self.log.read_text()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)

    def terminate(self) -> float:
        """SIGTERM; the seconds until the process exited (fails past EXIT_WITHIN)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(EXIT_WITHIN)
        except subprocess.TimeoutExpired:
            pytest.fail(f"supportbot serve was still running {EXIT_WITHIN:.0f} s after SIGTERM")
        return time.monotonic() - started


@pytest.fixture
def served(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Served]:
    server = Served(tmp_path, getattr(request, "param", 5.0))
    yield server
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait()


def test_a_turn_in_flight_is_answered_before_its_socket_closes(served: Served) -> None:
    with connect(f"ws://127.0.0.1:{served.port}/ws/chat", open_timeout=10) as ws:
        ws.send(json.dumps({"type": "message", "sender": "s1", "text": "wait 1.5", "id": "m1"}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "typing"}
        served.process.send_signal(signal.SIGTERM)
        frame = json.loads(ws.recv(timeout=10))
        assert frame["type"] == "replies", frame
        assert frame["replies"][0]["text"] == "done waiting"
        assert frame["in_reply_to"] == "m1"
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012  # "service restart": reconnect
    served.process.wait(EXIT_WITHIN)
    assert served.process.returncode == 0


@pytest.mark.parametrize("served", [1.0], indirect=True)
def test_a_hung_turn_does_not_hold_the_shutdown(served: Served) -> None:
    with connect(f"ws://127.0.0.1:{served.port}/ws/chat", open_timeout=10) as ws:
        ws.send(json.dumps({"type": "message", "sender": "s2", "text": "wait 60"}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "typing"}
        took = served.terminate()
    assert served.process.returncode == 0
    assert took < 6, f"the shutdown took {took:.1f} s with a 1 s bound"
    assert "still" in served.log.read_text()  # the turns or threads it gave up on are logged


def test_a_connected_socketio_client_does_not_hold_the_shutdown(served: Served) -> None:
    client = socketio.Client(reconnection=False)
    client.connect(served.url, socketio_path="/socket.io", transports=["polling"], wait_timeout=10)
    try:
        time.sleep(0.5)  # the client's long-poll request is pending
        served.terminate()
    finally:
        client.eio.disconnect(abort=True)
    assert served.process.returncode == 0


def test_an_idle_server_exits_at_once(served: Served) -> None:
    assert served.terminate() < 5
    assert served.process.returncode == 0

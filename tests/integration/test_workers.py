"""`supportbot serve --workers 2`: two processes on one port share conversations, locks and metrics."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.testing import ServerProcess, free_port, serve_command

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two_workers(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    port = free_port()
    tmp = tmp_path_factory.mktemp("workers")
    env = {
        **os.environ,
        "SUPPORTBOT_DATABASE_URL": f"sqlite:///{tmp / 'workers.db'}",
        "SUPPORTBOT_WATCH_KNOWLEDGE": "false",
        "SUPPORTBOT_RATE_LIMIT_PER_MINUTE": "0",
        "SUPPORTBOT_RATE_LIMIT_PER_IP_PER_MINUTE": "0",
    }
    command = serve_command(port, workers=2)
    with ServerProcess(command, port=port, env=env, cwd=repo_root, log=tmp / "serve.log") as server:
        server.wait_ready(300, ready=lambda: len(_children(server.pid)) == 2)
        yield server.url, server.pid


def _children(pid: int) -> list[int]:
    """The worker processes of `supportbot serve` (its multiprocessing resource tracker aside)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    workers = []
    for child in path.read_text().split() if path.exists() else []:
        try:
            if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes():
                workers.append(int(child))
        except FileNotFoundError:  # exited meanwhile
            continue
    return workers


_tokens: dict[str, str] = {}
"""Each conversation's token from its last answer: a token one worker issued works on the other (the
workers share the key in the state folder)."""


def _say(base: str, sender: str, text: str) -> dict[str, Any]:
    """One message on a fresh connection, so the kernel may hand it to either worker."""
    headers = {"connection": "close"} | ({"X-Conversation-Token": _tokens[sender]} if sender in _tokens else {})
    with httpx.Client(base_url=base, timeout=60, headers=headers) as client:
        response = client.post("/chat", json={"sender": sender, "message": text})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    _tokens[sender] = body["token"]
    return body


def test_two_worker_processes_serve_one_port(two_workers: tuple[str, int]) -> None:
    base, pid = two_workers
    assert len(_children(pid)) == 2
    reply = _say(base, "w-hours", "when do you open on sunday?")
    assert "Sunday" in reply["replies"][0]["text"]


def test_a_form_continues_whichever_worker_gets_the_next_message(two_workers: tuple[str, int]) -> None:
    base, _ = two_workers
    for round_ in range(3):
        sender = f"w-order-{round_}"
        assert "order number" in _say(base, sender, "where's my order")["replies"][0]["text"].lower()
        assert "email" in _say(base, sender, "AN-10001")["replies"][0]["text"].lower()
        texts = " ".join(r["text"] for r in _say(base, sender, "anna@example.com")["replies"])
        assert "AN-10001" in texts and "DHL" in texts


def test_metrics_add_up_across_workers(two_workers: tuple[str, int]) -> None:
    base, _ = two_workers

    def handled() -> float:
        text = httpx.get(f"{base}/metrics", timeout=10).text
        match = re.search(r'^supportbot_messages_total\{channel="chat"\} (\S+)$', text, re.MULTILINE)
        return float(match.group(1)) if match else 0.0

    before = handled()
    for i in range(12):
        _say(base, f"w-count-{i}", "hello")
    assert handled() == before + 12

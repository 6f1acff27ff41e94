"""An edit to a file of the shared knowledge folder is answered by every node within 2 s: each node watches
the folder and reloads by itself (without Redis; the reload broadcast comes with it)."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.cluster.conftest import Cluster

pytestmark = [pytest.mark.cluster, pytest.mark.integration]

QUESTION = "which payment methods do you accept?"
ANSWER_LINE = "- **Klarna**: pay in 3 interest-free instalments"
WITHIN_SECONDS = 2.0


def _answer(client: httpx.Client, url: str) -> str:
    answer = client.post(f"{url}/chat", json={"sender": f"kb-{uuid.uuid4().hex[:10]}", "message": QUESTION})
    assert answer.status_code == 200, answer.text
    return " ".join(r.get("text") or "" for r in answer.json()["replies"])


def test_a_knowledge_edit_reaches_every_node_within_two_seconds(cluster: Cluster) -> None:
    cluster.ensure_all_up()
    file = cluster.dirs.knowledge / "payments.md"
    original = file.read_text(encoding="utf-8")
    assert ANSWER_LINE in original
    codeword = f"codeword {uuid.uuid4().hex[:8]}"
    nodes = range(len(cluster.nodes.ports))
    with httpx.Client(timeout=30) as client:
        for index in nodes:
            assert "Klarna" in _answer(client, cluster.node_url(index))
        try:
            edited_at = time.monotonic()
            file.write_text(original.replace(ANSWER_LINE, f"{ANSWER_LINE} ({codeword})"), encoding="utf-8")
            seen: dict[int, float] = {}
            while len(seen) < len(nodes) and time.monotonic() - edited_at < WITHIN_SECONDS + 3:
                for index in set(nodes) - set(seen):
                    if codeword in _answer(client, cluster.node_url(index)):
                        seen[index] = time.monotonic() - edited_at
                time.sleep(0.05)
        finally:
            file.write_text(original, encoding="utf-8")
    print("seconds until each node answered the edit:", {f"node{i}": round(s, 2) for i, s in sorted(seen.items())})
    assert sorted(seen) == list(nodes), f"nodes that never answered with the edit: {set(nodes) - set(seen)}"
    assert max(seen.values()) <= WITHIN_SECONDS, seen

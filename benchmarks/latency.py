"""Latency of one message through `Assistant.handle` (warm, in-process) and the memory of `supportbot serve`.

    python benchmarks/latency.py [--messages 400]

Reports p50/p95/p99 of `Assistant.handle` over a realistic single-message mix (knowledge questions,
task requests, small talk; each message a new conversation so forms do not carry over), the encoder's own
share, and the peak RSS of a real `supportbot serve` process after it has answered the mix over HTTP.
Results are merged into benchmarks/results/latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO_ROOT, machine, peak_rss_mb, percentile_ms, write_result  # noqa: E402

MIX = [
    "how long does delivery to Germany take",
    "where is my parcel",
    "hi there",
    "are you open on sunday in london",
    "can I pay with klarna",
    "I want to return my jacket",
    "how do I wash cashmere",
    "thanks a lot",
    "book a fitting in Berlin tomorrow at 3pm",
    "do you ship to the US",
    "talk to a human please",
    "what's the weather like",
    "is my order AN-10001 shipped",
    "what sizes do your jeans come in",
    "bye",
    "can I use two gift cards",
]


def in_process(n: int) -> dict[str, object]:
    from bot import bootstrap
    from bot.config import Settings
    from bot.dialogue.tracker_store import InMemoryTrackerStore
    from bot.nlu.model import NluModel, find_model
    from bot.types import Message

    settings = Settings(project_dir=REPO_ROOT)
    serving = bootstrap.load_serving(settings, tracker_store=InMemoryTrackerStore())
    model_dir = find_model(bootstrap.models_dir(settings))
    loads = []
    for _ in range(5):
        start = time.perf_counter()
        NluModel.load(model_dir, serving.assistant.nlu.entities)
        loads.append(time.perf_counter() - start)
    assistant = serving.assistant
    assistant.warm_up()
    for text in MIX:  # warm caches and lazy imports
        assistant.handle(Message("warm", text))
    handle, encode = [], []
    for i in range(n):
        text = MIX[i % len(MIX)]
        start = time.perf_counter()
        assistant.encoder.encode([text])
        encode.append(time.perf_counter() - start)
        start = time.perf_counter()
        assistant.handle(Message(f"bench-{i}", text))
        handle.append(time.perf_counter() - start)
    return {
        "messages": n,
        "handle_p50_ms": percentile_ms(handle, 50),
        "handle_p95_ms": percentile_ms(handle, 95),
        "handle_p99_ms": percentile_ms(handle, 99),
        "encoder_p50_ms": percentile_ms(encode, 50),
        "in_process_peak_rss_mb": peak_rss_mb(),
        "trained_model_load_ms": percentile_ms(loads, 50),
    }


def serve_rss() -> dict[str, object]:
    import httpx

    from server.testing import ServerProcess, free_port, serve_command

    port = free_port()
    env = {**os.environ, "SUPPORTBOT_PROJECT_DIR": str(REPO_ROOT), "SUPPORTBOT_WATCH_KNOWLEDGE": "false"}
    with tempfile.TemporaryDirectory() as tmp:
        env["SUPPORTBOT_DATABASE_URL"] = f"sqlite:///{tmp}/bench.db"
        with ServerProcess(
            serve_command(port), port=port, env=env, cwd=REPO_ROOT, log=Path(tmp) / "serve.log"
        ) as server:
            ready_seconds = server.wait_ready(180)
            idle = peak_rss_mb(server.pid)
            with httpx.Client(timeout=30) as client:
                for i, text in enumerate(MIX * 5):
                    client.post(f"{server.url}/chat", json={"sender": f"rss-{i}", "message": text}).raise_for_status()
            return {
                "serve_ready_seconds": round(ready_seconds, 2),
                "serve_peak_rss_mb_after_start": idle,
                "serve_peak_rss_mb": peak_rss_mb(server.pid),
            }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=400)
    args = parser.parse_args()
    result = {**in_process(args.messages), **serve_rss(), "machine": machine()}
    write_result("latency", {"assistant_handle": result})
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""What the staff console costs a customer's turn: POST /chat through the full app with and without the
console's session middleware (issue 18: "the console adds nothing to a customer's turn latency").

    python benchmarks/console_overhead.py [--messages 300]

One app, started once (real model, knowledge base and a temporary database); two middleware stacks built
from it, one without `ConsoleSessionMiddleware` (the only console code on a customer's path: the console's
routes are never matched by /chat). Requests alternate between the two stacks, each from a new customer,
in one run, so both see the same machine load. Prints p50/p95 of each and the p50 difference, and writes
benchmarks/results/console_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO_ROOT, machine, percentile_ms, write_result  # noqa: E402

QUESTIONS = [
    "how long does delivery to Germany take?",
    "can I return a sale item?",
    "is the Berlin store open on Sunday?",
    "do you sell gift cards?",
    "how do I wash cashmere?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300, help="messages per stack (default 300)")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from bot.config import Settings
    from server.app import create_app
    from server.console.sessions import ConsoleSessionMiddleware

    with tempfile.TemporaryDirectory(prefix="supportbot-console-bench-") as tmp:
        settings = Settings(project_dir=REPO_ROOT).with_overrides(
            database_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
            rate_limit_per_minute=0,
            rate_limit_per_ip_per_minute=0,
            watch_knowledge=False,
        )
        app = create_app(settings)
        with TestClient(app) as client:
            with_console = app.build_middleware_stack()
            kept = list(app.user_middleware)
            app.user_middleware = [m for m in kept if m.cls is not ConsoleSessionMiddleware]
            without_console = app.build_middleware_stack()
            app.user_middleware = kept
            stacks = {"with_console": with_console, "without_console": without_console}
            times: dict[str, list[float]] = {name: [] for name in stacks}
            for i in range(args.messages + 20):  # the first 20 rounds warm up
                for name, stack in stacks.items():
                    app.middleware_stack = stack
                    body = {"sender": f"{name}-{i}", "message": QUESTIONS[i % len(QUESTIONS)]}
                    start = time.perf_counter()
                    response = client.post("/chat", json=body)
                    elapsed = time.perf_counter() - start
                    response.raise_for_status()
                    if i >= 20:
                        times[name].append(elapsed)
            app.middleware_stack = with_console
    result = {
        "messages": args.messages,
        **{f"{name}_p50_ms": percentile_ms(samples, 50) for name, samples in times.items()},
        **{f"{name}_p95_ms": percentile_ms(samples, 95) for name, samples in times.items()},
        "console_minus_without_p50_ms": round(
            percentile_ms(times["with_console"], 50) - percentile_ms(times["without_console"], 50), 3
        ),
        "machine": machine(),
    }
    write_result("console_overhead", result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Fault benchmark (issue 13): customers keep talking to a real `supportbot serve` while something breaks.

    python benchmarks/faults.py [--seconds 30] [--customers 16] [--scenarios server-killed,actions-hang,...]

Each scenario starts its own server on loopback (`supportbot serve`, the trained reference bot, a temporary
database seeded with the demo shop, rate limits off), warms it up for a few seconds with knowledge
questions, then runs `--customers` customers without think time for `--seconds`, posting to `POST /chat`
over one keep-alive connection each (benchmarks/load.py's client). It prints one JSON line per scenario
and merges them into benchmarks/results/faults.json.

- **actions-hang** — the bot's actions run on a Rasa action server that accepts every call and never
  answers (a stand-in in this process). Half the customers ask for things that run actions (opening hours
  now, a person), the other half ask knowledge questions and make small talk. Reported: p50/p95/p99 of the
  unaffected (knowledge and small-talk) turns — target p99 <= 300 ms —, the action turns' latencies and
  replies, HTTP errors by kind, `/readyz` at the end (still 200, `degraded`) and the action metrics.
- **database-read-only** — the customers use the load mix (knowledge, tasks, small talk). After a third of
  the run the database file and its WAL are made immutable for 5 s (`chattr +i`: the open connections
  themselves cannot write, as on a disk remounted read-only; needs root on ext4/xfs, else the scenario is
  skipped). A refused turn (503) is sent again after its `Retry-After`, as the widget does. Afterwards every
  turn the server acknowledged (200) must be in the database: acknowledged turns lost must be 0. Reported:
  lost, refused and acknowledged turns during the fault, errors by kind, `/readyz` during the fault and the
  time to recover (end of the fault → first acknowledged turn, and → `/readyz` 200 again).

- **server-killed** — the customers use the load mix. After a third of the run the server process gets
  SIGKILL (no drain, no shutdown: a crash, an OOM kill) and a new `supportbot serve` starts at once on the
  same port and database. A turn the server never answered (connection refused, or dropped mid-request) is
  sent again every 0.25 s, as the widget's reconnect does; the run goes on until 5 s after the new server is
  ready when that is later than `--seconds`. Afterwards every acknowledged turn must be in the database:
  acknowledged turns lost must be 0. Reported: lost, turns before the kill / in flight / during the outage /
  after, errors by kind, the restarted server's start-up time and the time to recover (kill → first
  acknowledged turn, and → `/readyz` 200).

The customers keep each conversation's token (`X-Conversation-Token`, benchmarks/load.py's `ChatClient`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO_ROOT, machine, percentile_ms, write_result  # noqa: E402
from load import ChatClient, HttpConnection, Mix, load_mix  # noqa: E402

from server.testing import ServerNotReady, ServerProcess, free_port, serve_command  # noqa: E402
from server.turns import STORE_RETRY_AFTER_SECONDS  # noqa: E402

ACTION_MESSAGES = ["is the Berlin store open now?", "I'd like to talk to a person please", "are you open today?"]
UNAFFECTED_TARGET_P99_MS = 300.0
READ_ONLY_SECONDS = 5.0
RECONNECT_SECONDS = 0.25
"""A customer whose message got no answer (server unreachable) sends it again after this long."""
MAX_RECOVERY_SECONDS = 300.0
AFTER_RECOVERY_SECONDS = 5.0
"""server-killed: the customers keep going past `--seconds` until the restarted server answered (at most this)."""
WARMUP_SECONDS = 3.0


# -- the server and the faults ------------------------------------------------------------------------------
class Server(ServerProcess):
    """`supportbot serve` in a subprocess with the database `tmp/faults.db`, no rate limits, and `env`."""

    def __init__(
        self, tmp: Path, env: dict[str, str] | None = None, *, port: int | None = None, log_name: str = "server.log"
    ) -> None:
        self.database = tmp / "faults.db"
        port = port or free_port()
        environment = {
            **os.environ,
            "SUPPORTBOT_PROJECT_DIR": str(REPO_ROOT),
            "SUPPORTBOT_DATABASE_URL": f"sqlite:///{self.database}",
            "SUPPORTBOT_RATE_LIMIT_PER_MINUTE": "0",
            "SUPPORTBOT_RATE_LIMIT_PER_IP_PER_MINUTE": "0",
            "SUPPORTBOT_WATCH_KNOWLEDGE": "false",
            "SUPPORTBOT_LOG_JSON": "true",
            **(env or {}),
        }
        super().__init__(serve_command(port), port=port, env=environment, cwd=REPO_ROOT, log=tmp / log_name)

    def get_json(self, path: str) -> tuple[int, Any]:
        import httpx

        response = httpx.get(f"{self.url}{path}", timeout=10)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text


class HangingActionServer:
    """A Rasa action server that accepts every connection and request and never answers."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _hang(self) -> None:
                owner.calls += 1
                owner.release.wait(600)

            def do_GET(self) -> None:
                self._hang()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self._hang()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/webhook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def chattr(flag: str, files: list[Path]) -> bool:
    existing = [str(f) for f in files if f.exists()]
    if shutil.which("chattr") is None or not existing:
        return False
    return subprocess.run(["chattr", flag, *existing], capture_output=True).returncode == 0


# -- the customers --------------------------------------------------------------------------------------
@dataclass
class Turn:
    customer: int
    sender: str
    text: str
    kind: str
    started: float
    seconds: float
    status: int | None
    code: str = ""
    reply: str = ""
    retry_after: float = 0.0


@dataclass
class Run:
    turns: list[Turn] = field(default_factory=list)
    readiness: list[tuple[float, int, str]] = field(default_factory=list)


Script = Callable[[random.Random, int], tuple[str, list[str]]]


async def customers(
    base: str,
    count: int,
    seconds: float,
    script: Script,
    *,
    retry_refused: bool,
    retry_unreachable: bool = False,
    running: Callable[[], bool] | None = None,
    seed: int = 13,
) -> Run:
    """`count` customers for `seconds` (and then as long as `running()` holds); each gets (kind, messages)
    scenarios from `script(rng, number)`. A refused turn (503) is sent again after its Retry-After with
    `retry_refused`, a turn the server never answered (connection refused or dropped) after
    `RECONNECT_SECONDS` with `retry_unreachable`, as the widget does."""
    run = Run()
    host, port = base.removeprefix("http://").rsplit(":", 1)
    stop_at = time.perf_counter() + seconds

    def going() -> bool:
        return time.perf_counter() < stop_at or (running is not None and running())

    async def customer(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        connection = HttpConnection(host, int(port))
        client = ChatClient(connection)
        conversation = 0
        try:
            while going():
                kind, messages = script(rng, number)
                sender = f"faults-{seed}-{number}-{conversation}"
                conversation += 1
                for text in messages:
                    while going():
                        turn = await send(client, number, sender, text, kind)
                        run.turns.append(turn)
                        if retry_refused and turn.status == 503:
                            await asyncio.sleep(turn.retry_after)  # as the widget does
                        elif retry_unreachable and turn.status is None:
                            await asyncio.sleep(RECONNECT_SECONDS)
                        else:
                            break
        finally:
            await connection.close()

    await asyncio.gather(*(customer(n) for n in range(count)))
    return run


async def send(client: ChatClient, number: int, sender: str, text: str, kind: str) -> Turn:
    started = time.perf_counter()
    try:
        status, body = await client.send(sender, text)
    except (OSError, asyncio.IncompleteReadError) as e:
        return Turn(number, sender, text, kind, started, time.perf_counter() - started, None, type(e).__name__)
    seconds = time.perf_counter() - started
    try:
        data = json.loads(body)
    except ValueError:
        return Turn(number, sender, text, kind, started, seconds, status, "not JSON")
    if status == 200:
        replies = data.get("replies") or []
        return Turn(number, sender, text, kind, started, seconds, status, reply=replies[0]["text"] if replies else "")
    code = str((data.get("error") or {}).get("code", ""))
    # load.py's client keeps no headers: a 503 store_unavailable carries Retry-After: STORE_RETRY_AFTER_SECONDS
    retry_after = float(STORE_RETRY_AFTER_SECONDS) if status == 503 else 0.0
    return Turn(number, sender, text, kind, started, seconds, status, code, retry_after=retry_after)


async def poll_readiness(base: str, run: Run, stop: asyncio.Event, every: float = 0.25) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=5) as client:
        while not stop.is_set():
            try:
                response = await client.get(f"{base}/readyz")
                run.readiness.append((time.perf_counter(), response.status_code, response.json().get("status", "")))
            except (httpx.HTTPError, ValueError):
                run.readiness.append((time.perf_counter(), 0, "unreachable"))
            await asyncio.sleep(every)


def latency(turns: list[Turn]) -> dict[str, Any]:
    samples = [t.seconds for t in turns]
    if not samples:
        return {"turns": 0}
    return {
        "turns": len(samples),
        "p50_ms": percentile_ms(samples, 50),
        "p95_ms": percentile_ms(samples, 95),
        "p99_ms": percentile_ms(samples, 99),
        "max_ms": round(max(samples) * 1000, 1),
    }


def slowest(turns: list[Turn], n: int) -> list[Turn]:
    return sorted(turns, key=lambda t: t.seconds, reverse=True)[:n]


def errors_by_kind(turns: list[Turn]) -> dict[str, int]:
    """`503 store_unavailable`, `no answer: ConnectionRefusedError` … with their counts."""
    return dict(
        Counter(f"no answer: {t.code}" if t.status is None else f"{t.status} {t.code}".strip()
                for t in turns if t.status != 200)
    )  # fmt: skip


def warm_up(server: Server, mix: Mix) -> None:
    def knowledge(rng: random.Random, number: int) -> tuple[str, list[str]]:
        return "knowledge", [rng.choice(mix.knowledge)]

    asyncio.run(customers(server.url, 4, WARMUP_SECONDS, knowledge, retry_refused=False, seed=1))


def metric_lines(server: Server, prefix: str) -> dict[str, float]:
    _, text = server.get_json("/metrics")
    found: dict[str, float] = {}
    for line in str(text).splitlines():
        if line.startswith(prefix) and "_created" not in line:
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


# -- the scenarios --------------------------------------------------------------------------------------
def actions_hang(mix: Mix, count: int, seconds: float) -> dict[str, Any]:
    hanging = HangingActionServer()
    with tempfile.TemporaryDirectory(prefix="supportbot-faults-") as tmp:
        server = Server(Path(tmp), {"SUPPORTBOT_ACTION_ENDPOINT": hanging.url})
        try:
            ready = round(server.wait_ready(300), 1)
            warm_up(server, mix)

            def script(rng: random.Random, number: int) -> tuple[str, list[str]]:
                if number % 2 == 0:
                    return "action", [rng.choice(ACTION_MESSAGES)]
                if rng.random() < 0.6:
                    return "knowledge", [rng.choice(mix.knowledge)]
                return "smalltalk", [rng.choice(mix.smalltalk)]

            run = asyncio.run(customers(server.url, count, seconds, script, retry_refused=False))
            status, ready_body = server.get_json("/readyz")
            metrics = metric_lines(server, "supportbot_action_")
        finally:
            server.stop()
            hanging.close()
    unaffected = [t for t in run.turns if t.kind != "action" and t.status == 200]
    actions = [t for t in run.turns if t.kind == "action"]
    replies = Counter(t.reply[:60] for t in actions if t.status == 200)
    p99 = latency(unaffected).get("p99_ms")
    return {
        "scenario": "actions-hang",
        "customers": count,
        "seconds": seconds,
        "server_ready_seconds": ready,
        "unaffected_turns": latency(unaffected),
        "knowledge_turns": latency([t for t in unaffected if t.kind == "knowledge"]),
        "smalltalk_turns": latency([t for t in unaffected if t.kind == "smalltalk"]),
        "action_turns": latency([t for t in actions if t.status == 200]),
        "action_replies": dict(replies.most_common(5)),
        "errors": errors_by_kind(run.turns),
        "calls_the_action_server_received": hanging.calls,
        "readyz_at_the_end": {"status_code": status, "body": ready_body},
        "action_metrics": metrics,
        "slowest_unaffected_turns": [f"{t.seconds * 1000:.0f} ms {t.kind}: {t.text}" for t in slowest(unaffected, 3)],
        "target_unaffected_p99_ms": UNAFFECTED_TARGET_P99_MS,
        "target_met": p99 is not None and p99 <= UNAFFECTED_TARGET_P99_MS and not errors_by_kind(run.turns),
    }


def database_read_only(mix: Mix, count: int, seconds: float) -> dict[str, Any]:
    if shutil.which("chattr") is None:
        return {"scenario": "database-read-only", "skipped": "needs chattr (e2fsprogs), root and ext4/xfs"}
    weights = mix.weights()
    with tempfile.TemporaryDirectory(prefix="supportbot-faults-") as tmp:
        server = Server(Path(tmp))
        locked = [server.database, Path(f"{server.database}-wal")]
        try:
            ready = round(server.wait_ready(300), 1)
            warm_up(server, mix)
            fault: dict[str, float] = {}
            run = asyncio.run(_read_only_run(server, mix, weights, count, seconds, locked, fault))
        finally:
            chattr("-i", locked)
            server.stop()
        if "skipped" in fault:
            return {"scenario": "database-read-only", "skipped": "chattr +i failed (needs root and ext4/xfs)"}
        lost = lost_turns(server.database, run.turns)
    return {"scenario": "database-read-only", "customers": count, "seconds": seconds, "server_ready_seconds": ready,
            **read_only_figures(run, fault, lost)}  # fmt: skip


async def _read_only_run(
    server: Server, mix: Mix, weights: dict[str, float], count: int, seconds: float, locked: list[Path],
    fault: dict[str, float],
) -> Run:  # fmt: skip
    stop = asyncio.Event()
    readiness = Run()
    poller = asyncio.create_task(poll_readiness(server.url, readiness, stop))

    async def make_read_only() -> None:
        await asyncio.sleep(seconds / 3)
        if not await asyncio.to_thread(chattr, "+i", locked):
            fault["skipped"] = 1.0
            return
        fault["start"] = time.perf_counter()
        await asyncio.sleep(READ_ONLY_SECONDS)
        await asyncio.to_thread(chattr, "-i", locked)
        fault["end"] = time.perf_counter()

    def script(rng: random.Random, number: int) -> tuple[str, list[str]]:
        return mix.scenario(rng, weights)

    toggler = asyncio.create_task(make_read_only())
    run = await customers(server.url, count, seconds, script, retry_refused=True)
    await toggler
    stop.set()
    await poller
    run.readiness = readiness.readiness
    return run


def lost_turns(database: Path, turns: list[Turn]) -> int:
    """Acknowledged (200) turns whose user message is not in the conversation history."""
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT sender_id, data FROM conversation_events WHERE event = 'user'").fetchall()
    saved = Counter((sender, json.loads(data).get("text")) for sender, data in rows)
    acknowledged = Counter((t.sender, t.text) for t in turns if t.status == 200)
    return sum(max(0, n - saved[key]) for key, n in acknowledged.items())


def read_only_figures(run: Run, fault: dict[str, float], lost: int) -> dict[str, Any]:
    start, end = fault["start"], fault["end"]
    during = [t for t in run.turns if start <= t.started + t.seconds and t.started <= end]
    after_ok = [t.started + t.seconds for t in run.turns if t.status == 200 and t.started >= end]
    not_ready = [at for at, code, _ in run.readiness if start <= at <= end + 10 and code != 200]
    ready_again = [at for at, code, _ in run.readiness if at >= end and code == 200]
    return {
        "read_only_seconds": round(end - start, 2),
        "acknowledged_turns": sum(1 for t in run.turns if t.status == 200),
        "acknowledged_turns_lost": lost,
        "during_the_fault": {
            "acknowledged": sum(1 for t in during if t.status == 200),
            "refused_503": sum(1 for t in during if t.status == 503),
            "other": sum(1 for t in during if t.status not in (200, 503)),
        },
        "errors": errors_by_kind(run.turns),
        "readyz_503_from_fault_start_s": round(min(not_ready) - start, 2) if not_ready else None,
        "recovered_first_acknowledged_turn_s": round(min(after_ok) - end, 2) if after_ok else None,
        "recovered_readyz_200_s": round(min(ready_again) - end, 2) if ready_again else None,
        "latency_of_acknowledged_turns": latency([t for t in run.turns if t.status == 200]),
        "target_met": lost == 0,
    }


def server_killed(mix: Mix, count: int, seconds: float) -> dict[str, Any]:
    weights = mix.weights()
    with tempfile.TemporaryDirectory(prefix="supportbot-faults-") as tmp:
        first = Server(Path(tmp))
        servers = [first]
        try:
            ready = round(first.wait_ready(300), 1)
            warm_up(first, mix)
            fault: dict[str, float] = {}
            run = asyncio.run(_killed_run(Path(tmp), servers, mix, weights, count, seconds, fault))
        finally:
            for server in reversed(servers):
                server.stop()
        if "failed" in fault:
            raise RuntimeError(
                f"the restarted server was not ready; its log ends with:\n{servers[-1].log_text()[-3000:]}"
            )
        lost = lost_turns(first.database, run.turns)
    return {"scenario": "server-killed", "customers": count, "seconds": seconds, "server_ready_seconds": ready,
            **killed_figures(run, fault, lost)}  # fmt: skip


async def _killed_run(
    tmp: Path, servers: list[Server], mix: Mix, weights: dict[str, float], count: int, seconds: float,
    fault: dict[str, float],
) -> Run:  # fmt: skip
    """The customers talk to `servers[0]`; after a third of `seconds` it is killed with SIGKILL and a new
    server starts at once on the same port and database. The customers keep going until `AFTER_RECOVERY_SECONDS`
    after the new server is ready, when that is later than `seconds`."""
    first = servers[0]
    stop = asyncio.Event()
    readiness = Run()
    poller = asyncio.create_task(poll_readiness(first.url, readiness, stop))
    fault["start"] = time.perf_counter()

    async def kill_and_restart() -> None:
        await asyncio.sleep(seconds / 3)
        fault["kill"] = time.perf_counter()
        first.process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.process.wait)
        fault["dead"] = time.perf_counter()
        servers.append(Server(tmp, port=first.port, log_name="server-restarted.log"))
        try:
            await asyncio.to_thread(servers[-1].wait_ready, MAX_RECOVERY_SECONDS)
        except ServerNotReady:
            fault["failed"] = 1.0
            return
        fault["ready"] = time.perf_counter()

    def running() -> bool:
        now = time.perf_counter()
        if "kill" not in fault or "failed" in fault:
            return False
        if "ready" not in fault:
            return now < fault["kill"] + MAX_RECOVERY_SECONDS
        return now < fault["ready"] + AFTER_RECOVERY_SECONDS

    def script(rng: random.Random, number: int) -> tuple[str, list[str]]:
        return mix.scenario(rng, weights)

    killer = asyncio.create_task(kill_and_restart())
    run = await customers(
        first.url, count, seconds, script, retry_refused=True, retry_unreachable=True, running=running
    )
    await killer
    fault["end"] = time.perf_counter()
    stop.set()
    await poller
    run.readiness = readiness.readiness
    return run


def killed_figures(run: Run, fault: dict[str, float], lost: int) -> dict[str, Any]:
    start, kill = fault["start"], fault["kill"]
    acknowledged = [t for t in run.turns if t.status == 200]
    before = [t for t in acknowledged if t.started + t.seconds <= kill]
    after = [t for t in acknowledged if t.started >= kill]
    first_ok = min((t.started + t.seconds for t in after), default=None)
    in_flight = [t for t in run.turns if t.started < kill < t.started + t.seconds]
    outage = [t for t in run.turns if t.started >= kill and (first_ok is None or t.started < first_ok)]
    ready_again = [at for at, code, _ in run.readiness if at >= kill and code == 200]
    return {
        "killed_at_s": round(kill - start, 2),
        "seconds_run": round(fault["end"] - start, 1),
        "restarted_server_ready_seconds": round(fault["ready"] - fault["dead"], 1),
        "acknowledged_turns": len(acknowledged),
        "acknowledged_turns_lost": lost,
        "turns": {
            "acknowledged_before_the_kill": len(before),
            "in_flight_at_the_kill": len(in_flight),
            "in_flight_at_the_kill_acknowledged": sum(1 for t in in_flight if t.status == 200),
            "sent_during_the_outage": len(outage),
            "acknowledged_after_the_kill": len(after),
        },
        "errors": errors_by_kind(run.turns),
        "recovered_first_acknowledged_turn_s": round(first_ok - kill, 2) if first_ok is not None else None,
        "recovered_readyz_200_s": round(min(ready_again) - kill, 2) if ready_again else None,
        "latency_of_acknowledged_turns_before_the_kill": latency(before),
        "latency_of_acknowledged_turns_after_the_kill": latency(after),
        "target_met": lost == 0 and first_ok is not None,
    }


SCENARIOS: dict[str, Callable[[Mix, int, float], dict[str, Any]]] = {
    "actions-hang": actions_hang,
    "database-read-only": database_read_only,
    "server-killed": server_killed,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="Measured seconds per scenario (default 30).")
    parser.add_argument("--customers", type=int, default=16, help="Concurrent customers (default 16).")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"Comma-separated: {', '.join(SCENARIOS)}.")
    args = parser.parse_args()
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {unknown}; choose from {', '.join(SCENARIOS)}")
    subprocess.run([sys.executable, "-m", "bot", "train"], cwd=REPO_ROOT, check=True, capture_output=True)
    mix = load_mix()
    results: dict[str, Any] = {}
    for name in names:
        result = SCENARIOS[name](mix, args.customers, args.seconds)
        results[name] = {**result, "machine": machine()}
        print(json.dumps(result, ensure_ascii=False), flush=True)
    path = write_result("faults", results)
    print(json.dumps({"written": str(path.relative_to(REPO_ROOT))}), flush=True)


if __name__ == "__main__":
    main()

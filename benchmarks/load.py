"""Load benchmark: concurrent simulated customers against a real `supportbot serve` on loopback.

    python benchmarks/load.py [--seconds 30] [--levels 1,16,64] [--workers 1,2]

1. Trains the bot if the model is stale (`supportbot train`; a no-op when current).
2. Measures the encoder's raw batched throughput (sentences/s, batches of 64) with 1 and with 2 threads,
   and its one-sentence latency, in separate processes before any server starts; the reference is the
   faster of the two.
3. For each worker count (`supportbot serve --workers N`; 1 and 2 by default), starts the server on a
   free loopback port with a temporary database (the demo shop is seeded into it, so task flows that
   cancel or return orders change nothing real) and rate limits off.
4. For each level (1, 16, 64 customers), each customer loops without think time over a realistic mix read
   from the repository's test files — knowledge questions (knowledge/tests/test_faq.yml), task
   conversations (intents/tests/conversations.yml, every turn in one conversation) and small talk
   (intents/tests/test_smalltalk.yml) — posting to `POST /chat`, one keep-alive connection per customer
   (a minimal HTTP/1.1 client, so the load generator takes little of the 2 cores). A short warm-up is not
   counted.
5. Prints one JSON line per level (throughput, p50/p95/p99, errors, the server's CPU per message and peak
   RSS summed over its workers, encoder batch sizes) and writes benchmarks/results/load.json.

Targets (issue 6): one customer p50 <= 20 ms; 64 customers: throughput >= 70% of the raw encoder
throughput, p99 <= 300 ms, zero errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO_ROOT, RESULTS_DIR, machine, peak_rss_mb, percentile_ms, write_result  # noqa: E402

from server.testing import ServerProcess, free_port, serve_command  # noqa: E402

MESSAGE_SHARE = {"knowledge": 0.40, "task": 0.35, "smalltalk": 0.25}


# -- the customer mix ---------------------------------------------------------------------------------
@dataclass
class Mix:
    knowledge: list[str]
    smalltalk: list[str]
    tasks: list[list[str]]

    def texts(self) -> list[str]:
        return self.knowledge + self.smalltalk + [t for conversation in self.tasks for t in conversation]

    def weights(self) -> dict[str, float]:
        """Scenario probabilities so that *messages* follow MESSAGE_SHARE (task scenarios are longer)."""
        mean_task = sum(len(c) for c in self.tasks) / len(self.tasks)
        raw = {
            "knowledge": MESSAGE_SHARE["knowledge"],
            "smalltalk": MESSAGE_SHARE["smalltalk"],
            "task": MESSAGE_SHARE["task"] / mean_task,
        }
        total = sum(raw.values())
        return {k: v / total for k, v in raw.items()}

    def scenario(self, rng: random.Random, weights: dict[str, float]) -> tuple[str, list[str]]:
        kind = rng.choices(list(weights), weights=list(weights.values()))[0]
        if kind == "knowledge":
            return kind, [rng.choice(self.knowledge)]
        if kind == "smalltalk":
            return kind, [rng.choice(self.smalltalk)]
        return kind, list(rng.choice(self.tasks))


def _scalar(raw: str) -> str:
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    return str(value).strip()


def _lines(path: Path, key: str, group: str | None = None) -> list[list[str]]:
    """`key:` values of a test file, line by line (tolerates a file that is not strictly valid YAML),
    grouped by the `- group:` items when `group` is given."""
    groups: list[list[str]] = [[]]
    item = re.compile(rf"^\s*-?\s*{key}:\s*(.+)$")
    start = re.compile(rf"^\s*-\s*{group}:") if group else None
    for line in path.read_text(encoding="utf-8").splitlines():
        if start is not None and start.match(line):
            groups.append([])
        match = item.match(line)
        if match:
            groups[-1].append(_scalar(match.group(1)))
    return [g for g in groups if g]


def load_mix(root: Path = REPO_ROOT) -> Mix:
    return Mix(
        knowledge=_lines(root / "knowledge/tests/test_faq.yml", "text")[0],
        smalltalk=_lines(root / "intents/tests/test_smalltalk.yml", "text")[0],
        tasks=_lines(root / "intents/tests/conversations.yml", "user", group="name"),
    )


# -- the encoder reference ------------------------------------------------------------------------------
def encoder_reference(seconds: float, threads: int) -> dict[str, Any]:
    """Raw batched throughput of the model the server uses (runs in its own process)."""
    from bot.config import Settings
    from bot.encoding import SentenceTransformerEncoder

    settings = Settings(project_dir=REPO_ROOT)
    encoder = SentenceTransformerEncoder(
        settings.model_path, threads=threads, batch_size=64, fused=settings.encoder_fused
    )
    encoder.warm_up()
    texts = load_mix().texts()
    pool = (texts * (64 // len(texts) + 2))[: max(64, len(texts))]
    rng = random.Random(7)
    encoder.encode(pool[:64])
    done, started, cpu_started = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        encoder.encode(rng.sample(pool, 64))
        done += 64
    batched = done / (time.perf_counter() - started)
    cpu_per_sentence = (time.process_time() - cpu_started) / done
    single: list[float] = []
    started = time.perf_counter()
    while time.perf_counter() - started < min(seconds, 5.0):
        t0 = time.perf_counter()
        encoder.encode([rng.choice(texts)])
        single.append(time.perf_counter() - t0)
    return {
        "sentences_per_s": round(batched, 1),
        "batch": 64,
        "threads": threads,
        "one_sentence_p50_ms": percentile_ms(single, 50),
        "cpu_ms_per_sentence": round(cpu_per_sentence * 1000, 3),
    }


def run_encoder_reference(seconds: float) -> dict[str, Any]:
    """The encoder alone with 1 and with 2 threads; the reference is the faster of the two (the best the
    machine does with this model, whatever the server's own thread setting)."""
    runs = []
    for threads in (1, 2):
        out = subprocess.run(
            [sys.executable, __file__, "--encoder-reference", "--seconds", str(seconds), "--threads", str(threads)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(dict(json.loads(out.stdout.strip().splitlines()[-1])))
    best = max(runs, key=lambda r: float(r["sentences_per_s"]))
    return {**best, "runs": runs}


# -- the server -----------------------------------------------------------------------------------------
class Server(ServerProcess):
    """`supportbot serve` in a subprocess, with a temporary database and no rate limits."""

    def __init__(self, tmp: Path, workers: int = 1) -> None:
        self.workers = workers
        port = free_port()
        env = {
            **os.environ,
            "SUPPORTBOT_PROJECT_DIR": str(REPO_ROOT),
            "SUPPORTBOT_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "SUPPORTBOT_RATE_LIMIT_PER_MINUTE": "0",
            "SUPPORTBOT_RATE_LIMIT_PER_IP_PER_MINUTE": "0",
            "SUPPORTBOT_WATCH_KNOWLEDGE": "false",
        }
        command = serve_command(port, workers=workers)
        super().__init__(command, port=port, env=env, cwd=REPO_ROOT, log=tmp / "server.log")

    def pids(self) -> list[int]:
        """The server process and its workers (children, grandchildren…)."""
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            children = Path(f"/proc/{pid}/task/{pid}/children")
            if children.exists():
                todo.extend(int(c) for c in children.read_text().split())
        return found

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server and its workers so far (all threads), from /proc."""
        total = 0.0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def peak_rss_mb(self) -> float:
        """Sum of the peak resident sets of the processes that hold a model (the workers; the server
        itself with one worker)."""
        pids = self.pids()
        holders = pids[1:] if self.workers > 1 else pids[:1]
        return round(sum(peak_rss_mb(p) for p in holders if Path(f"/proc/{p}").exists()), 1)

    def encoder_stats(self) -> dict[str, float]:
        import httpx

        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        stats: dict[str, float] = {}
        for name in ("batches", "sentences", "requests"):
            match = re.search(rf"^supportbot_encoder_{name}_total (\S+)$", text, re.MULTILINE)
            stats[name] = float(match.group(1)) if match else float("nan")
        return stats


# -- the customers --------------------------------------------------------------------------------------
@dataclass
class LevelResult:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)


class HttpConnection:
    """A minimal HTTP/1.1 keep-alive client for `POST` JSON over one connection, as one customer's
    browser tab holds one. httpx costs 1.3-2.6 ms of CPU per request, and the load generator shares the
    server's 2 cores; this costs about a tenth of that, so the figures measure the server."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post_json(
        self, path: str, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        body = json.dumps(payload).encode()
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        head = (
            f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\ncontent-type: application/json\r\n"
            f"{extra}content-length: {len(body)}\r\n\r\n"
        ).encode()
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(head + body)
        try:
            status_line = await self._reader.readuntil(b"\r\n")
            headers = await self._reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as e:
            await self.close()
            raise ConnectionError(f"the server closed the connection: {e}") from e
        length, close = 0, False
        for line in headers.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        data = await self._reader.readexactly(length)
        if close:
            await self.close()
        return int(status_line.split()[1]), data

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


class ChatClient:
    """`POST /chat` for one customer over one connection, keeping each conversation's token: an answer
    carries a fresh `token`, and the next message of that sender sends it as `X-Conversation-Token` (a
    server without conversation tokens sends none, and none is sent)."""

    TOKEN_HEADER = "X-Conversation-Token"

    def __init__(self, connection: HttpConnection) -> None:
        self.connection = connection
        self.tokens: dict[str, str] = {}

    async def send(self, sender: str, text: str) -> tuple[int, bytes]:
        token = self.tokens.get(sender)
        headers = {self.TOKEN_HEADER: token} if token else None
        status, body = await self.connection.post_json("/chat", {"sender": sender, "message": text}, headers)
        if status == 200:
            try:
                fresh = json.loads(body).get("token")
            except (ValueError, AttributeError):
                fresh = None
            if isinstance(fresh, str):
                self.tokens[sender] = fresh
        return status, body


async def run_level(
    base: str, mix: Mix, customers: int, seconds: float, warmup: float, seed: int, prefix: str = "load"
) -> dict[str, Any]:
    result = LevelResult()
    weights = mix.weights()
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds
    host, port = base.removeprefix("http://").rsplit(":", 1)

    async def customer(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        connection = HttpConnection(host, int(port))
        client = ChatClient(connection)
        conversation = 0
        try:
            while time.perf_counter() < stop_at:
                kind, messages = mix.scenario(rng, weights)
                sender = f"{prefix}-{customers}-{number}-{conversation}"
                conversation += 1
                for text in messages:
                    if time.perf_counter() >= stop_at:
                        return
                    t0 = time.perf_counter()
                    ok, detail = True, ""
                    try:
                        status, body = await client.send(sender, text)
                        if status != 200:
                            ok, detail = False, f"{status} {body[:200].decode(errors='replace')}"
                    except (OSError, asyncio.IncompleteReadError) as e:
                        ok, detail = False, f"{type(e).__name__}: {e}"
                    t1 = time.perf_counter()
                    if t0 < measure_from:
                        continue
                    if ok:
                        result.latencies.append(t1 - t0)
                        result.kinds[kind] = result.kinds.get(kind, 0) + 1
                    else:
                        result.errors += 1
                        if len(result.error_samples) < 5:
                            result.error_samples.append(detail)
        finally:
            await connection.close()

    await asyncio.gather(*(customer(i) for i in range(customers)))
    elapsed = seconds
    done = len(result.latencies)
    total_kinds = sum(result.kinds.values()) or 1
    return {
        "customers": customers,
        "seconds": seconds,
        "messages": done,
        "throughput_msg_per_s": round(done / elapsed, 1),
        "p50_ms": percentile_ms(result.latencies, 50) if done else None,
        "p95_ms": percentile_ms(result.latencies, 95) if done else None,
        "p99_ms": percentile_ms(result.latencies, 99) if done else None,
        "errors": result.errors,
        "error_samples": result.error_samples,
        "mix": {k: round(v / total_kinds, 2) for k, v in sorted(result.kinds.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="Measured seconds per level (default 30).")
    parser.add_argument("--levels", default="1,16,64", help="Concurrent customers per level (default 1,16,64).")
    parser.add_argument("--workers", default="1,2", help="Server processes to measure, in turn (default 1,2).")
    parser.add_argument("--warmup", type=float, default=None, help="Unmeasured seconds first (default min(3, s/5)).")
    parser.add_argument("--encoder-reference", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.encoder_reference:
        print(json.dumps(encoder_reference(min(args.seconds, 15.0), args.threads)))
        return

    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    worker_counts = [int(x) for x in args.workers.split(",") if x.strip()]
    warmup = args.warmup if args.warmup is not None else min(3.0, args.seconds / 5)
    subprocess.run([sys.executable, "-m", "bot", "train"], cwd=REPO_ROOT, check=True, capture_output=True)
    reference = run_encoder_reference(args.seconds)
    print(json.dumps({"encoder_reference": reference}), flush=True)
    mix = load_mix()

    results: list[dict[str, Any]] = []
    ready: dict[int, float] = {}
    for workers in worker_counts:
        with tempfile.TemporaryDirectory(prefix="supportbot-load-") as tmp:
            server = Server(Path(tmp), workers)
            measured: list[dict[str, Any]] = []
            try:
                ready[workers] = round(server.wait_ready(300), 1)
                for customers in levels:
                    level = measure_level(server, mix, customers, args.seconds, warmup, reference)
                    measured.append(level)
                    print(json.dumps(level), flush=True)
            finally:
                server.stop()
                results.extend(measured)
                if any(r["errors"] for r in measured):  # keep the server's log to explain them
                    kept = RESULTS_DIR / f"load-server-{workers}w.log"
                    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
                    kept.write_text(server.log_text()[-200_000:])
                    print(json.dumps({"server_log": str(kept.relative_to(REPO_ROOT))}), flush=True)

    targets = {str(w): level_targets([r for r in results if r["workers"] == w]) for w in worker_counts}
    summary = {
        "encoder_reference": reference,
        "levels": results,
        "targets": targets,
        "server_ready_seconds": ready,
        "machine": machine(),
    }
    path = write_result("load", summary)
    print(json.dumps({"targets": targets, "written": str(path.relative_to(REPO_ROOT))}), flush=True)


def measure_level(
    server: Server, mix: Mix, customers: int, seconds: float, warmup: float, reference: dict[str, Any]
) -> dict[str, Any]:
    before, cpu_before, client_before = server.encoder_stats(), server.cpu_seconds(), time.process_time()
    level = asyncio.run(run_level(server.url, mix, customers, seconds, warmup, seed=customers))
    after, cpu_after, client_after = server.encoder_stats(), server.cpu_seconds(), time.process_time()
    handled = max(1, after["requests"] - before["requests"])
    batches = after["batches"] - before["batches"]
    return {
        "workers": server.workers,
        **level,
        "server_cpu_ms_per_msg": round((cpu_after - cpu_before) / handled * 1000, 2),
        "client_cpu_ms_per_msg": round((client_after - client_before) / handled * 1000, 2),
        "encoder_mean_batch": round((after["sentences"] - before["sentences"]) / batches, 1) if batches > 0 else None,
        "server_peak_rss_mb": server.peak_rss_mb(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "share_of_raw_encoder": round(level["throughput_msg_per_s"] / reference["sentences_per_s"], 3),
    }


def level_targets(results: list[dict[str, Any]]) -> dict[str, bool]:
    """Issue 6's targets for one server configuration."""
    by_level = {r["customers"]: r for r in results}
    targets: dict[str, bool] = {}
    if 1 in by_level:
        targets["p50_1_customer_le_20ms"] = (by_level[1]["p50_ms"] or 1e9) <= 20
    if 64 in by_level:
        top = by_level[64]
        targets["throughput_64_ge_70pct_raw"] = top["share_of_raw_encoder"] >= 0.70
        targets["p99_64_le_300ms"] = (top["p99_ms"] or 1e9) <= 300
        targets["errors_64_zero"] = top["errors"] == 0
    return targets


if __name__ == "__main__":
    main()

"""Cluster benchmark: bot nodes sharing PostgreSQL behind HAProxy, on this machine's loopback.

    python benchmarks/cluster.py [--customers 64] [--seconds 60] [--scale-customers 32] [--scale-seconds 20]

Needs PostgreSQL at 127.0.0.1:5432 and Debian's haproxy (`make cluster-deps`); see docs/deploy.md.

1. A fresh PostgreSQL database, a copy of knowledge/ and one state folder; the model is trained once into it
   (`server.testing.prepare_cluster`) and 3 nodes (`supportbot serve`, one encoder thread each) load it.
2. The encoder's raw throughput, measured in this process before the load starts: sentences/s in batches of
   64 with 2 threads (all the machine's cores) — the ceiling of what the bot's hot path can do here.
3. Scaling: for 1, 2 and 3 nodes behind HAProxy (round-robin, health checks on /readyz), `--scale-customers`
   customers send messages without think time for `--scale-seconds`; messages/s acknowledged, and the CPU
   seconds the node processes (and PostgreSQL, and HAProxy) used per message, from /proc.
4. Nothing lost: `--customers` customers for `--seconds` through HAProxy over the 3 nodes, node 1 SIGKILLed a
   sixth of the way in and started again at once (it loads the model while the others carry the load).
   Afterwards every acknowledged turn must be in the history in PostgreSQL exactly once and in order (lost,
   duplicated and out-of-order must be 0); errors are counted beside the requests in flight while the node
   died (a process that big takes ~0.1 s to die; about a third of those requests were on it).

Reading the figures. This machine has 2 cores, shared by the load generator (Python threads), HAProxy,
PostgreSQL and the nodes, so 2 and 3 nodes cannot do much more than 1: once the cores are busy, another
node only adds processes competing for them (and 3 nodes on 2 cores is over-subscribed by design, to prove
correctness, not speed). What scales is the CPU per message: a node spends `node_cpu_ms_per_message`, the
database `postgres_cpu_ms_per_message` (all of the machine's PostgreSQL: other users of it count too), the
balancer `haproxy_cpu_ms_per_message`. With N cores given to nodes (one node per core, one encoder thread
each) the cluster serves about N × 1000 / node CPU ms per message (`projection`), until PostgreSQL's share
fills its own cores; the projection leaves out the load generator, which runs elsewhere in a real
deployment. The measured messages/s fall short of the projection for 2 cores by what the load generator,
PostgreSQL, HAProxy (and anything else running on the machine) take from the same 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO_ROOT, machine, write_result  # noqa: E402

from server.testing import (  # noqa: E402
    LOAD_MESSAGES,
    ClusterNodes,
    HaproxyProcess,
    PostgresDatabase,
    balancer_error_file,
    check_histories,
    cluster_environment,
    free_port,
    haproxy_config,
    postgres_problem,
    prepare_cluster,
    process_cpu_seconds,
    simulate_customers,
    user_messages,
)

NODES = 3
VICTIM = 1


def encoder_reference(seconds: float, threads: int = 2) -> dict[str, Any]:
    """Raw batched throughput of the model the nodes use, in this process, before any load."""
    from bot.config import Settings
    from bot.encoding import SentenceTransformerEncoder

    settings = Settings(project_dir=REPO_ROOT)
    encoder = SentenceTransformerEncoder(
        settings.model_path, threads=threads, batch_size=64, fused=settings.encoder_fused
    )
    encoder.warm_up()
    pool = [f"{text} (turn {n})" for n in range(16) for text in LOAD_MESSAGES]
    encoder.encode(pool[:64])
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        encoder.encode([pool[(done + i) % len(pool)] for i in range(64)])
        done += 64
    return {"sentences_per_s": round(done / (time.perf_counter() - started), 1), "batch": 64, "threads": threads}


def pids_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def postgres_cpu() -> float:
    """CPU seconds of PostgreSQL: its live processes, plus what its ended backends used (the postmaster's
    cutime + cstime: a connection closed during the run took its CPU time with it otherwise)."""
    pids = pids_named("postgres")
    total = cpu_of(pids)
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) not in pids:  # the postmaster: its parent is not a postgres process
            total += (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    return total


def cpu_of(pids: Sequence[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += process_cpu_seconds(pid)
        except OSError:
            continue  # a postgres backend that ended meanwhile
    return total


def scaling_run(
    nodes: ClusterNodes, haproxy: str, count: int, customers: int, seconds: float, logs: Path
) -> dict[str, Any]:
    """`customers` customers for `seconds` through HAProxy over the first `count` nodes."""
    port = free_port()
    config = haproxy_config(nodes.ports[:count], port=port, error_file=balancer_error_file(logs / "503.http"))
    with HaproxyProcess(haproxy, config, port=port, config_path=logs / f"haproxy-{count}.cfg") as proxy:
        time.sleep(1.5)  # the first health checks
        node_pids = nodes.pids()[:count]
        before = (cpu_of(node_pids), postgres_cpu(), cpu_of([proxy.process.pid]))
        started = time.monotonic()
        turns = simulate_customers(proxy.url, customers=customers, seconds=seconds, prefix=f"scale{count}")
        elapsed = time.monotonic() - started
        after = (cpu_of(node_pids), postgres_cpu(), cpu_of([proxy.process.pid]))
    acknowledged = sum(t.acknowledged for t in turns)
    per_message = [(b - a) / max(acknowledged, 1) * 1000 for a, b in zip(before, after, strict=True)]
    latencies = sorted(t.ended - t.started for t in turns if t.acknowledged)
    return {
        "nodes": count,
        "customers": customers,
        "seconds": round(elapsed, 1),
        "messages_per_s": round(acknowledged / elapsed, 1),
        "acknowledged": acknowledged,
        "errors": len(turns) - acknowledged,
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1) if latencies else None,
        "p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000, 1) if latencies else None,
        "node_cpu_ms_per_message": round(per_message[0], 2),
        "postgres_cpu_ms_per_message": round(per_message[1], 2),
        "haproxy_cpu_ms_per_message": round(per_message[2], 3),
        "by_node": {name: sum(1 for t in turns if t.node == name) for name in sorted({str(t.node) for t in turns})},
    }


def kill_run(
    nodes: ClusterNodes, haproxy: str, database_url: str, customers: int, seconds: float, logs: Path
) -> dict[str, Any]:
    """The 'nothing lost' run: node VICTIM is SIGKILLed a sixth of the way in and restarted at once."""
    port = free_port()
    config = haproxy_config(nodes.ports, port=port, error_file=balancer_error_file(logs / "503.http"))
    moments: dict[str, float] = {}

    def kill_then_restart() -> None:
        time.sleep(seconds / 6)
        moments["kill"] = time.monotonic()
        nodes.kill(VICTIM)
        moments["dead"] = time.monotonic()
        nodes.launch(VICTIM)
        moments["ready"] = moments["dead"] + nodes.node(VICTIM).wait_ready(300)

    with HaproxyProcess(haproxy, config, port=port, config_path=logs / "haproxy-kill.cfg") as proxy:
        time.sleep(1.5)
        killer = threading.Thread(target=kill_then_restart)
        killer.start()
        turns = simulate_customers(proxy.url, customers=customers, seconds=seconds, prefix="kill")
        killer.join()
    check = check_histories(turns, user_messages(database_url, "kill-"))
    errors = [t for t in turns if not t.acknowledged]
    in_flight = [t for t in turns if t.in_flight_during(moments["kill"], moments["dead"])]
    return {
        "customers": customers,
        "seconds": seconds,
        "turns": len(turns),
        "acknowledged": check.acknowledged,
        "lost": len(check.lost),
        "duplicated": len(check.duplicated),
        "out_of_order": len(check.out_of_order),
        "unexpected": len(check.unexpected),
        "errors": len(errors),
        "errors_outside_the_kill": sum(1 for t in errors if not t.in_flight_during(moments["kill"], moments["dead"])),
        "in_flight_while_the_node_died": len(in_flight),
        "error_kinds": sorted({f"{t.status} {t.error}" for t in errors}),
        "restarted_node_ready_after_s": round(moments["ready"] - moments["kill"], 1),
        "answered_by_the_restarted_node": sum(
            1 for t in turns if t.node == f"node{VICTIM}" and t.started > moments["ready"]
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--scale-customers", type=int, default=32)
    parser.add_argument("--scale-seconds", type=float, default=20)
    parser.add_argument("--encoder-seconds", type=float, default=8)
    args = parser.parse_args()

    haproxy = shutil.which("haproxy")
    problem = postgres_problem() or (None if haproxy else "haproxy is not installed (make cluster-deps)")
    if problem or haproxy is None:
        raise SystemExit(f"cannot run the cluster benchmark: {problem}")
    reference = encoder_reference(args.encoder_seconds)
    print(json.dumps({"encoder": reference}), flush=True)

    work = Path(tempfile.mkdtemp(prefix="supportbot-cluster-bench-"))
    logs = work / "logs"
    logs.mkdir()
    shutil.copytree(REPO_ROOT / "knowledge", work / "knowledge")
    if (REPO_ROOT / ".supportbot" / "models").is_dir():
        shutil.copytree(REPO_ROOT / ".supportbot" / "models", work / "state" / "models")
    with PostgresDatabase(prefix="supportbot_bench") as database:
        env = cluster_environment(
            os.environ,
            project_dir=REPO_ROOT,
            state_dir=work / "state",
            knowledge_dir=work / "knowledge",
            database_url=database.url,
            secret_key=secrets.token_urlsafe(32),
            redis_url=os.environ.get("SUPPORTBOT_REDIS_URL"),
            embedding_cache=str(REPO_ROOT / ".supportbot" / "cache" / "embeddings.sqlite"),
            rate_limit_per_minute="0",
            rate_limit_per_ip_per_minute="0",
            learning_retrain="false",
            watch_knowledge="false",
            encoder_threads="1",
        )
        prepare_cluster(env, cwd=REPO_ROOT, log=logs / "prepare.log")
        with ClusterNodes(NODES, env, logs=logs, cwd=REPO_ROOT) as nodes:
            scaling = []
            for count in (1, 2, 3):
                run = scaling_run(nodes, haproxy, count, args.scale_customers, args.scale_seconds, logs)
                print(json.dumps(run), flush=True)
                scaling.append(run)
            killed = kill_run(nodes, haproxy, database.url, args.customers, args.seconds, logs)
            print(json.dumps(killed), flush=True)
    best = max(scaling, key=lambda r: float(r["messages_per_s"]))
    node_ms = min(float(r["node_cpu_ms_per_message"]) for r in scaling)
    postgres_ms = min(float(r["postgres_cpu_ms_per_message"]) for r in scaling)
    summary = {
        "machine": machine(),
        "encoder_reference": reference,
        "scaling": scaling,
        "best_messages_per_s": best["messages_per_s"],
        "share_of_encoder_reference": round(float(best["messages_per_s"]) / reference["sentences_per_s"], 2),
        "node_killed": killed,
        "projection": {
            "basis": "messages/s ≈ cores for nodes × 1000 / node CPU ms per message (one node per core); "
            "PostgreSQL needs its CPU ms per message on cores of its own",
            "node_cpu_ms_per_message": node_ms,
            "postgres_cpu_ms_per_message": postgres_ms,
            **{f"{cores}_cores_messages_per_s": round(cores * 1000 / node_ms, 0) for cores in (2, 4, 8, 16)},
        },
        "ok": killed["lost"] == 0 and killed["duplicated"] == 0 and killed["out_of_order"] == 0,
    }
    path = write_result("cluster", {"cluster": summary})
    print(f"wrote {path}; logs in {logs}")
    shutil.rmtree(work / "state", ignore_errors=True)


if __name__ == "__main__":
    main()

"""Cluster benchmark: bot nodes sharing PostgreSQL behind HAProxy, on this machine's loopback.

    python benchmarks/cluster.py [--customers 64] [--seconds 60] [--scale-customers 32] [--scale-seconds 20]
        [--outage-customers 8] [--outage-seconds 16] [--redis-url URL] [--steps scaling,kill,postgres,redis]
        [--output PATH]

Needs PostgreSQL at 127.0.0.1:5432 and Debian's haproxy (`make cluster-deps`); the Redis step needs
`redis-server`, the PostgreSQL step a local `pg_ctlcluster` service (it RESTARTS the machine's PostgreSQL:
run it when nobody else uses it). See docs/deploy.md. The nodes coordinate through `--redis-url`, by default
SUPPORTBOT_CLUSTER_REDIS_URL (else SUPPORTBOT_REDIS_URL; none: file locks, as on one machine). The JSON
(benchmarks/results/cluster.json, or `--output`) records that URL (without password) and the machine's load
average before each step: other work on the machine lowers every figure.

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
5. PostgreSQL restarted (`pg_ctlcluster restart`) under `--outage-customers` customers a quarter of the way
   into `--outage-seconds`: the 503s that failed fast (`fail_fast_503s`: `store_unavailable` or HAProxy's
   `not_ready`, JSON error shape, `Retry-After`, within 2.5 s), any other failure (`wrong`, `slow`,
   `before_outage`), `recovered_after_s` (when the last failure ended, after the service was back: at most 5 s
   is the promise) and the history check.
6. Redis restarted: 3 fresh nodes coordinating through a PRIVATE `redis-server` on a free port (never the
   machine's Redis), stopped for `--redis-down-seconds` and started again, empty; the same figures
   (`store_unavailable` only: /readyz does not depend on Redis).

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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO_ROOT, machine, write_result  # noqa: E402

from bot.coordination.connection import shown  # noqa: E402
from server.testing import (  # noqa: E402
    LOAD_MESSAGES,
    ClusterNodes,
    HaproxyProcess,
    PostgresDatabase,
    RedisProcess,
    balancer_error_file,
    check_histories,
    cluster_environment,
    ensure_postgres_up,
    free_port,
    haproxy_config,
    outage_check,
    pg_ctlcluster,
    postgres_problem,
    postgres_service_problem,
    prepare_cluster,
    process_cpu_seconds,
    simulate_customers,
    user_messages,
)

NODES = 3
VICTIM = 1
STEPS = ("scaling", "kill", "postgres", "redis")
FAIL_FAST_SECONDS = 2.5
RECOVERY_SECONDS = 5.0


def machine_load() -> dict[str, float]:
    """The machine's load average (1, 5, 15 min): on 2 cores, above ~2 other work competes with the run."""
    one, five, fifteen = os.getloadavg()
    return {"1m": round(one, 2), "5m": round(five, 2), "15m": round(fifteen, 2)}


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


def outage_run(
    url: str,
    database_url: str,
    *,
    restart: Callable[[], None],
    codes: set[str],
    customers: int,
    seconds: float,
    prefix: str,
) -> dict[str, Any]:
    """`customers` customers for `seconds` through `url`; a quarter of the way in, `restart()` takes a service
    away and brings it back (it returns once the service answers). What the customers saw, and the histories."""
    moments: dict[str, float] = {}
    failure: list[str] = []

    def take_down() -> None:
        time.sleep(seconds / 4)
        moments["down"] = time.monotonic()
        try:
            restart()
        except Exception as e:  # reported in the result
            failure.append(f"{type(e).__name__}: {e}")
        moments["back"] = time.monotonic()

    restarter = threading.Thread(target=take_down)
    load = machine_load()
    restarter.start()
    turns = simulate_customers(url, customers=customers, seconds=seconds, prefix=prefix)
    restarter.join()
    outage = outage_check(
        turns, down=moments["down"], back=moments["back"], codes=codes, fail_fast_seconds=FAIL_FAST_SECONDS
    )
    check = check_histories(turns, user_messages(database_url, f"{prefix}-"))
    errors = [t for t in turns if not t.acknowledged]
    fail_fast = [
        t for t in errors
        if t.status == 503 and t.error in codes and t.retry_after and t.ended - t.started <= FAIL_FAST_SECONDS
    ]  # fmt: skip
    result = {
        "customers": customers,
        "seconds": seconds,
        "machine_load_before": load,
        "service_away_s": round(moments["back"] - moments["down"], 2),
        "restart_failed": failure[0] if failure else None,
        "turns": outage.turns,
        "acknowledged": check.acknowledged,
        "errors": outage.errors,
        "fail_fast_503s": len(fail_fast),
        "fail_fast_p95_ms": _p95_ms([t.ended - t.started for t in fail_fast]),
        "error_kinds": sorted({f"{t.status} {t.error}" for t in errors}),
        "wrong": outage.wrong,
        "slow": outage.slow,
        "before_outage": len(outage.before_outage),
        "recovered_after_s": outage.recovered_after,
        "answered_after_back": outage.answered_after,
        "lost": len(check.lost),
        "duplicated": len(check.duplicated),
        "out_of_order": len(check.out_of_order),
        "unexpected": len(check.unexpected),
    }
    result["ok"] = bool(outage.errors) and outage.ok(RECOVERY_SECONDS) and check.ok and not failure
    return result


def _p95_ms(seconds: Sequence[float]) -> float | None:
    ordered = sorted(seconds)
    return round(ordered[int(len(ordered) * 0.95)] * 1000, 1) if ordered else None


def postgres_restart_run(
    nodes: ClusterNodes, haproxy: str, database_url: str, customers: int, seconds: float, logs: Path
) -> dict[str, Any]:
    """The machine's PostgreSQL restarted under load (`pg_ctlcluster restart`); started again whatever happens."""
    problem = postgres_service_problem()
    if problem is not None:
        return {"skipped": problem}

    def restart() -> None:
        done = pg_ctlcluster("restart")
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip() or f"pg_ctlcluster restart exited with {done.returncode}")

    port = free_port()
    config = haproxy_config(nodes.ports, port=port, error_file=balancer_error_file(logs / "503.http"))
    try:
        with HaproxyProcess(haproxy, config, port=port, config_path=logs / "haproxy-postgres.cfg") as proxy:
            time.sleep(1.5)
            return outage_run(
                proxy.url,
                database_url,
                restart=restart,
                codes={"store_unavailable", "not_ready"},
                customers=customers,
                seconds=seconds,
                prefix="pgrestart",
            )
    finally:
        ensure_postgres_up()


def redis_restart_run(
    env: dict[str, str], haproxy: str, database_url: str, customers: int, seconds: float, down: float, logs: Path
) -> dict[str, Any]:
    """Fresh nodes on a private `redis-server`, which is stopped for `down` seconds and started again, empty."""
    server = shutil.which("redis-server")
    if server is None:
        return {"skipped": "redis-server is not installed"}
    logs.mkdir(parents=True, exist_ok=True)
    with RedisProcess(server, log=logs / "redis.log") as redis:
        node_env = env | {"SUPPORTBOT_REDIS_URL": redis.url}

        def restart() -> None:
            redis.stop()
            time.sleep(down)
            redis.start()

        with ClusterNodes(NODES, node_env, logs=logs, cwd=REPO_ROOT) as nodes:
            port = free_port()
            config = haproxy_config(nodes.ports, port=port, error_file=balancer_error_file(logs / "503.http"))
            with HaproxyProcess(haproxy, config, port=port, config_path=logs / "haproxy.cfg") as proxy:
                time.sleep(1.5)
                result = outage_run(
                    proxy.url,
                    database_url,
                    restart=restart,
                    codes={"store_unavailable"},
                    customers=customers,
                    seconds=seconds,
                    prefix="redisrestart",
                )
    return {"redis_url": redis.url, "down_s": down, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--scale-customers", type=int, default=32)
    parser.add_argument("--scale-seconds", type=float, default=20)
    parser.add_argument("--encoder-seconds", type=float, default=8)
    parser.add_argument("--outage-customers", type=int, default=8)
    parser.add_argument("--outage-seconds", type=float, default=16)
    parser.add_argument("--redis-down-seconds", type=float, default=3)
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("SUPPORTBOT_CLUSTER_REDIS_URL") or os.environ.get("SUPPORTBOT_REDIS_URL") or "",
        help="the Redis the nodes coordinate through (default: SUPPORTBOT_CLUSTER_REDIS_URL; empty: none)",
    )
    parser.add_argument("--steps", default=",".join(STEPS), help=f"a comma-separated subset of {','.join(STEPS)}")
    parser.add_argument("--output", type=Path, help="write the JSON here instead of benchmarks/results/cluster.json")
    args = parser.parse_args()
    steps = {step.strip() for step in args.steps.split(",") if step.strip()}
    if not steps <= set(STEPS):
        raise SystemExit(f"unknown steps {sorted(steps - set(STEPS))}; choose from {','.join(STEPS)}")

    haproxy = shutil.which("haproxy")
    problem = postgres_problem() or (None if haproxy else "haproxy is not installed (make cluster-deps)")
    if problem or haproxy is None:
        raise SystemExit(f"cannot run the cluster benchmark: {problem}")
    load_at_start = machine_load()
    reference = encoder_reference(args.encoder_seconds)
    print(json.dumps({"encoder": reference, "machine_load": load_at_start}), flush=True)

    work = Path(tempfile.mkdtemp(prefix="supportbot-cluster-bench-"))
    logs = work / "logs"
    logs.mkdir()
    shutil.copytree(REPO_ROOT / "knowledge", work / "knowledge")
    if (REPO_ROOT / ".supportbot" / "models").is_dir():
        shutil.copytree(REPO_ROOT / ".supportbot" / "models", work / "state" / "models")
    scaling: list[dict[str, Any]] = []
    results: dict[str, Any] = {}
    with PostgresDatabase(prefix="supportbot_bench") as database:
        env = cluster_environment(
            os.environ,
            project_dir=REPO_ROOT,
            state_dir=work / "state",
            knowledge_dir=work / "knowledge",
            database_url=database.url,
            secret_key=secrets.token_urlsafe(32),
            redis_url=args.redis_url or None,
            embedding_cache=str(REPO_ROOT / ".supportbot" / "cache" / "embeddings.sqlite"),
            rate_limit_per_minute="0",
            rate_limit_per_ip_per_minute="0",
            learning_retrain="false",
            watch_knowledge="false",
            encoder_threads="1",
        )
        prepare_cluster(env, cwd=REPO_ROOT, log=logs / "prepare.log")
        if steps & {"scaling", "kill", "postgres"}:
            with ClusterNodes(NODES, env, logs=logs, cwd=REPO_ROOT) as nodes:
                for count in (1, 2, 3) if "scaling" in steps else ():
                    run = scaling_run(nodes, haproxy, count, args.scale_customers, args.scale_seconds, logs)
                    run["machine_load_after"] = machine_load()
                    print(json.dumps(run), flush=True)
                    scaling.append(run)
                if "kill" in steps:
                    load = machine_load()
                    results["node_killed"] = {
                        "machine_load_before": load,
                        **kill_run(nodes, haproxy, database.url, args.customers, args.seconds, logs),
                    }
                    print(json.dumps(results["node_killed"]), flush=True)
                if "postgres" in steps:
                    results["postgres_restart"] = postgres_restart_run(
                        nodes, haproxy, database.url, args.outage_customers, args.outage_seconds, logs
                    )
                    print(json.dumps(results["postgres_restart"]), flush=True)
        if "redis" in steps:
            results["redis_restart"] = redis_restart_run(
                env,
                haproxy,
                database.url,
                args.outage_customers,
                args.outage_seconds,
                args.redis_down_seconds,
                logs / "redis-restart",
            )
            print(json.dumps(results["redis_restart"]), flush=True)
    summary: dict[str, Any] = {
        "machine": machine(),
        "machine_load": {"start": load_at_start, "end": machine_load()},
        "redis_url": shown(args.redis_url) if args.redis_url else None,
        "steps": sorted(steps, key=STEPS.index),
        "encoder_reference": reference,
    }
    if scaling:
        best = max(scaling, key=lambda r: float(r["messages_per_s"]))
        node_ms = min(float(r["node_cpu_ms_per_message"]) for r in scaling)
        postgres_ms = min(float(r["postgres_cpu_ms_per_message"]) for r in scaling)
        summary |= {
            "scaling": scaling,
            "best_messages_per_s": best["messages_per_s"],
            "share_of_encoder_reference": round(float(best["messages_per_s"]) / reference["sentences_per_s"], 2),
            "projection": {
                "basis": "messages/s ≈ cores for nodes × 1000 / node CPU ms per message (one node per core); "
                "PostgreSQL needs its CPU ms per message on cores of its own",
                "node_cpu_ms_per_message": node_ms,
                "postgres_cpu_ms_per_message": postgres_ms,
                **{f"{cores}_cores_messages_per_s": round(cores * 1000 / node_ms, 0) for cores in (2, 4, 8, 16)},
            },
        }
    summary |= results
    summary["ok"] = all(_step_ok(name, result) for name, result in results.items())
    if args.output is not None:
        args.output.write_text(json.dumps({"cluster": summary}, indent=2, ensure_ascii=False) + "\n")
        path = args.output
    else:
        path = write_result("cluster", {"cluster": summary})
    print(f"wrote {path}; ok={summary['ok']}; logs in {logs}")
    shutil.rmtree(work / "state", ignore_errors=True)


def _step_ok(name: str, result: dict[str, Any]) -> bool:
    if "skipped" in result:
        return True
    if name == "node_killed":
        return bool(result["lost"] == 0 and result["duplicated"] == 0 and result["out_of_order"] == 0)
    return bool(result["ok"])


if __name__ == "__main__":
    main()

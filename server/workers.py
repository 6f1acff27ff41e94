"""`supportbot serve --workers N`: several server processes on one port, one per core.

One process cannot use two cores for the bot's Python work (the GIL); N processes can. Each worker loads
the model, the knowledge index and the trained classifier itself; what they share lives on disk:

- the SQLite database (conversations, shop, hand-offs, feedback) — WAL mode, busy timeout;
- the per-sender lock (`state/locks/conversations.lock`, byte-range locks), so one customer's messages
  are still handled one at a time and in order whichever worker receives them;
- Prometheus series (`PROMETHEUS_MULTIPROC_DIR`: a fresh folder per run, unless the deployer sets one),
  summed on every scrape.

Before the workers start, one short-lived process trains the classifier if it is stale, builds the
knowledge index and creates and seeds the database, so workers never race to do it.

What stays per worker (docs/architecture.md, "Scaling out"): rate limits (each worker counts its own
customers), `POST /admin/knowledge/reload` (reloads the worker that answers; every worker's file watcher
picks up edits anyway), and socket.io long-polling, which needs a sticky load balancer — the widget's
WebSocket channel and socket.io over WebSocket work as they are.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile

from bot.config import Settings


def prepare(settings: Settings) -> None:
    """Everything a worker would otherwise do first: migrate the database (bot/migrations), train, index,
    create the tables, and let the action package set itself up (the reference shop creates and seeds its
    database)."""
    from bot import bootstrap
    from bot.dialogue.handoff import SqlHandoffStore
    from bot.feedback import SqlFeedbackStore
    from bot.migrations import migrate_for_serving

    migrate_for_serving(settings.resolved_database_url)
    bootstrap.load_serving(settings)
    bootstrap.prepare_actions(settings)
    SqlHandoffStore.from_url(settings.resolved_database_url)
    SqlFeedbackStore.from_url(settings.resolved_database_url)


def worker_environment(settings: Settings, environ: dict[str, str], cpus: int) -> dict[str, str]:
    """The variables every worker reads its settings from: the parent's environment plus what the
    command line set, and one encoder thread per core share unless SUPPORTBOT_ENCODER_THREADS says."""
    env = dict(environ)
    env["SUPPORTBOT_HOST"] = settings.host
    env["SUPPORTBOT_PORT"] = str(settings.port)
    env["SUPPORTBOT_KNOWLEDGE_DIR"] = str(settings.knowledge_path)
    env["SUPPORTBOT_PROJECT_DIR"] = str(settings.project_dir)
    env["SUPPORTBOT_WORKERS"] = str(settings.workers)
    env.setdefault("SUPPORTBOT_ENCODER_THREADS", str(max(1, cpus // settings.workers)))
    return env


def serve_workers(settings: Settings) -> None:
    """Prepare once, then run `settings.workers` uvicorn workers on `settings.host:settings.port`."""
    import uvicorn

    context = multiprocessing.get_context("spawn")
    preparation = context.Process(target=prepare, args=(settings,), name="supportbot-prepare")
    preparation.start()
    preparation.join()
    if preparation.exitcode != 0:
        raise SystemExit(f"preparing the bot failed (exit code {preparation.exitcode}); see the log above")
    own_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ  # else the deployer manages theirs
    metrics_dir = tempfile.mkdtemp(prefix="supportbot-metrics-") if own_metrics_dir else ""
    os.environ.update(worker_environment(settings, dict(os.environ), os.cpu_count() or 1))
    if own_metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        uvicorn.run(
            "server.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=max(1, round(settings.shutdown_timeout_seconds)),
        )
    finally:
        if own_metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)

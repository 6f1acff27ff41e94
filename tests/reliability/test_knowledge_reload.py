"""Issue 13, item 1: hot reload with several processes.

Two real processes save one knowledge embedding store at once without an error or a broken file; a
watcher whose reload raises keeps watching, says so in the status and the metrics, retries and recovers.
The knowledge fixtures are tests/faq's; the encoder is the fake.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import time
import traceback
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.config import Settings
from bot.encoding import FakeEncoder, ProgressCallback
from bot.faq.service import KnowledgeService
from bot.faq.store import EmbeddingStore, text_key

from ..faq import conftest as knowledge
from ..faq.conftest import ServiceFactory, write

kb = knowledge.kb
make_service = knowledge.make_service

SAVES_PER_PROCESS = 150


# -- two processes saving one store --------------------------------------------------------------------
def save_many_times(folder: Path, name: str) -> None:
    """A child process: embed a new text and save the store, over and over; exit 1 on any exception."""
    try:
        store = EmbeddingStore(FakeEncoder(), folder)
        for n in range(SAVES_PER_PROCESS):
            store.vectors_for([["a text both processes know", f"{name} text {n}"]])
            store.save()
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        sys.exit(1)
    sys.exit(0)


def check_store_file(file: Path) -> str | None:
    """None when `file` is a complete store (or absent), else what is wrong with it."""
    try:
        with np.load(file, allow_pickle=False) as data:
            keys, vectors = data["keys"], data["vectors"]
    except FileNotFoundError:
        return None
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    if len(keys) != len(vectors) or (len(vectors) and vectors.shape[1] != 64):
        return f"{len(keys)} keys for vectors of shape {vectors.shape}"
    return None


def test_two_processes_saving_one_store_at_once_never_fail_nor_leave_a_broken_file(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    file = EmbeddingStore(FakeEncoder(), folder).file
    assert file is not None
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=save_many_times, args=(folder, name)) for name in ("first", "second")]
    for worker in workers:
        worker.start()
    broken: list[str] = []
    reads = 0
    deadline = time.monotonic() + 120
    while any(w.is_alive() for w in workers) and time.monotonic() < deadline:
        problem = check_store_file(file)
        reads += 1
        if problem is not None:
            broken.append(problem)
    for worker in workers:
        worker.join(timeout=10)
    assert [w.exitcode for w in workers] == [0, 0], "a saving process raised (its traceback is above)"
    assert broken == [], f"{len(broken)} of {reads} reads found a broken store: {broken[:3]}"
    assert check_store_file(file) is None and file.is_file()
    assert sorted(p.name for p in folder.iterdir()) == [file.name], "temporary files were left behind"
    with np.load(file) as data:
        saved = {str(k) for k in data["keys"]}
    fingerprint = FakeEncoder().fingerprint
    texts_of = {
        name: {text_key(fingerprint, f"{name} text {n}") for n in range(SAVES_PER_PROCESS)}
        for name in ("first", "second")
    }
    # the last save wins: it holds the shared text and every text of the process that saved last
    assert text_key(fingerprint, "a text both processes know") in saved
    assert any(texts <= saved for texts in texts_of.values())


# -- a watcher whose reload raises ---------------------------------------------------------------------
class FlakyEncoder(FakeEncoder):
    """The fake encoder, except that the next `failures` calls raise `error`."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0
        self.error: Exception = OSError("disk hiccup")

    def encode(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> np.ndarray:
        if self.failures > 0 and texts:
            self.failures -= 1
            raise self.error
        return super().encode(texts, progress=progress)


async def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.02)
    return condition()


HATS = "## Do you sell hats?\n\nYes, felt hats in winter.\n"
GLOVES = "## Do you sell gloves?\n\nYes, leather gloves.\n"


@pytest.mark.parametrize(
    "error", [FileNotFoundError(2, "No such file or directory"), RuntimeError("the encoder crashed")], ids=repr
)
def test_a_watcher_whose_reload_raises_keeps_watching_reports_and_recovers(
    kb: Path, make_service: ServiceFactory, error: Exception
) -> None:
    encoder = FlakyEncoder()
    service = make_service(kb, encoder)
    old = service.load()
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(service.watch(stop, debounce_ms=50))
        await asyncio.sleep(0.3)
        encoder.error, encoder.failures = error, 2  # the reload and its first retry raise
        write(kb / "hats.md", HATS)
        assert await wait_until(lambda: service.status()["ok"] is False, 5), "the failed reload is not reported"
        seen["failing"] = service.status()
        assert service.snapshot is old and not task.done()  # the last good version answers; still watching
        assert await wait_until(lambda: service.status()["entries"] == 4, 10), "the reload was not retried"
        seen["recovered"] = service.status()
        write(kb / "gloves.md", GLOVES)  # and the watcher still picks up the next edit
        assert await wait_until(lambda: service.status()["entries"] == 5, 5), "the watcher stopped watching"
        assert not task.done()
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    failing, recovered = seen["failing"], seen["recovered"]
    assert failing["entries"] == 3 and failing["last_error_at"] is not None
    (problem,) = failing["last_error"]
    assert problem["message"] == f"the reload failed: {type(error).__name__}: {error}"
    assert "retries" in problem["fix"] and problem["severity"] == "error"
    assert failing["failed_reloads"]["failed"] >= 1
    assert recovered["ok"] is True and recovered["last_error"] == [] and recovered["last_error_at"] is None
    assert recovered["failed_reloads"] == {"failed": 2, "invalid": 0}
    assert recovered["last_reload"] >= failing["last_error_at"]
    assert service.snapshot.entry("hats/do-you-sell-hats") is not None


def test_a_store_that_cannot_be_saved_is_a_warning_and_the_edit_goes_live(
    kb: Path, make_service: ServiceFactory, tmp_path: Path
) -> None:
    service = make_service(kb)
    service.load()
    store_folder = tmp_path / "state" / "knowledge"
    for file in store_folder.iterdir():
        file.unlink()
    store_folder.rmdir()
    store_folder.write_text("a file where the store's folder should be")  # every save fails with an OSError
    write(kb / "hats.md", HATS)
    assert service.reload() is True
    assert service.snapshot.entry("hats/do-you-sell-hats") is not None
    status = service.status()
    assert status["ok"] is True and status["failed_reloads"] == {"failed": 0, "invalid": 0}
    (warning,) = [w for w in status["warnings"] if "could not be saved" in w["message"]]
    assert warning["file"].endswith(".npz") and warning["severity"] == "warning"


# -- the admin status and the metrics ------------------------------------------------------------------
def make_app(service: KnowledgeService, project_dir: Path) -> FastAPI:
    from server.observability import install_observability
    from server.observability import router as metrics_router
    from server.routes.admin_knowledge import router as admin_router

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.load()
        app.state.knowledge = service
        yield

    app = FastAPI(lifespan=lifespan)
    app.state.settings = Settings(project_dir=project_dir, admin_token=None)
    install_observability(app, app.state.settings)
    app.include_router(metrics_router)
    app.include_router(admin_router)
    return app


def metric(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{series} is not in the metrics:\n{text}")


def test_admin_status_and_metrics_report_a_failed_reload_then_ok(kb: Path, make_service: ServiceFactory) -> None:
    encoder = FlakyEncoder()
    service = make_service(kb, encoder)
    with TestClient(make_app(service, kb.parent), client=("127.0.0.1", 50000)) as client:
        metrics = client.get("/metrics").text
        loaded_at = metric(metrics, "supportbot_knowledge_last_reload_timestamp_seconds")
        assert loaded_at == pytest.approx(service.snapshot.loaded_at)
        assert metric(metrics, "supportbot_knowledge_ok") == 1.0

        encoder.failures = 1
        write(kb / "hats.md", HATS)
        failed = client.post("/admin/knowledge/reload")
        assert failed.status_code == 503
        assert failed.json()["ok"] is False and failed.json()["last_error_at"] is not None
        status = client.get("/admin/knowledge/status").json()
        assert status["ok"] is False and status["entries"] == 3
        assert status["last_error"][0]["message"] == "the reload failed: OSError: disk hiccup"
        metrics = client.get("/metrics").text
        assert metric(metrics, 'supportbot_knowledge_reload_failures_total{reason="failed"}') == 1.0
        assert metric(metrics, "supportbot_knowledge_ok") == 0.0
        assert metric(metrics, "supportbot_knowledge_last_reload_timestamp_seconds") == loaded_at

        retried = client.post("/admin/knowledge/reload")
        assert retried.status_code == 200 and retried.json()["ok"] is True and retried.json()["entries"] == 4
        metrics = client.get("/metrics").text
        assert metric(metrics, "supportbot_knowledge_ok") == 1.0
        assert metric(metrics, "supportbot_knowledge_last_reload_timestamp_seconds") > loaded_at
        assert metric(metrics, 'supportbot_knowledge_reload_failures_total{reason="failed"}') == 1.0

"""`create_app(settings)`: the FastAPI application. Routes are thin: parse, call `bot`, shape."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from bot.config import Settings, get_settings
from bot.encoding import MicroBatchingEncoder
from bot.products.service import ProductService
from server.console import install_console
from server.errors import install_error_handlers
from server.limits import install_limits
from server.observability import install_observability, metrics_of
from server.observability import router as metrics_router
from server.push import start_proactive
from server.routes import admin_handoff, admin_knowledge, chat, health, pages, products, rasa_rest, socketio, widget
from server.routes.admin_customers import router as admin_customers_router
from server.routes.admin_learn import router as admin_learn_router
from server.routes.admin_learn import start_retraining
from server.routes.demo_pages import router as demo_pages_router
from server.routes.events import router as events_router
from server.routes.triggers import router as triggers_router
from server.turns import install_turn_limiter

log = logging.getLogger("supportbot.server")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from bot import bootstrap

        metrics = metrics_of(app)
        encoder = MicroBatchingEncoder.for_serving(
            bootstrap.make_encoder(settings), settings, on_batch=metrics.record_encoder_batch if metrics else None
        )
        serving = await run_in_threadpool(lambda: bootstrap.load_serving(settings, encoder=encoder))
        assistant, knowledge = serving.assistant, serving.knowledge
        await run_in_threadpool(assistant.warm_up)
        install_turn_limiter(app, settings.turn_threads)
        app.state.knowledge = knowledge
        app.state.assistant = assistant
        app.state.catalogue = serving.products.catalogue if serving.products else None
        stop = asyncio.Event()
        watcher = asyncio.create_task(knowledge.watch(stop)) if knowledge and settings.watch_knowledge else None
        refresher = (
            asyncio.create_task(_refresh_catalogue(serving.products, settings.catalogue_refresh_seconds, stop))
            if serving.products and settings.catalogue_refresh_seconds > 0
            else None
        )
        retrainer = start_retraining(app, serving, encoder, stop)  # the model swap (docs/learning.md)
        proactive = start_proactive(app, settings, assistant, stop)  # outbox push + reminders (docs/proactive.md)
        broadcast = _start_reload_broadcast(app, settings, stop)  # several nodes (docs/deploy.md, Redis)
        log.info("supportbot ready on http://%s:%s", settings.host, settings.port)
        try:
            yield
        finally:
            # shutdown (server/draining.py has already let the turns in flight answer): stop the
            # background tasks, then the encoder's thread once its queued passes are done
            stop.set()
            tasks = [t for t in (watcher, refresher, retrainer, broadcast, *proactive) if t is not None]
            if tasks:
                await asyncio.wait(tasks, timeout=2)
            app.state.assistant = None
            await run_in_threadpool(encoder.close)

    app = FastAPI(
        title="supportbot",
        summary="Self-hosted customer-support chatbot API",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.assistant = None
    app.state.knowledge = None
    app.state.catalogue = None  # a bot.products.Catalogue for the product pages, set by the lifespan
    install_error_handlers(app)
    # -- middleware (one line each) --
    install_limits(app, settings)
    install_observability(app, settings)
    # -- routers (one line each) --
    app.include_router(widget.router)
    app.include_router(pages.router)
    app.include_router(products.router)
    pages.mount_static(app)
    app.include_router(metrics_router)
    app.include_router(rasa_rest.router)
    socketio.mount_socketio(app, settings)
    app.include_router(health.router)
    app.include_router(chat.router)
    app.include_router(admin_knowledge.router)
    app.include_router(admin_handoff.router)
    app.include_router(admin_customers_router)
    app.include_router(admin_learn_router)
    app.include_router(events_router)
    app.include_router(triggers_router)
    app.include_router(demo_pages_router)
    install_console(app, settings)  # the staff console at /console (docs/console.md)
    return app


def _start_reload_broadcast(app: FastAPI, settings: Settings, stop: asyncio.Event) -> asyncio.Task[None] | None:
    """With `redis_url`: this node tells the others when its knowledge or model changed, and reloads when theirs
    did (bot/coordination/broadcast.py), until `stop`. None on one machine (each process watches its files)."""
    from bot.coordination.wiring import AnnouncingModelBuilder, make_reload_relay

    refresher = getattr(app.state, "model_refresher", None)
    made = make_reload_relay(
        settings,
        knowledge=app.state.knowledge,
        assistant=lambda: app.state.assistant,
        retrain=refresher.request if refresher is not None else None,
    )
    if made is None:
        return None
    broadcast, relay = made
    if refresher is not None:  # a model swapped in here is announced to the other nodes
        refresher.builder = AnnouncingModelBuilder(refresher.builder, relay)
    app.state.reload_relay = relay
    return asyncio.create_task(broadcast.listen(relay.apply, stop))


async def _refresh_catalogue(service: ProductService, every: float, stop: asyncio.Event) -> None:
    """Re-read the catalogue every `every` seconds (a CSV import, stock changes) until `stop`; a failed
    read is logged and the last good catalogue keeps serving."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
            return
        except TimeoutError:
            pass
        try:
            await run_in_threadpool(service.refresh)
        except Exception:
            log.exception("catalogue refresh failed; the last good catalogue keeps serving")

"""`create_app(settings)`: the FastAPI application. Routes are thin: parse, call `bot`, shape."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from bot.config import Settings, get_settings
from server.errors import install_error_handlers
from server.routes import chat, health

log = logging.getLogger("supportbot.server")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from bot import bootstrap

        assistant = await run_in_threadpool(bootstrap.load_assistant, settings)
        await run_in_threadpool(assistant.warm_up)
        app.state.assistant = assistant
        log.info("supportbot ready on http://%s:%s", settings.host, settings.port)
        yield
        app.state.assistant = None

    app = FastAPI(
        title="supportbot",
        summary="Self-hosted customer-support chatbot API",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.assistant = None
    install_error_handlers(app)
    # -- middleware (one line each) --
    # -- routers (one line each) --
    app.include_router(health.router)
    app.include_router(chat.router)
    return app

"""`supportbot serve`: the server's command, registered by bot/cli.py through its plugin list.

Start-up: an error of supportbot's own (`SupportbotError`: a damaged database, a missing model, bad
settings) is logged as its one-line message — what, where and the fix — and the command exits 1, with no
traceback (`OneLineStartupErrors`).

Shutdown (SIGTERM or Ctrl-C), bounded by `shutdown_timeout_seconds` (`GracefulServer`):

1. stop accepting connections;
2. the socket channels take no new message (`not_ready`, "send it again") and their turns in flight
   finish and are answered (`server/draining.py`); socket.io clients are told to disconnect;
3. uvicorn closes the sockets (WebSocket close 1012, "service restart": the widget reconnects) and waits
   for HTTP requests in flight within what is left of the bound, then cancels them;
4. the app's shutdown (the file watcher, the catalogue refresh, the encoder);
5. a turn still blocked in its thread after all that (a hung action) does not keep the process alive:
   it is logged and the process exits (`exit_past_hung_threads`).

`GracefulServer` and `exit_past_hung_threads` live in `server/draining.py`.
"""

from __future__ import annotations

import socket
from typing import Annotated, Any

import typer

from bot.cli import KnowledgeOpt, _settings, console
from bot.config import Settings
from bot.errors import SupportbotError


def serve_command(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    knowledge: KnowledgeOpt = None,
    workers: Annotated[
        int | None, typer.Option(help="Server processes (default 1; one per core for heavy traffic).", min=1)
    ] = None,
) -> None:
    """Serve the HTTP API, channels and the web chat widget."""
    settings = _settings(host=host, port=port, knowledge_dir=knowledge, workers=workers)
    from bot.migrations import migrate_for_serving

    migrate_for_serving(settings.resolved_database_url)  # the schema first (bot/migrations, docs/deploy.md)
    if settings.workers > 1:
        from server.workers import serve_workers

        console.print(
            f"Preparing the bot (training, knowledge index, database), then {settings.workers} workers on "
            f"http://{settings.host}:{settings.port}"
        )
        serve_workers(settings)
        return
    from server.app import create_app

    if not serve_app(create_app(settings), settings):
        raise typer.Exit(1)


serve_command.command_name = "serve"  # type: ignore[attr-defined]


def serve_app(app: Any, settings: Settings, *, sockets: list[socket.socket] | None = None, **options: Any) -> bool:
    """Serve `app` with uvicorn on the settings' host and port (or `sockets`) until SIGTERM or SIGINT, shut
    down gracefully (module docstring); False when it could not start. `options` go to `uvicorn.Config`."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE

    from server.draining import GracefulServer, exit_past_hung_threads

    config = uvicorn.Config(
        OneLineStartupErrors(app),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=max(1, round(settings.shutdown_timeout_seconds)),
        **options,
    )
    server = GracefulServer(config, app, settings.shutdown_timeout_seconds)
    try:
        server.run(sockets=sockets)
    except SystemExit as e:  # uvicorn exits (status 3) when the app or the port fails to start
        if e.code != STARTUP_FAILURE:
            raise
        return False
    exit_past_hung_threads()
    return bool(server.started)


class OneLineStartupErrors:
    """ASGI wrapper: a `SupportbotError` raised while the app starts fails the start-up with its message
    alone (uvicorn logs it as one line), instead of the traceback Starlette would send."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        held: list[Any] = []

        async def holding_send(message: Any) -> None:
            if message["type"] == "lifespan.startup.failed":
                held.append(message)  # sent below, once the exception says what it was
                return
            await send(message)

        try:
            await self.app(scope, receive, holding_send)
        except SupportbotError as e:
            if not held:
                raise
            await send({"type": "lifespan.startup.failed", "message": f"supportbot cannot start: {e}"})
            return
        except BaseException:
            for message in held:
                await send(message)
            raise
        for message in held:
            await send(message)

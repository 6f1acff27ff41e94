"""`supportbot serve`: the server's command, registered by bot/cli.py through its plugin list."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli import KnowledgeOpt, _settings, console


def serve_command(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    knowledge: KnowledgeOpt = None,
    workers: Annotated[
        int | None, typer.Option(help="Server processes (default 1; one per core for heavy traffic).", min=1)
    ] = None,
) -> None:
    """Serve the HTTP API, channels and the web chat widget."""
    import uvicorn

    settings = _settings(host=host, port=port, knowledge_dir=knowledge, workers=workers)
    if settings.workers > 1:
        from server.workers import serve_workers

        console.print(
            f"Preparing the bot (training, knowledge index, database), then {settings.workers} workers on "
            f"http://{settings.host}:{settings.port}"
        )
        serve_workers(settings)
        return
    from server.app import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False)


serve_command.command_name = "serve"  # type: ignore[attr-defined]

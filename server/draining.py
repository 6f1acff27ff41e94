"""Graceful shutdown of the socket channels: the turns in flight, and whether the server is stopping.

HTTP requests in flight are uvicorn's to finish; a WebSocket or socket.io connection is closed at once
when uvicorn shuts down, so the reply of a turn still running would be lost. The widget's socket and
socket.io therefore count their turns here (`Drain.turn`), and `supportbot serve` (`server/cli.py`) first
stops taking new ones and waits — at most `shutdown_timeout_seconds` — for those in flight to answer,
then closes the sockets (`GracefulServer`). A message arriving meanwhile is refused like one sent while the bot starts
(`not_ready` with `Retry-After`): it was not taken, and the widget sends it again once reconnected.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from server.turns import NotReady

log = logging.getLogger("supportbot.server")

STOPPING_RETRY_AFTER_SECONDS = 5


class Drain:
    """Turns in flight on the socket channels of one app (`drain_of(app)`); used on its event loop only."""

    def __init__(self) -> None:
        self.stopping = False
        self._active = 0

    @property
    def active(self) -> int:
        return self._active

    def check_open(self) -> None:
        """Raise NotReady once the server is stopping: the message is not taken."""
        if self.stopping:
            raise NotReady(
                "the server is restarting: your message was not taken; send it again in a moment",
                STOPPING_RETRY_AFTER_SECONDS,
            )

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Count one turn in flight (refused with NotReady once the server is stopping)."""
        self.check_open()
        self._active += 1
        try:
            yield
        finally:
            self._active -= 1

    async def stop(self, seconds: float) -> int:
        """Take no new turns; wait until none is in flight, at most `seconds`. Returns how many still run."""
        self.stopping = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self._active and loop.time() < deadline:
            await asyncio.sleep(0.02)
        return self._active


def drain_of(app: Any) -> Drain:
    """The app's `Drain` (`app.state.drain`), created on first use."""
    drain: Drain | None = getattr(app.state, "drain", None)
    if drain is None:
        drain = Drain()
        app.state.drain = drain
    return drain


class GracefulServer(uvicorn.Server):
    """uvicorn's server, whose shutdown first lets the socket channels' turns in flight answer (module
    docstring); the whole shutdown takes at most `grace` seconds plus the app's own shutdown."""

    def __init__(self, config: Any, app: Any, grace: float) -> None:
        super().__init__(config)
        self.app = app
        self.grace = grace

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        # uvicorn re-raises the signal once shut down, so the process dies of it; a graceful stop exits 0
        self._captured_signals.clear()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        started = time.monotonic()
        for listener in self.servers:
            listener.close()  # no new connections while the turns in flight finish
        left = await drain_of(self.app).stop(self.grace)
        if left:
            log.warning("shutdown: %d turns still running after %.0f s; closing their sockets", left, self.grace)
        sio = getattr(self.app.state, "sio", None)
        if sio is not None and getattr(sio.eio, "sockets", None):  # none connected: nothing to close
            try:
                await sio.eio.disconnect()  # every socket.io client, so no long-poll holds the shutdown
            except Exception:
                log.exception("shutdown: disconnecting the socket.io clients failed")
        remaining = self.grace - (time.monotonic() - started)
        self.config.timeout_graceful_shutdown = max(1, round(remaining))
        await super().shutdown(sockets)


def exit_past_hung_threads(wait: float = 1.0) -> None:
    """After the server stopped: a non-daemon thread still running (a turn blocked in an action or the
    database past the shutdown bound) would keep the process alive; log it and exit at once instead."""
    deadline = time.monotonic() + wait
    for thread in threading.enumerate():
        if thread is threading.current_thread() or thread.daemon:
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
    hung = [t.name for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon]
    if hung and threading.current_thread() is threading.main_thread():
        log.warning("shutdown: %d threads still busy (%s); exiting without them", len(hung), ", ".join(hung))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

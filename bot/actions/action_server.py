"""Serving this package on rasa-sdk's action server (`python -m rasa_sdk --actions bot.actions`): a
SIGTERM at any moment stops it.

rasa-sdk 3.21 serves with Sanic 25's worker manager: a main process that starts one worker process and
waits for it to acknowledge that it is up. A SIGTERM (or Ctrl-C) that arrives during that wait — the
first seconds after start, while the worker imports this package and builds the app — makes the manager
busy-loop for ever, re-reading its own "stop" message (sanic-org/sanic issue 2997; the fix, pull request
3063, is not released): the process ignores SIGTERM and keeps a core busy until SIGKILL. Any actions
module has that window; this package's is longer (about 1.5 to 3 s after start, against 0.8 to 1.3 s for
a one-action module) because its worker imports more. Once the worker is up, SIGTERM stops the server
in under a second, whatever the package did (nothing of it — threads, database, stores — holds the
process).

rasa-sdk imports every module of the actions package in its main process before serving, so this module
is where the package can help: when it is imported there (`rasa_sdk.endpoint` loaded), it makes the
manager stop waiting for the acknowledgement once a shutdown was asked for, so the "stop" message is
handled and the server exits cleanly (status 0). Imported anywhere else (`supportbot serve`'s in-process
actions, tests), it does nothing. Remove it when a Sanic release ships the fix.

A second Sanic race, seen about once in twenty stops of a loaded machine: Sanic's signal handler
terminates the workers through the shared-state proxy while the interrupted main thread may be half-way
through a call on that same connection. The replies interleave: a worker's state reads as None or as a
corrupt pickle (the server exits with status 1 and a traceback), or the stop is lost (it hangs). Here the
handler only ends the monitor loop, and the workers are terminated just after it, outside the handler;
a worker still up seconds later is signalled again, then killed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from typing import Any

_PATCHED = "_supportbot_stops_while_starting"
logger = logging.getLogger(__name__)
WORKER_NUDGE_SECONDS = 3.0
"""A worker still alive this long after the stop signal gets it again (a lost SIGINT)."""
WORKER_STOP_SECONDS = 7.0
"""A worker still alive this long after the stop signal is killed (deployments wait about 10 s)."""


def stop_while_starting() -> bool:
    """Let Sanic's worker manager stop while its workers start (see the module docstring). True when the
    fix is in place (now or before); False when this Sanic has no such manager (nothing to fix)."""
    try:
        from sanic.worker.manager import WorkerManager
    except ImportError:
        return False
    manager: Any = WorkerManager
    if getattr(manager, _PATCHED, False):
        return True
    all_acked = getattr(manager, "_all_workers_ack", None)
    if all_acked is None:
        return False

    def acked_or_stopping(self: Any) -> bool:
        # `shutdown_signal` sets `_shutting_down` and queues the stop message: end the wait, so `monitor`
        # reads that message and the manager joins its (terminated) workers and exits
        return bool(getattr(self, "_shutting_down", False)) or bool(all_acked(self))

    manager._all_workers_ack = acked_or_stopping
    sync_states = getattr(manager, "_sync_states", None)
    if sync_states is not None:

        def sync_unless_stopping(self: Any) -> None:
            # while stopping, a worker's entry in the shared state can already be None: Sanic's
            # `_sync_states` then raises AttributeError and the server exits with status 1
            try:
                sync_states(self)
            except AttributeError:
                if not getattr(self, "_shutting_down", False):
                    raise

        manager._sync_states = sync_unless_stopping
    shutdown = getattr(manager, "shutdown", None)
    if shutdown is not None:

        def shutdown_every_worker(self: Any) -> None:
            # the same missing entry makes a worker's `set_state` fail inside `shutdown`, before that worker
            # was signalled: it then serves on while the manager waits for it to exit
            try:
                shutdown(self)
            except (AttributeError, KeyError, TypeError):
                self._shutting_down = True
                for process in self.processes:
                    if process.is_alive():
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(process.pid, signal.SIGINT)
                logger.warning("Sanic's worker state was gone at shutdown: its workers were signalled directly")

        manager.shutdown = shutdown_every_worker
    handler, monitor = getattr(manager, "shutdown_signal", None), getattr(manager, "monitor", None)
    if handler is not None and monitor is not None and shutdown is not None:

        def stop_later(self: Any, signum: int, frame: Any) -> None:
            # Sanic's handler terminates the workers at once, through the shared-state proxy, while the
            # interrupted main thread may be half-way through a call on that same connection: the replies
            # interleave (None, a corrupt pickle, a lost stop). Here the handler only asks the monitor loop
            # to end; the workers are terminated right after it, outside the handler.
            if getattr(self, "_shutting_down", False):
                handler(self, signum, frame)  # a second signal: Sanic kills the workers
                return
            self._shutting_down = True
            self._supportbot_stop_pending = True
            self.monitor_publisher.send(None)

        def monitor_then_stop(self: Any) -> None:
            try:
                monitor(self)
            finally:
                if getattr(self, "_supportbot_stop_pending", False):
                    self._supportbot_stop_pending = False
                    self.shutdown()

        manager.shutdown_signal = stop_later
        manager.monitor = monitor_then_stop
    cleanup = getattr(manager, "cleanup", None)
    if cleanup is not None:

        def cleanup_after_stragglers(self: Any) -> None:
            # a worker that is still serving after the stop signal (a lost SIGINT, about once in forty
            # stops on a loaded machine) is signalled again, then killed, before Sanic's cleanup would
            # wait for it for ever
            started = time.monotonic()
            for process in list(self.processes):
                nudged = False
                while process.is_alive() and time.monotonic() - started < WORKER_STOP_SECONDS:
                    if not nudged and time.monotonic() - started > WORKER_NUDGE_SECONDS:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(process.pid, signal.SIGINT)
                        nudged = True
                    time.sleep(0.05)
                if process.is_alive():
                    logger.warning("worker %s did not stop in %.0f s: killed", process.pid, WORKER_STOP_SECONDS)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(process.pid, signal.SIGKILL)
                    process.join()
            cleanup(self)
            # the entry of a worker that is gone but was not marked so keeps Sanic's last loop waiting 10 s
            for process in list(self.processes):
                if not process.is_alive():
                    with contextlib.suppress(KeyError, BrokenPipeError, ConnectionError, EOFError):
                        self.worker_state.pop(process.name, None)

        manager.cleanup = cleanup_after_stragglers
    setattr(manager, _PATCHED, True)
    return True


def serving_actions() -> bool:
    """Is this process rasa-sdk's action server (`python -m rasa_sdk`, `rasa run actions`)?"""
    return "rasa_sdk.endpoint" in sys.modules


# The one thing done at import, and only inside rasa-sdk's action server: importing the package is the
# only hook rasa-sdk gives it before it starts serving.
if serving_actions():
    stop_while_starting()

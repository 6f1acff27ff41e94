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

A second Sanic race, seen about once in twenty stops of a loaded machine: while the manager stops, a
worker's entry in the shared state is already None and `_sync_states` raises AttributeError, so a clean
stop exits with status 1 and an "Experienced exception while trying to serve" traceback. While stopping,
that error is ignored.
"""

from __future__ import annotations

import sys
from typing import Any

_PATCHED = "_supportbot_stops_while_starting"


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
    setattr(manager, _PATCHED, True)
    return True


def serving_actions() -> bool:
    """Is this process rasa-sdk's action server (`python -m rasa_sdk`, `rasa run actions`)?"""
    return "rasa_sdk.endpoint" in sys.modules


# The one thing done at import, and only inside rasa-sdk's action server: importing the package is the
# only hook rasa-sdk gives it before it starts serving.
if serving_actions():
    stop_while_starting()

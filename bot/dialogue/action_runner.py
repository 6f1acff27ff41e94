"""Action runners: execute rasa-sdk actions in-process (default) or on a Rasa action server.

Both speak Rasa's action-server protocol: the call body is `{"next_action", "sender_id", "tracker",
"domain", "version"}` and the result `{"events": [...], "responses": [...]}`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from bot.errors import ActionError

log = logging.getLogger(__name__)
RASA_VERSION = "3.6.20"


@dataclass(frozen=True)
class ActionResult:
    events: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)


class ActionRejected(ActionError):
    """The action refused to run (HTTP 400 / ActionExecutionRejection); another policy should act."""


class ActionRunner(Protocol):
    def actions(self) -> set[str]: ...

    def run(self, name: str, sender_id: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionResult: ...


def action_call(name: str, sender_id: str, tracker: dict[str, Any], domain: dict[str, Any]) -> dict[str, Any]:
    return {"next_action": name, "sender_id": sender_id, "tracker": tracker, "domain": domain, "version": RASA_VERSION}


class InProcessActionRunner:
    """Runs the actions of `package` (the `action_package` setting) through rasa-sdk's own `ActionExecutor`,
    exactly as its server would."""

    def __init__(self, package: str) -> None:
        self.package = package
        self._executor: Any = None
        self._lock = threading.Lock()
        self._loops = threading.local()

    def _get_executor(self) -> Any:
        with self._lock:
            if self._executor is None:
                from rasa_sdk.executor import ActionExecutor

                executor = ActionExecutor()
                executor.register_package(self.package)
                self._executor = executor
            return self._executor

    def actions(self) -> set[str]:
        return set(self._get_executor().actions)

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop: asyncio.AbstractEventLoop | None = getattr(self._loops, "loop", None)
        if loop is None or loop.is_closed():
            loop = asyncio.new_event_loop()
            self._loops.loop = loop
        return loop

    def _run_coroutine(self, coroutine: Any) -> Any:
        """Run an action's coroutine to completion from synchronous code. The server calls us from
        worker threads (no loop there); if this thread already runs a loop (an async caller, or a test
        driving a browser), the call runs on a short-lived thread with a loop of its own."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._loop().run_until_complete(coroutine)
        result: list[Any] = []
        errors: list[BaseException] = []

        def target() -> None:
            loop = asyncio.new_event_loop()
            try:
                result.append(loop.run_until_complete(coroutine))
            except BaseException as e:  # re-raised in the caller's thread
                errors.append(e)
            finally:
                loop.close()

        thread = threading.Thread(target=target, name="supportbot-action")
        thread.start()
        thread.join()
        if errors:
            raise errors[0]
        return result[0]

    def run(self, name: str, sender_id: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionResult:
        from rasa_sdk.interfaces import ActionExecutionRejection

        executor = self._get_executor()
        try:
            result = self._run_coroutine(executor.run(action_call(name, sender_id, tracker, domain)))
        except ActionExecutionRejection as e:
            raise ActionRejected(f"action '{name}' rejected the call: {e}") from e
        except Exception as e:  # an action may raise anything; the conversation must survive
            log.exception("action %s failed", name)
            raise ActionError(f"action '{name}' failed: {type(e).__name__}: {e}") from e
        if result is None:
            return ActionResult()
        dumped = result.model_dump()
        return ActionResult(list(dumped["events"]), list(dumped["responses"]))


class RemoteActionRunner:
    """Calls any Rasa action server (`python -m rasa_sdk --actions bot.actions`, or a Rasa project's)."""

    def __init__(self, url: str, *, timeout: float = 5.0, client: httpx.Client | None = None) -> None:
        self.url = url
        self.timeout = timeout
        self._client = client or httpx.Client(timeout=timeout)
        self._actions: set[str] | None = None

    def actions(self) -> set[str]:
        if self._actions is None:
            base = self.url.rsplit("/webhook", 1)[0]
            try:
                response = self._client.get(f"{base}/actions")
                response.raise_for_status()
                self._actions = {item["name"] for item in response.json()}
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as e:
                raise ActionError(f"the action server at {self.url} did not list its actions: {e}") from e
        return self._actions

    def run(self, name: str, sender_id: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionResult:
        try:
            response = self._client.post(self.url, json=action_call(name, sender_id, tracker, domain))
        except httpx.TimeoutException as e:
            raise ActionError(f"the action server at {self.url} timed out running '{name}'") from e
        except httpx.HTTPError as e:
            raise ActionError(f"the action server at {self.url} failed running '{name}': {e}") from e
        if response.status_code == 400:
            raise ActionRejected(f"action '{name}' rejected the call: {response.text[:200]}")
        if response.status_code != 200:
            raise ActionError(
                f"the action server answered {response.status_code} running '{name}': {response.text[:200]}"
            )
        body = response.json() or {}
        return ActionResult(list(body.get("events") or []), list(body.get("responses") or []))

    def close(self) -> None:
        self._client.close()

"""Action runners: execute rasa-sdk actions in-process (default) or on a Rasa action server.

Both speak Rasa's action-server protocol: the call body is `{"next_action", "sender_id", "tracker",
"domain", "version"}` and the result `{"events": [...], "responses": [...]}`.

A remote action server can be slow or dead, so `RemoteActionRunner` guards every call (docs/operations.md):

- a time budget: connecting within `connect_timeout`, the whole call (waiting for a slot included) within
  `timeout`; past it the caller gets `ActionTimeout` while the abandoned request ends on its own;
- a bulkhead: `concurrency` calls at once, as many more waiting; any further call fails fast
  (`ActionUnavailable`), so callers blocked on actions stay few and other turns keep their threads;
- a `CircuitBreaker`: after `failures` consecutive failures, calls fail fast (`ActionUnavailable`) for
  `cooldown` seconds, then one call probes the server and closes the breaker when it succeeds.

Listeners (`add_listener`) hear what became of every call (`ActionCall`): the server's metrics.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import httpx

from bot.errors import ActionError

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)
RASA_VERSION = "3.6.20"
T = TypeVar("T")

BreakerState = Literal["closed", "open", "half_open"]
CallOutcome = Literal["ok", "rejected", "timeout", "error", "open", "busy"]
"""ok; rejected (the action refused, Rasa's 400); timeout; error (refused connection, 5xx, bad answer);
open (not called: the breaker is open); busy (not called: too many calls running and waiting)."""


@dataclass(frozen=True)
class ActionResult:
    events: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)


class ActionRejected(ActionError):
    """The action refused to run (HTTP 400 / ActionExecutionRejection); another policy should act."""


class ActionTimeout(ActionError):
    """The action server did not answer within the call's time budget."""


class ActionUnavailable(ActionError):
    """The action server was not called: its circuit breaker is open, or too many calls are waiting."""


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


# -- guarding a remote server ---------------------------------------------------------------------------
@dataclass(frozen=True)
class BreakerStatus:
    state: BreakerState
    consecutive_failures: int
    retry_in_seconds: float | None
    """open: seconds until a call may probe the server again; None otherwise"""


class CircuitBreaker:
    """Closed: calls go through, and `failures` consecutive failures open it. Open: calls are refused for
    `cooldown` seconds. Half-open: one call goes through as a probe while the others are still refused;
    its success closes the breaker, its failure opens it for another cool-down. Thread-safe."""

    def __init__(self, failures: int = 5, cooldown: float = 30.0, *, clock: Callable[[], float] = time.monotonic):
        if failures < 1:
            raise ValueError(f"the breaker's failures must be at least 1. Currently, failures is {failures}")
        if cooldown <= 0:
            raise ValueError(f"the breaker's cooldown must be greater than 0. Currently, cooldown is {cooldown}")
        self.failures = failures
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._state: BreakerState = "closed"
        self._consecutive = 0
        self._opened_at = 0.0
        self._probing = False

    def acquire(self) -> bool:
        """May a call go out now? True for a half-open probe too: report its outcome with `record`."""
        with self._lock:
            if self._state == "open":
                if self._clock() - self._opened_at < self.cooldown:
                    return False
                self._state, self._probing = "half_open", False
            if self._state == "half_open":
                if self._probing:
                    return False
                self._probing = True
            return True

    def abandon(self) -> None:
        """An acquired call did not go out after all (no slot): another call may probe."""
        with self._lock:
            self._probing = False

    def record(self, ok: bool) -> None:
        with self._lock:
            self._probing = False
            if ok:
                self._state, self._consecutive = "closed", 0
                return
            self._consecutive += 1
            if self._state == "half_open" or (self._state == "closed" and self._consecutive >= self.failures):
                self._state, self._opened_at = "open", self._clock()

    def status(self) -> BreakerStatus:
        """The state as a caller would find it now (an open breaker whose cool-down is over is half-open)."""
        with self._lock:
            if self._state != "open":
                return BreakerStatus(self._state, self._consecutive, None)
            left = self.cooldown - (self._clock() - self._opened_at)
            if left <= 0:
                return BreakerStatus("half_open", self._consecutive, None)
            return BreakerStatus("open", self._consecutive, round(left, 1))


class Bulkhead:
    """At most `limit` callers inside at once; a caller finding it full is refused at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._inside = 0
        self._lock = threading.Lock()

    def enter(self) -> bool:
        with self._lock:
            if self._inside >= self.limit:
                return False
            self._inside += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._inside -= 1

    @property
    def inside(self) -> int:
        return self._inside


@dataclass(frozen=True)
class ActionCall:
    """What became of one call to the action server (what `RemoteActionRunner` listeners hear)."""

    action: str
    outcome: CallOutcome
    seconds: float
    breaker: BreakerState


ActionListener = Callable[[ActionCall], None]
ACTIONS_LISTING = "(list of actions)"


class RemoteActionRunner:
    """Calls any Rasa action server (`python -m rasa_sdk --actions bot.actions`, or a Rasa project's),
    guarded by a time budget, a bulkhead and a circuit breaker (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        connect_timeout: float = 1.0,
        concurrency: int = 4,
        breaker: CircuitBreaker | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        if timeout <= 0 or connect_timeout <= 0 or concurrency < 1:
            raise ValueError(
                f"the action server's timeout and connect_timeout must be greater than 0 and its concurrency at "
                f"least 1. Currently, timeout={timeout}, connect_timeout={connect_timeout}, concurrency={concurrency}"
            )
        self.url = url
        self.timeout = timeout
        self.connect_timeout = min(connect_timeout, timeout)
        self.concurrency = concurrency
        self.breaker = breaker or CircuitBreaker()
        self._client = client or httpx.Client(timeout=httpx.Timeout(timeout, connect=self.connect_timeout))
        self._bulkhead = Bulkhead(2 * concurrency)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._listeners: list[ActionListener] = []
        self._actions: set[str] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> RemoteActionRunner:
        """The runner for `settings.action_endpoint` with the `action_*` settings (docs/configuration.md)."""
        if not settings.action_endpoint:
            raise ValueError("action_endpoint is not set: set SUPPORTBOT_ACTION_ENDPOINT to the action server's URL")
        return cls(
            settings.action_endpoint,
            timeout=settings.action_timeout_seconds,
            connect_timeout=settings.action_connect_timeout_seconds,
            concurrency=settings.action_concurrency,
            breaker=CircuitBreaker(settings.action_breaker_failures, settings.action_breaker_cooldown_seconds),
        )

    @property
    def max_callers(self) -> int:
        """Callers that can be blocked on this runner at once (running and waiting calls); the rest fail fast."""
        return self._bulkhead.limit

    def add_listener(self, listener: ActionListener) -> None:
        self._listeners.append(listener)

    def status(self) -> BreakerStatus:
        return self.breaker.status()

    def actions(self) -> set[str]:
        if self._actions is None:
            base = self.url.rsplit("/webhook", 1)[0]

            def listing() -> set[str]:
                response = self._client.get(f"{base}/actions")
                response.raise_for_status()
                try:
                    return {item["name"] for item in response.json()}
                except (ValueError, KeyError, TypeError) as e:
                    raise ActionError(f"the action server at {self.url} listed its actions unreadably: {e}") from e

            self._actions = self._guarded(ACTIONS_LISTING, listing)
        return self._actions

    def run(self, name: str, sender_id: str, tracker: dict[str, Any], domain: dict[str, Any]) -> ActionResult:
        body = action_call(name, sender_id, tracker, domain)
        return self._guarded(name, lambda: self._post(name, body))

    def _post(self, name: str, body: dict[str, Any]) -> ActionResult:
        response = self._client.post(self.url, json=body)
        if response.status_code == 400:
            raise ActionRejected(f"action '{name}' rejected the call: {response.text[:200]}")
        if response.status_code != 200:
            raise ActionError(
                f"the action server answered {response.status_code} running '{name}': {response.text[:200]}"
            )
        try:
            answer = response.json() or {}
            return ActionResult(list(answer.get("events") or []), list(answer.get("responses") or []))
        except (ValueError, AttributeError, TypeError) as e:
            raise ActionError(f"the action server's answer to '{name}' is not Rasa's JSON: {e}") from e

    def _guarded(self, name: str, call: Callable[[], T]) -> T:
        """`call()` on the runner's own threads within the budget, through the breaker and the bulkhead."""
        if not self.breaker.acquire():
            retry_in = self.breaker.status().retry_in_seconds
            self._tell(name, "open", 0.0)
            raise ActionUnavailable(
                f"the action server at {self.url} is failing (circuit breaker open, next try in "
                f"{retry_in or 0:.0f} s); '{name}' was not called"
            )
        if not self._bulkhead.enter():
            self.breaker.abandon()
            self._tell(name, "busy", 0.0)
            raise ActionUnavailable(
                f"{self.max_callers} calls to the action server at {self.url} are already running or waiting "
                f"(action_concurrency={self.concurrency}); '{name}' was not called"
            )
        started = time.monotonic()
        future = self._submit(call)
        try:
            result = future.result(timeout=self.timeout)
        except FutureTimeout:
            future.cancel()  # still waiting for a slot: never sent; already sent: httpx's timeouts end it
            self._finish(name, "timeout", started)
            raise ActionTimeout(
                f"the action server at {self.url} did not answer '{name}' within {self.timeout:g} s "
                "(action_timeout_seconds)"
            ) from None
        except ActionRejected:
            self._finish(name, "rejected", started)
            raise
        except httpx.TimeoutException as e:
            self._finish(name, "timeout", started)
            raise ActionTimeout(f"the action server at {self.url} timed out running '{name}': {e!r}") from e
        except (httpx.HTTPError, ActionError) as e:
            self._finish(name, "error", started)
            if isinstance(e, ActionError):
                raise
            raise ActionError(f"the action server at {self.url} failed running '{name}': {e!r}") from e
        self._finish(name, "ok", started)
        return result

    def _submit(self, call: Callable[[], T]) -> Future[T]:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="supportbot-remote-action")
            future = self._pool.submit(call)
        future.add_done_callback(lambda _: self._bulkhead.leave())
        return future

    def _finish(self, name: str, outcome: CallOutcome, started: float) -> None:
        self.breaker.record(outcome in ("ok", "rejected"))
        self._tell(name, outcome, time.monotonic() - started)

    def _tell(self, name: str, outcome: CallOutcome, seconds: float) -> None:
        if outcome not in ("ok", "rejected"):
            log.warning("action server call %s: %s after %.2f s", name, outcome, seconds)
        call = ActionCall(name, outcome, seconds, self.breaker.status().state)
        for listener in self._listeners:
            try:
                listener(call)
            except Exception:  # a listener (metrics) must never fail a turn
                log.exception("an action-call listener failed")

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
        self._client.close()

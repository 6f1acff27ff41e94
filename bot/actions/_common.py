"""Shared pieces of the task handlers: injection of backend/clock/stores, wording, entities, dates.

Every handler is constructed with NO arguments by the rasa-sdk executor; the backend, handoff tickets,
clock and stores file then come from lazy factories (`get_backend()`, `get_handoff_store()`, the system
clock, `get_stores()`). Tests pass `backend=`, `handoffs=`, `clock=` and `stores_path=` instead. Nothing
is built at import time.

Customer wording lives in the domain YAML (`intents/domain/tasks.yml`): responses, plus the
`button_titles` map: button titles, and under `button_titles.formats` the weekday and month names,
list joining and line templates the handlers assemble. Handlers read it from the domain the engine
sends; when a server does not send that extra key (a plain Rasa server), it is read from the domain
file on disk.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.backend.protocol import ShopBackend
from bot.actions.stores import Stores, get_stores
from bot.dialogue.handoff import HandoffStore
from bot.errors import ActionError

Clock = Callable[[], datetime]
DomainDict = dict[str, Any]
Events = list[dict[str, Any]]

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def utc_now() -> datetime:
    return datetime.now(UTC)


class Deps:
    """Backend, handoff tickets, clock and stores of one handler: injected, or lazily built on first use."""

    def __init__(
        self,
        backend: ShopBackend | None = None,
        clock: Clock | None = None,
        stores_path: Path | None = None,
        handoffs: HandoffStore | None = None,
    ) -> None:
        self._backend = backend
        self._handoffs = handoffs
        self.clock: Clock = clock or utc_now
        self.stores_path = stores_path

    @property
    def backend(self) -> ShopBackend:
        if self._backend is None:
            from bot.actions.backend import get_backend

            self._backend = get_backend()
        return self._backend

    @property
    def handoffs(self) -> HandoffStore:
        if self._handoffs is None:
            from bot.dialogue.handoff import get_handoff_store

            self._handoffs = get_handoff_store()
        return self._handoffs

    @property
    def stores(self) -> Stores:
        return get_stores(self.stores_path)

    def now(self) -> datetime:
        moment = self.clock()
        if moment.tzinfo is None:
            raise ActionError("the clock returned a naive datetime; return datetime.now(UTC) or another aware one")
        return moment

    def today(self) -> date:
        return self.now().astimezone(self.stores.timezone_default).date()


class Injected:
    """`self.deps` of a handler: `ActionX()` for the executor, `ActionX(backend=..., clock=...)` in tests
    (the keywords of `Deps`)."""

    def __init__(self, **deps: Any) -> None:
        self.deps = Deps(**deps)


class ShopAction(Injected, Action, ABC):  # type: ignore[misc]
    """Base of the task handlers."""

    @abstractmethod
    def name(self) -> str: ...


class ShopFormValidation(Injected, FormValidationAction, ABC):  # type: ignore[misc]
    """Base of the form validators, with the same injection as `ShopAction`."""

    @abstractmethod
    def name(self) -> str: ...


# Wording ------------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _titles_from_file(path: Path) -> Mapping[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ActionError(f"{path}: cannot read `button_titles` ({e}) — restore intents/domain/tasks.yml") from e
    titles = data.get("button_titles") if isinstance(data, dict) else None
    if not isinstance(titles, dict) or not isinstance(titles.get("formats"), dict):
        raise ActionError(f"{path}: `button_titles.formats` is missing — restore it from the repository")
    return titles


class Wording:
    """Language pieces from the domain's `button_titles` (and its `formats`: days, months, joins, lines)."""

    def __init__(self, domain: Mapping[str, Any] | None) -> None:
        # rasa-sdk hands actions `None` when a request's domain is empty and none was cached before
        titles = domain.get("button_titles") if domain else None
        if not isinstance(titles, Mapping) or not isinstance(titles.get("formats"), Mapping):
            from bot.config import get_settings

            titles = _titles_from_file(get_settings().intents_path / "domain" / "tasks.yml")
        self.button_titles: Mapping[str, Any] = titles
        self.formats: Mapping[str, Any] = titles["formats"]

    def get(self, key: str) -> Any:
        try:
            return self.formats[key]
        except KeyError as e:
            raise ActionError(
                f"button_titles.formats.{key} is missing from the domain — add it to intents/domain/tasks.yml"
            ) from e

    def fill(self, key: str, **values: Any) -> str:
        template = str(self.get(key))
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError) as e:
            raise ActionError(
                f"button_titles.formats.{key} = {template!r} uses an unknown placeholder ({e}); "
                f"available: {', '.join(sorted(values))}"
            ) from e

    def title(self, key: str, **values: Any) -> str:
        template = self.button_titles.get(key)
        if template is None:
            raise ActionError(f"button_titles.{key} is missing — add it to intents/domain/tasks.yml")
        return str(template).format(**values)

    def weekday(self, index: int) -> str:
        return str(self.get("weekdays")[index])

    def weekday_plural(self, index: int) -> str:
        return str(self.get("weekdays_plural")[index])

    def time(self, moment: time | datetime) -> str:
        return self.fill("time", hour=moment.hour, minute=moment.minute)

    def date(self, day: date) -> str:
        return self.fill(
            "date",
            weekday=self.weekday(day.weekday()),
            day=day.day,
            month=self.get("months")[day.month - 1],
            year=day.year,
        )

    def join(self, parts: Sequence[str]) -> str:
        parts = list(parts)
        if len(parts) <= 1:
            return "".join(parts)
        return str(self.get("list_separator")).join(parts[:-1]) + str(self.get("list_last_separator")) + parts[-1]

    def lines(self, lines: Iterable[str]) -> str:
        return "\n".join(lines)


# Tracker helpers ----------------------------------------------------------------------------------
def latest_entities(tracker: Tracker, name: str) -> list[dict[str, Any]]:
    entities = (tracker.latest_message or {}).get("entities") or []
    return [e for e in entities if isinstance(e, dict) and e.get("entity") == name]


def latest_entity(tracker: Tracker, name: str) -> Any:
    found = latest_entities(tracker, name)
    return found[0].get("value") if found else None


_PAYLOAD = re.compile(r"^\s*/[A-Za-z_][\w-]*(\{.*\})?\s*$", re.DOTALL)


def latest_text(tracker: Tracker) -> str:
    """What the customer typed; empty for a button payload such as `/inform{"time": "..."}` (its
    values arrive as entities, and its characters must never be read as a day or a time)."""
    text = str((tracker.latest_message or {}).get("text") or "")
    return "" if _PAYLOAD.match(text) else text


def latest_intent(tracker: Tracker) -> str | None:
    intent = (tracker.latest_message or {}).get("intent") or {}
    name = intent.get("name") if isinstance(intent, dict) else None
    return str(name) if name else None


def value_before_message(tracker: Tracker, slot: str) -> Any:
    """The slot's value before the latest message (the tracker's slots already hold this turn's candidates)."""
    events = list(tracker.events)
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    value = None
    for item in events[:last_user]:
        if item.get("event") == "slot" and item.get("name") == slot:
            value = item.get("value")
    return value


def entity_text(tracker: Tracker, entity: Mapping[str, Any]) -> str:
    """The span of the message an entity was read from (empty when unknown)."""
    start, end = entity.get("start"), entity.get("end")
    if isinstance(start, int) and isinstance(end, int):
        return latest_text(tracker)[start:end]
    return ""


def find_email(value: Any, tracker: Tracker) -> str | None:
    """The email of this turn: the `email` entity, else one found in the slot value's text."""
    entity = latest_entity(tracker, "email")
    if isinstance(entity, str) and _EMAIL.fullmatch(entity.strip()):
        return entity.strip().lower()
    match = _EMAIL.search(str(value or ""))
    return match.group(0).lower() if match else None


def validate_email(slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
    """`{slot: the email of this turn}`, or `{slot: None}` after telling the customer it is not an email."""
    email = find_email(value, tracker)
    if email is None:
        utter(dispatcher, "utter_invalid_email", given=str(value or latest_text(tracker)))
    return {slot: email}


def find_order_number(value: Any, tracker: Tracker, pattern: str, number_format: str) -> str | None:
    """The order number of this turn, normalised (`AN-12345`), from the entity or the text."""
    candidates = [latest_entity(tracker, "order_number"), value]
    for candidate in candidates:
        if not isinstance(candidate, str):
            continue
        match = re.search(pattern, candidate)
        if match:
            digits = re.sub(r"\D", "", match.group(0))
            return number_format.format(digits=digits)
    return None


def reset_slots(*names: str) -> Events:
    return [{"event": "slot", "timestamp": None, "name": n, "value": None} for n in names]


RESERVED_VALUES = frozenset(
    {"text", "image", "json_message", "template", "response", "attachment", "buttons", "elements"}
)
"""`utter_message` parameters: a placeholder with one of these names would not reach the response."""


def _check_values(response: str, values: Mapping[str, Any]) -> None:
    clash = RESERVED_VALUES & set(values)
    if clash:
        raise ActionError(
            f"{response}: placeholder(s) {sorted(clash)} clash with utter_message parameters — rename them "
            "in the handler and in intents/domain/tasks.yml (e.g. {given} instead of {text})"
        )


def utter(dispatcher: CollectingDispatcher, response: str, **values: Any) -> None:
    _check_values(response, values)
    dispatcher.utter_message(response=response, **values)


def utter_buttons(
    dispatcher: CollectingDispatcher, response: str, buttons: Sequence[tuple[str, str]], **values: Any
) -> None:
    _check_values(response, values)
    dispatcher.utter_message(response=response, buttons=[{"title": t, "payload": p} for t, p in buttons], **values)


def money(cents: int, currency: str) -> str:
    return f"{cents / 100:.2f} {currency}"

"""Page triggers: when the widget opens by itself with a message (`knowledge/triggers.yml`).

    triggers:
      - id: returns-help                     # unique; letters, digits, - and _
        page: "/demo/returns"                # a regular expression searched in the page's path
        after_seconds: 8                     # seconds on the page first (default 0)
        returning_visitor: true              # only for (true) / never for (false) a returning visitor
        values:                              # values the shop's page passes (`data-page-values`)
          payment: failed                    #   equal to this
          basket_total: {at_least: 100}      #   or {at_least, at_most, present: true}
        message: "Need help with your return, {customer_name}?"   # {value} fills in a page value
        quick_replies:
          - {title: Start a return, payload: /start_return}
        once_per_visit: true                 # default true
        max_per_day: 1                       # default 1
        dismiss_days: 1                      # a dismissed trigger stays quiet this many days (default 1)

`load_triggers(path)` validates everything with file:line (an unknown key, a bad pattern, a missing
message, a placeholder of a value the trigger does not require…) and returns the problems instead of
raising. `TriggerFile` re-reads the file when it changes (its size or modification time) and keeps the
last good triggers serving while the file has errors. The widget evaluates the triggers
(server/static/widget.js): never while the customer is typing, and never once the chat is open.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import string
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import Problem
from bot.yamlfile import LineDict, LineList, read_yaml_file

log = logging.getLogger("supportbot.proactive")

TRIGGER_KEYS = (
    "id",
    "page",
    "after_seconds",
    "returning_visitor",
    "values",
    "message",
    "quick_replies",
    "once_per_visit",
    "max_per_day",
    "dismiss_days",
)
CONDITION_KEYS = ("equals", "at_least", "at_most", "present")
MAX_MESSAGE_CHARS = 500
MAX_QUICK_REPLIES = 4
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_VALUE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True)
class Trigger:
    id: str
    page: str
    message: str
    after_seconds: float = 0.0
    returning_visitor: bool | None = None
    values: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    quick_replies: tuple[tuple[str, str], ...] = ()
    once_per_visit: bool = True
    max_per_day: int = 1
    dismiss_days: float = 1.0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "page": self.page,
            "after_seconds": self.after_seconds,
            "returning_visitor": self.returning_visitor,
            "values": {k: dict(v) for k, v in self.values.items()},
            "message": self.message,
            "quick_replies": [{"title": t, "payload": p} for t, p in self.quick_replies],
            "once_per_visit": self.once_per_visit,
            "max_per_day": self.max_per_day,
            "dismiss_days": self.dismiss_days,
        }


class _Checker:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, line: int | None, message: str, fix: str) -> None:
        self.problems.append(Problem(self.file, line, message, fix))


def _line(item: Any, key: str | None = None) -> int | None:
    if isinstance(item, LineDict):
        if key is not None and key in item.key_lines:
            return item.key_lines[key]
        return item.line
    return getattr(item, "line", None)


def parse_triggers(data: Any, file: str) -> tuple[list[Trigger], list[Problem]]:
    check = _Checker(file)
    if data is None:
        return [], []
    if not isinstance(data, dict) or "triggers" not in data:
        check.add(
            _line(data), "the file must hold a `triggers:` list", "start the file with `triggers:` (docs/proactive.md)"
        )
        return [], check.problems
    for key in data:
        if key not in ("triggers", "version"):
            check.add(_line(data, key), f"unknown key '{key}'", "the file holds `triggers:` (and `version:`) only")
    items = data["triggers"] or []
    if not isinstance(items, list):
        check.add(_line(data, "triggers"), "`triggers:` must be a list", "write each trigger as `- id: …`")
        return [], check.problems
    triggers: list[Trigger] = []
    seen: dict[str, int | None] = {}
    for index, item in enumerate(items):
        line = (
            item.line
            if isinstance(item, LineDict)
            else (items.item_lines[index] if isinstance(items, LineList) else None)
        )
        trigger = _trigger(item, line, check)
        if trigger is None:
            continue
        if trigger.id in seen:
            check.add(
                line,
                f"trigger id '{trigger.id}' is used twice (first on line {seen[trigger.id]})",
                "give each trigger its own id",
            )
            continue
        seen[trigger.id] = line
        triggers.append(trigger)
    return (triggers if not check.problems else []), check.problems


def _trigger(item: Any, line: int | None, check: _Checker) -> Trigger | None:
    if not isinstance(item, dict):
        check.add(line, "a trigger must be a mapping (`- id: …`)", "see docs/proactive.md for the keys")
        return None
    before = len(check.problems)
    for key in item:
        if key not in TRIGGER_KEYS:
            check.add(_line(item, key), f"unknown key '{key}'", f"use one of: {', '.join(TRIGGER_KEYS)}")
    trigger_id = item.get("id")
    if not isinstance(trigger_id, str) or not _ID.fullmatch(trigger_id):
        check.add(
            _line(item, "id"), f"id {trigger_id!r} is missing or invalid", "use letters, digits, - and _ (at most 64)"
        )
    page = item.get("page")
    if not isinstance(page, str) or not page:
        check.add(_line(item, "page"), "`page:` is missing", 'add a pattern of the page path, e.g. page: "^/returns"')
    else:
        try:
            re.compile(page)
        except re.error as e:
            check.add(
                _line(item, "page"),
                f"page pattern {page!r} is not a valid regular expression ({e})",
                "fix the pattern (escape ( ) [ ] ? * + with \\)",
            )
    values = _conditions(item, check)
    message = item.get("message")
    if not isinstance(message, str) or not message.strip():
        check.add(_line(item, "message"), "`message:` is missing", "write the opening message")
    elif len(message) > MAX_MESSAGE_CHARS:
        check.add(
            _line(item, "message"), f"the message has {len(message)} characters", f"keep it under {MAX_MESSAGE_CHARS}"
        )
    else:
        _check_placeholders(item, message, values, check)
    replies = _quick_replies(item, check)
    after = _number(item, "after_seconds", 0.0, check, minimum=0.0)
    max_per_day = _number(item, "max_per_day", 1, check, minimum=1, integer=True)
    dismiss_days = _number(item, "dismiss_days", 1.0, check, minimum=0.0)
    returning = item.get("returning_visitor")
    if returning is not None and not isinstance(returning, bool):
        check.add(
            _line(item, "returning_visitor"),
            "`returning_visitor:` must be true or false",
            "write true or false, or leave it out",
        )
    once = item.get("once_per_visit", True)
    if not isinstance(once, bool):
        check.add(_line(item, "once_per_visit"), "`once_per_visit:` must be true or false", "write true or false")
    if len(check.problems) > before:
        return None
    return Trigger(
        id=str(trigger_id),
        page=str(page),
        message=str(message),
        after_seconds=float(after),
        returning_visitor=returning,
        values=values,
        quick_replies=replies,
        once_per_visit=bool(once),
        max_per_day=int(max_per_day),
        dismiss_days=float(dismiss_days),
    )


def _number(
    item: Mapping[str, Any], key: str, default: float, check: _Checker, *, minimum: float, integer: bool = False
) -> float:
    value = item.get(key, default)
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok or value < minimum:
        kind = "a whole number" if integer else "a number"
        check.add(
            _line(item, key),
            f"`{key}:` must be {kind} of at least {minimum:g}; it is {value!r}",
            f"write e.g. {key}: {default}",
        )
        return default
    return float(value)


def _conditions(item: Mapping[str, Any], check: _Checker) -> dict[str, dict[str, Any]]:
    raw = item.get("values")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        check.add(
            _line(item, "values"),
            "`values:` must map a page value's name to a condition",
            "e.g. values: {payment: failed}",
        )
        return {}
    conditions: dict[str, dict[str, Any]] = {}
    for name, condition in raw.items():
        where = _line(raw, name)
        if not isinstance(name, str) or not _VALUE_NAME.fullmatch(name):
            check.add(
                where,
                f"page value name {name!r} is invalid",
                "use letters, digits and _ (it is the key the page passes)",
            )
            continue
        if isinstance(condition, dict):
            for key in condition:
                if key not in CONDITION_KEYS:
                    check.add(
                        _line(condition, key),
                        f"unknown condition '{key}' for value '{name}'",
                        f"use one of: {', '.join(CONDITION_KEYS)}",
                    )
            for key in ("at_least", "at_most"):
                bound = condition.get(key)
                if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int | float)):
                    check.add(_line(condition, key), f"`{key}` of '{name}' must be a number", f"write e.g. {key}: 100")
            conditions[name] = {str(k): v for k, v in condition.items()}
        elif isinstance(condition, str | int | float | bool):
            conditions[name] = {"equals": condition}
        else:
            check.add(
                where,
                f"the condition of '{name}' must be a value or a mapping",
                "e.g. payment: failed, or basket_total: {at_least: 100}",
            )
    return conditions


def _check_placeholders(item: Mapping[str, Any], message: str, values: Mapping[str, Any], check: _Checker) -> None:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(message) if name is not None]
    except ValueError as e:
        check.add(
            _line(item, "message"),
            f"the message's braces do not match ({e})",
            "write {value_name}, and {{ }} for literal braces",
        )
        return
    for name in names:
        if name not in values:
            check.add(
                _line(item, "message"),
                f"the message uses {{{name}}}, which the trigger does not require",
                f"add `{name}: {{present: true}}` under `values:`, or remove the placeholder",
            )


def _quick_replies(item: Mapping[str, Any], check: _Checker) -> tuple[tuple[str, str], ...]:
    raw = item.get("quick_replies")
    if raw is None:
        return ()
    where = _line(item, "quick_replies")
    if not isinstance(raw, list) or len(raw) > MAX_QUICK_REPLIES:
        check.add(
            where, f"`quick_replies:` must be a list of at most {MAX_QUICK_REPLIES}", "write - {title: …, payload: …}"
        )
        return ()
    found: list[tuple[str, str]] = []
    for reply in raw:
        if isinstance(reply, str) and reply.strip():
            found.append((reply, reply))
        elif isinstance(reply, dict) and isinstance(reply.get("title"), str) and isinstance(reply.get("payload"), str):
            unknown = [k for k in reply if k not in ("title", "payload")]
            if unknown:
                check.add(
                    _line(reply, unknown[0]),
                    f"unknown key '{unknown[0]}' in a quick reply",
                    "a quick reply has `title` and `payload`",
                )
            found.append((reply["title"], reply["payload"]))
        else:
            check.add(
                _line(reply) or where,
                "a quick reply needs a `title` and a `payload` (text)",
                "write - {title: Start a return, payload: /start_return}",
            )
    return tuple(found)


def load_triggers(path: Path, display: str | None = None) -> tuple[list[Trigger], list[Problem]]:
    """The file's triggers, or no triggers and the problems found. A missing file has no triggers."""
    shown = display or path.name
    if not path.exists():
        return [], []
    data, problems = read_yaml_file(path, shown)
    if problems and data is None:
        return [], problems
    triggers, found = parse_triggers(data, shown)
    problems = problems + found
    return (triggers if not problems else []), problems


@dataclass(frozen=True)
class TriggerSet:
    """What the widget gets: the triggers and a version (changes with them)."""

    triggers: tuple[Trigger, ...] = ()
    version: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"version": self.version, "triggers": [t.as_json() for t in self.triggers]}


class TriggerFile:
    """`knowledge/triggers.yml`, re-read when it changes; while it has errors the last good set serves."""

    def __init__(self, path: Path, display: str | None = None) -> None:
        self.path = path
        self.display = display or path.name
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._good = TriggerSet()
        self.problems: list[Problem] = []

    def current(self) -> TriggerSet:
        stamp = self._file_stamp()
        with self._lock:
            if stamp != self._stamp:
                self._reload(stamp)
            return self._good

    def _file_stamp(self) -> tuple[int, int]:
        try:
            info = self.path.stat()
        except OSError:
            return (0, -1)
        return (info.st_mtime_ns, info.st_size)

    def _reload(self, stamp: tuple[int, int]) -> None:
        self._stamp = stamp
        triggers, problems = load_triggers(self.path, self.display)
        self.problems = problems
        if problems:
            for problem in problems:
                log.error("triggers not reloaded, the last good ones keep serving: %s", problem)
            return
        body = json.dumps([t.as_json() for t in triggers], sort_keys=True)
        self._good = TriggerSet(tuple(triggers), hashlib.sha256(body.encode()).hexdigest()[:16])
        log.info("triggers loaded: %d from %s", len(triggers), self.display)

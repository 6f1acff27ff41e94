"""Reading the keys of one case, step or `defaults:` mapping, each problem with its file:line.

`CaseReader` collects every problem instead of stopping at the first; `bot.testing.cases` reads
whole files with it and raises them together as one `DataError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from bot.errors import Problem
from bot.testing.case_types import NOT_CHECKED, Expectation, Marks
from bot.yamlfile import LineDict, LineList

EXPECTATION_KEYS = (
    "intent",
    "entities",
    "abstain",
    "entry",
    "action",
    "actions",
    "slots",
    "form",
    "reply_contains",
    "reply_contains_any",
    "reply_not_contains",
    "buttons",
    "understood",
    "cards",
    "cards_not",
)
MESSAGE_ONLY_KEYS = ("intent", "entities", "abstain", "entry")
_NAME_KEYS = ("intent", "entry", "action")
_REPLY_KEYS = ("reply_contains", "reply_contains_any", "reply_not_contains")
_Section = TypeVar("_Section", LineDict, LineList)


def _key_line(item: LineDict, key: str) -> int:
    """The line of `key` in `item`, else the line of `item` itself."""
    line: int = item.key_lines.get(key, item.line)
    return line


def _is_text(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip() != ""


class CaseReader:
    """Reads the parts of one test file (`display` names it in every problem)."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.problems: list[Problem] = []

    def problem(self, line: int | None, message: str, fix: str) -> None:
        self.problems.append(Problem(self.display, line, message, fix))

    def unknown_keys(self, item: LineDict, allowed: Sequence[str], what: str) -> None:
        for key in item:
            if key not in allowed:
                self.problem(
                    _key_line(item, key), f"unknown key '{key}' in {what}", f"use one of: {', '.join(allowed)}"
                )

    def section(self, data: LineDict, key: str, kind: type[_Section], message: str, fix: str) -> _Section:
        """A top-level part of the file (`cases`, `conversations`, `defaults`): empty when absent or wrong."""
        value = data.get(key)
        if isinstance(value, kind):
            return value
        if value is not None:
            self.problem(data.key_lines.get(key), message, fix)
        return kind()

    # -- the parts of a case or a step --------------------------------------------------------
    def marks(self, item: LineDict) -> Marks:
        raw = item.get("marks", [])
        names: list[str] = []
        xfail: str | None = None
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not all(isinstance(m, str) and m.strip() for m in raw):
            self.problem(
                _key_line(item, "marks"),
                "'marks' must be a list of marker names",
                "write `marks: [slow]` or `marks: [xfail]`",
            )
            raw = []
        for name in raw:
            if name.strip() == "xfail":
                xfail = xfail or "marked xfail"
            else:
                names.append(name.strip())
        if "xfail" in item:
            value = item["xfail"]
            if value is True:
                xfail = "marked xfail"
            elif isinstance(value, str) and value.strip():
                xfail = value.strip()
            elif value not in (False, None):
                self.problem(
                    item.key_lines["xfail"],
                    "'xfail' must be a reason (text) or true",
                    "write `xfail: the classifier confuses X and Y (issue 12)`",
                )
        return Marks(tuple(names), xfail)

    def text(self, item: LineDict, key: str, what: str) -> str | None:
        value = item.get(key)
        if isinstance(value, bool):
            self.problem(
                _key_line(item, key),
                f"YAML reads the unquoted `{key}:` text as {str(value).lower()} (yes, no, on, off …)",
                f'quote it: `{key}: "yes"`',
            )
            return None
        if isinstance(value, (int, float)):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            self.problem(
                _key_line(item, key),
                f"{what} needs `{key}:` with the message text",
                f"write `{key}: where is my parcel`",
            )
            return None
        return value

    def click(self, step: LineDict) -> int | str | None:
        """The button a `click:` step presses (1-based position or title text), None for `user:` steps."""
        if "click" not in step:
            return None
        line = _key_line(step, "click")
        if "user" in step:
            self.problem(line, "a step has both `user:` and `click:`", "keep one: a typed message or a button press")
            return None
        value = step["click"]
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        if isinstance(value, str) and value.strip():
            return value.strip()
        self.problem(
            line,
            "'click' must be a button's position (1, 2 …) or text of its title",
            'write `click: 1` or `click: "yes"`',
        )
        return ""

    # -- expectations --------------------------------------------------------------------------
    def expectation(
        self,
        item: LineDict,
        allowed: Sequence[str],
        what: str,
        *,
        drop: Callable[[Problem], bool] | None = None,
    ) -> Expectation:
        """The expectations of `item`; `drop` leaves out problems already reported elsewhere."""
        checked = len(self.problems)
        names = {key: self.name(item, key) for key in _NAME_KEYS}
        abstain = self.flag(item, "abstain")
        entities = self.entities(item["entities"], _key_line(item, "entities")) if "entities" in item else None
        actions_exact = self.actions(item)
        slots = self.slots(item)
        form = self.form(item)
        texts = {key: self.texts(item, key) for key in _REPLY_KEYS}
        buttons = self.buttons(item)
        cards = self.buttons(item, "cards")
        understood = self.flag(item, "understood")
        expect = Expectation(
            intent=names["intent"],
            entities=entities,
            abstain=abstain,
            entry=names["entry"],
            actions_include=(names["action"],) if names["action"] is not None else (),
            actions_exact=actions_exact,
            slots=slots,
            form=form,
            reply_contains=texts["reply_contains"],
            reply_contains_any=texts["reply_contains_any"],
            reply_not_contains=texts["reply_not_contains"],
            buttons=buttons,
            understood=understood,
            cards=cards,
            cards_not=self.texts(item, "cards_not"),
        )
        self.whole(expect, item, allowed, what)
        if drop is not None:
            self.problems[checked:] = [p for p in self.problems[checked:] if not drop(p)]
        return expect

    def whole(self, expect: Expectation, item: LineDict, allowed: Sequence[str], what: str) -> None:
        """Problems of the expectations together: contradictory, or none at all."""
        if expect.intent is not None and expect.abstain:
            self.problem(
                _key_line(item, "abstain"),
                f"{what} expects both intent '{expect.intent}' and an abstention",
                "keep one of `intent:` and `abstain: true`",
            )
        if not any(k in item for k in EXPECTATION_KEYS):
            self.problem(
                item.line,
                f"{what} expects nothing",
                f"add at least one of: {', '.join(k for k in EXPECTATION_KEYS if k in allowed)}",
            )

    def name(self, item: LineDict, key: str) -> str | None:
        """An intent, entry or action name."""
        if key not in item:
            return None
        value = item[key]
        if not isinstance(value, str) or not value.strip():
            self.problem(_key_line(item, key), f"'{key}' must be a name", f"write `{key}: some_name`")
            return None
        return value.strip()

    def flag(self, item: LineDict, key: str) -> bool | None:
        """`abstain:` or `understood:`, true or false."""
        if key not in item:
            return None
        value = item[key]
        if not isinstance(value, bool):
            self.problem(_key_line(item, key), f"'{key}' must be true or false", f"write `{key}: true`")
            return None
        return value

    def actions(self, item: LineDict) -> tuple[str, ...] | None:
        """`actions:`, the exact list of actions of the turn."""
        if "actions" not in item:
            return None
        raw = item["actions"]
        if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
            self.problem(
                _key_line(item, "actions"), "'actions' must be a list of action names", "write `actions: [utter_greet]`"
            )
            return None
        return tuple(raw)

    def slots(self, item: LineDict) -> dict[str, Any]:
        if "slots" not in item:
            return {}
        raw = item["slots"]
        if not isinstance(raw, dict):
            self.problem(
                _key_line(item, "slots"),
                "'slots' must be a mapping of slot names to values",
                "write `slots: {order_number: AN-10001}` (null = not set)",
            )
            return {}
        return {str(k): v for k, v in raw.items()}

    def form(self, item: LineDict) -> Any:
        """The form expected to be active (None: none), or `NOT_CHECKED`."""
        if "form" not in item:
            return NOT_CHECKED
        raw = item["form"]
        if raw is not None and not isinstance(raw, str):
            self.problem(
                _key_line(item, "form"),
                "'form' must be a form name or null",
                "write `form: return_form`, or `form: null` for no active form",
            )
            return NOT_CHECKED
        return raw

    def buttons(self, item: LineDict, key: str = "buttons") -> bool | tuple[str, ...] | None:
        """`buttons:` or `cards:`: true (some), false (none) or texts each one must contain."""
        if key not in item:
            return None
        raw = item[key]
        if isinstance(raw, bool):
            return raw
        found = self.texts(item, key)
        return found if found else None

    def texts(self, item: LineDict, key: str) -> tuple[str, ...]:
        """A text or a list of texts under `key` (numbers read as text: `15:00`, `30`)."""
        if key not in item:
            return ()
        raw = item[key]
        if isinstance(raw, str | int | float) and not isinstance(raw, bool):
            raw = [raw]
        if not isinstance(raw, list) or not raw or not all(_is_text(r) for r in raw):
            self.problem(
                _key_line(item, key),
                f"'{key}' must be text or a list of texts",
                f'write `{key}: order number` or `{key}: [AN-10001, "15:00"]` (quote yes/no/on/off)',
            )
            return ()
        return tuple(str(r) for r in raw)

    def entities(self, raw: Any, line: int) -> tuple[tuple[str, Any], ...] | None:
        pairs: list[tuple[str, Any]] = []
        items = [raw] if isinstance(raw, dict) else raw
        if not isinstance(items, list):
            items = None
        for entry in items or [None]:
            if items == []:
                break
            if not isinstance(entry, dict) or not entry:
                self.problem(
                    line,
                    "'entities' must be a list of {entity: value} mappings",
                    "write `entities: [{order_number: AN-12345}]` ('*' = any value, [] = none)",
                )
                return None
            for name, value in entry.items():
                pairs.append((str(name), value))
        return tuple(pairs)

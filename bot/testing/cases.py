"""YAML test cases for a bot: what they look like in memory and how they are read.

A case file (`intents/tests/*.yml`, `knowledge/tests/*.yml`) has two optional lists::

    cases:                      # one message each, in a fresh conversation
    - text: where is my parcel
      intent: order_status
    - text: my order is AN-12345
      entities: [{order_number: AN-12345}]
    - text: what's the capital of Peru
      abstain: true
    - text: how long does delivery to germany take
      entry: delivery-time-germany
    conversations:              # several user lines, one conversation
    - name: return happy path
      steps:
      - user: I want to return my jacket
        intent: start_return
        action: return_form
      - user: AN-10001
        slots: {order_number: AN-10001}
        reply_contains: email

Every problem is reported with its file:line (`DataError`), never half-loaded. Nothing here runs
the bot; `bot.testing.runner` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bot.errors import DataError, Problem
from bot.yamlfile import LineDict, LineList, read_yaml_file

ANY_VALUE = "*"
"""An expected entity or slot value that matches any value (e.g. dates relative to today)."""

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
)
MESSAGE_ONLY_KEYS = ("intent", "entities", "abstain", "entry")
_CASE_META = ("text", "name", "marks", "xfail")
_CONVERSATION_META = ("name", "steps", "marks", "xfail")
_STEP_META = ("user", "click")
_TOP_KEYS = ("cases", "conversations", "version", "defaults")
_NO_VALUE = object()
_Section = TypeVar("_Section", LineDict, LineList)


@dataclass(frozen=True)
class Expectation:
    """What should happen after one user message. `None` = not checked."""

    intent: str | None = None
    entities: tuple[tuple[str, Any], ...] | None = None
    abstain: bool | None = None
    entry: str | None = None
    actions_include: tuple[str, ...] = ()
    actions_exact: tuple[str, ...] | None = None
    slots: Mapping[str, Any] = field(default_factory=dict)
    form: str | None | object = _NO_VALUE  # object() sentinel = not checked; None = no form active
    reply_contains: tuple[str, ...] = ()
    reply_contains_any: tuple[str, ...] = ()
    reply_not_contains: tuple[str, ...] = ()
    buttons: bool | tuple[str, ...] | None = None  # True: some buttons; False: none; texts: these titles
    understood: bool | None = None  # True: no fallback, no error, no repeat of the previous turn

    @property
    def checks_form(self) -> bool:
        return self.form is not _NO_VALUE

    @property
    def needs_dialogue(self) -> bool:
        """Does checking this need the whole bot (dialogue, actions, knowledge) or only NLU?"""
        return bool(
            self.entry
            or self.actions_include
            or self.actions_exact is not None
            or self.slots
            or self.checks_form
            or self.reply_contains
            or self.reply_contains_any
            or self.reply_not_contains
            or self.buttons is not None
            or self.understood is not None
        )


@dataclass(frozen=True)
class Step:
    """One customer turn: a typed message (`user`) or a press of a button the bot offered in its
    previous turn (`click`: the 1-based position, or text the button's title contains)."""

    user: str
    expect: Expectation
    line: int
    click: int | str | None = None

    @property
    def shown(self) -> str:
        """How the step reads in a failure: the text, or `[clicks "title"]`."""
        if self.click is None:
            return self.user
        return f"[clicks button {self.click}]" if isinstance(self.click, int) else f'[clicks "{self.click}"]'


@dataclass(frozen=True)
class Marks:
    names: tuple[str, ...] = ()
    xfail: str | None = None  # the reason, when the case is a known failure


@dataclass(frozen=True)
class MessageCase:
    """One message in a fresh conversation."""

    name: str
    file: str
    line: int
    step: Step
    marks: Marks = Marks()

    @property
    def kind(self) -> str:
        return "knowledge" if self.step.expect.entry else "nlu"


@dataclass(frozen=True)
class ConversationCase:
    name: str
    file: str
    line: int
    steps: tuple[Step, ...]
    marks: Marks = Marks()

    @property
    def kind(self) -> str:
        return "conversation"


Case = MessageCase | ConversationCase


@dataclass(frozen=True)
class CaseFile:
    path: Path
    display: str
    cases: tuple[Case, ...]


# -- reading ---------------------------------------------------------------------------------------
class _Reader:
    def __init__(self, display: str) -> None:
        self.display = display
        self.problems: list[Problem] = []

    def problem(self, line: int | None, message: str, fix: str) -> None:
        self.problems.append(Problem(self.display, line, message, fix))

    def unknown_keys(self, item: LineDict, allowed: Sequence[str], what: str) -> None:
        for key in item:
            if key not in allowed:
                self.problem(
                    item.key_lines.get(key, item.line),
                    f"unknown key '{key}' in {what}",
                    f"use one of: {', '.join(allowed)}",
                )

    def marks(self, item: LineDict) -> Marks:
        raw = item.get("marks", [])
        names: list[str] = []
        xfail: str | None = None
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not all(isinstance(m, str) and m.strip() for m in raw):
            self.problem(
                item.key_lines.get("marks", item.line),
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
                item.key_lines.get(key, item.line),
                f"YAML reads the unquoted `{key}:` text as {str(value).lower()} (yes, no, on, off …)",
                f'quote it: `{key}: "yes"`',
            )
            return None
        if isinstance(value, (int, float)):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            self.problem(
                item.key_lines.get(key, item.line),
                f"{what} needs `{key}:` with the message text",
                f"write `{key}: where is my parcel`",
            )
            return None
        return value

    def expectation(self, item: LineDict, allowed: Sequence[str], what: str) -> Expectation:
        line = item.line

        def key_line(key: str) -> int:
            return item.key_lines.get(key, line)

        values: dict[str, Any] = {}
        for key in ("intent", "entry", "action"):
            if key in item:
                value = item[key]
                if not isinstance(value, str) or not value.strip():
                    self.problem(key_line(key), f"'{key}' must be a name", f"write `{key}: some_name`")
                else:
                    values[key] = value.strip()
        if "abstain" in item:
            if not isinstance(item["abstain"], bool):
                self.problem(key_line("abstain"), "'abstain' must be true or false", "write `abstain: true`")
            else:
                values["abstain"] = item["abstain"]
        entities = None
        if "entities" in item:
            entities = self.entities(item["entities"], key_line("entities"))
        actions_exact = None
        if "actions" in item:
            raw = item["actions"]
            if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
                self.problem(
                    key_line("actions"), "'actions' must be a list of action names", "write `actions: [utter_greet]`"
                )
            else:
                actions_exact = tuple(raw)
        slots: dict[str, Any] = {}
        if "slots" in item:
            raw = item["slots"]
            if not isinstance(raw, dict):
                self.problem(
                    key_line("slots"),
                    "'slots' must be a mapping of slot names to values",
                    "write `slots: {order_number: AN-10001}` (null = not set)",
                )
            else:
                slots = {str(k): v for k, v in raw.items()}
        form: Any = _NO_VALUE
        if "form" in item:
            raw = item["form"]
            if raw is not None and not isinstance(raw, str):
                self.problem(
                    key_line("form"),
                    "'form' must be a form name or null",
                    "write `form: return_form`, or `form: null` for no active form",
                )
            else:
                form = raw
        texts = {key: self.texts(item, key) for key in ("reply_contains", "reply_contains_any", "reply_not_contains")}
        buttons: bool | tuple[str, ...] | None = None
        if "buttons" in item:
            raw = item["buttons"]
            if isinstance(raw, bool):
                buttons = raw
            else:
                found = self.texts(item, "buttons")
                buttons = found if found else None
        understood: bool | None = None
        if "understood" in item:
            if not isinstance(item["understood"], bool):
                self.problem(key_line("understood"), "'understood' must be true or false", "write `understood: true`")
            else:
                understood = item["understood"]
        expect = Expectation(
            intent=values.get("intent"),
            entities=entities,
            abstain=values.get("abstain"),
            entry=values.get("entry"),
            actions_include=(values["action"],) if "action" in values else (),
            actions_exact=actions_exact,
            slots=slots,
            form=form,
            reply_contains=texts["reply_contains"],
            reply_contains_any=texts["reply_contains_any"],
            reply_not_contains=texts["reply_not_contains"],
            buttons=buttons,
            understood=understood,
        )
        if expect.intent is not None and expect.abstain:
            self.problem(
                key_line("abstain"),
                f"{what} expects both intent '{expect.intent}' and an abstention",
                "keep one of `intent:` and `abstain: true`",
            )
        if not any(k in item for k in EXPECTATION_KEYS):
            self.problem(
                line,
                f"{what} expects nothing",
                f"add at least one of: {', '.join(k for k in EXPECTATION_KEYS if k in allowed)}",
            )
        return expect

    def section(self, data: LineDict, key: str, kind: type[_Section], message: str, fix: str) -> _Section:
        """A top-level part of the file (`cases`, `conversations`, `defaults`): empty when absent or wrong."""
        value = data.get(key)
        if isinstance(value, kind):
            return value
        if value is not None:
            self.problem(data.key_lines.get(key), message, fix)
        return kind()

    def click(self, step: LineDict) -> int | str | None:
        """The button a `click:` step presses (1-based position or title text), None for `user:` steps."""
        if "click" not in step:
            return None
        line = step.key_lines.get("click", step.line)
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

    def texts(self, item: LineDict, key: str) -> tuple[str, ...]:
        """A text or a list of texts under `key` (numbers read as text: `15:00`, `30`)."""
        if key not in item:
            return ()
        raw = item[key]
        if isinstance(raw, str | int | float) and not isinstance(raw, bool):
            raw = [raw]
        if not isinstance(raw, list) or not raw or not all(_is_text(r) for r in raw):
            self.problem(
                item.key_lines.get(key, item.line),
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


def _with_defaults(step: LineDict, defaults: LineDict) -> LineDict:
    """The step's expectations, plus the file's `defaults:` for keys the step does not set."""
    if not defaults:
        return step
    merged = LineDict()
    merged.line = step.line
    for key, value in defaults.items():
        merged[key] = value
        merged.key_lines[key] = defaults.key_lines.get(key, defaults.line)
    for key, value in step.items():
        merged[key] = value
        merged.key_lines[key] = step.key_lines.get(key, step.line)
    return merged


def _is_text(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool) and str(value).strip() != ""


def _unique(name: str, seen: dict[str, int]) -> str:
    name = " ".join(name.replace("::", ":").split())
    count = seen.get(name, 0) + 1
    seen[name] = count
    return name if count == 1 else f"{name} [{count}]"


def parse_case_file(data: Any, path: Path, display: str) -> CaseFile:
    """Build the cases from parsed YAML; raises `DataError` listing every problem."""
    reader = _Reader(display)
    cases: list[Case] = []
    seen: dict[str, int] = {}
    if data is None:
        return CaseFile(path, display, ())
    if not isinstance(data, LineDict):
        raise DataError(
            [Problem(display, 1, "a test file must be a mapping", "start with `cases:` or `conversations:`")]
        )
    reader.unknown_keys(data, _TOP_KEYS, "a test file")
    defaults = reader.section(
        data,
        "defaults",
        LineDict,
        "'defaults' must be a mapping of expectations",
        "write `defaults: {understood: true}`",
    )
    if defaults:  # checked once here; the steps they are merged into do not report them again
        reader.unknown_keys(defaults, EXPECTATION_KEYS[4:], "defaults")
        checked = len(reader.problems)
        reader.expectation(defaults, EXPECTATION_KEYS, "defaults")
        reader.problems[checked:] = [p for p in reader.problems[checked:] if "expects nothing" not in p.message]
    default_lines = set(defaults.key_lines.values())
    raw_cases = reader.section(data, "cases", LineList, "'cases' must be a list", "write `- text: ...` items under it")
    for item, line in zip(raw_cases, raw_cases.item_lines, strict=True):
        if not isinstance(item, LineDict):
            reader.problem(line, "a case must be a mapping", "write `- text: where is my parcel` then `intent: ...`")
            continue
        allowed = (*_CASE_META, *MESSAGE_ONLY_KEYS, *EXPECTATION_KEYS[4:])
        reader.unknown_keys(item, allowed, "a case")
        text = reader.text(item, "text", "a case")
        expect = reader.expectation(item, allowed, f"the case '{text}'")
        marks = reader.marks(item)
        if text is None:
            continue
        name = str(item.get("name") or text)
        cases.append(MessageCase(_unique(name, seen), display, line, Step(text, expect, line), marks))
    raw_conversations = reader.section(
        data,
        "conversations",
        LineList,
        "'conversations' must be a list",
        "write `- name: ...` items with `steps:` under it",
    )
    for item, line in zip(raw_conversations, raw_conversations.item_lines, strict=True):
        if not isinstance(item, LineDict):
            reader.problem(line, "a conversation must be a mapping", "write `- name: ...` then `steps:`")
            continue
        reader.unknown_keys(item, _CONVERSATION_META, "a conversation")
        raw_name = item.get("name")
        name = raw_name if isinstance(raw_name, str) and raw_name.strip() else f"conversation at line {line}"
        if name != raw_name:
            reader.problem(line, "a conversation needs a name", "write `- name: return happy path`")
        raw_steps = item.get("steps")
        steps: list[Step] = []
        if not isinstance(raw_steps, LineList) or not raw_steps:
            reader.problem(
                item.key_lines.get("steps", line),
                f"conversation '{name}' has no steps",
                "add `steps:` with `- user: ...` items",
            )
            raw_steps = LineList()
        for step, step_line in zip(raw_steps, raw_steps.item_lines, strict=True):
            if not isinstance(step, LineDict):
                reader.problem(step_line, "a step must be a mapping", "write `- user: hello` then expectations")
                continue
            reader.unknown_keys(step, (*_STEP_META, *EXPECTATION_KEYS), "a step")
            click = reader.click(step)
            user = reader.text(step, "user", "a step") if click is None else ""
            checked = len(reader.problems)
            expect = reader.expectation(_with_defaults(step, defaults), EXPECTATION_KEYS, f"the step '{user}'")
            reader.problems[checked:] = [p for p in reader.problems[checked:] if p.line not in default_lines]
            if user is not None:
                steps.append(Step(user, expect, step_line, click))
        marks = reader.marks(item)
        cases.append(ConversationCase(_unique(name, seen), display, line, tuple(steps), marks))
    if reader.problems:
        raise DataError(reader.problems)
    return CaseFile(path, display, tuple(cases))


def load_case_file(path: Path, display: str | None = None) -> CaseFile:
    """Read one YAML test file. Raises `DataError` (every problem with its file:line)."""
    shown = display or str(path)
    data, problems = read_yaml_file(path, shown)
    if problems:
        raise DataError(problems)
    return parse_case_file(data, path, shown)


def case_files(folder: Path) -> list[Path]:
    """The test files of one `tests/` folder and its subfolders (e.g. `tests/customers/heldout/`)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())

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

Every problem is reported with its file:line (`DataError`), never half-loaded. The cases in memory
are `bot.testing.case_types` (re-exported here); `bot.testing.case_reader` checks each key. Nothing
here runs the bot; `bot.testing.runner` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.errors import DataError, Problem
from bot.testing.case_reader import EXPECTATION_KEYS, MESSAGE_ONLY_KEYS, CaseReader
from bot.testing.case_types import (
    ANY_VALUE,
    Case,
    CaseFile,
    ConversationCase,
    Expectation,
    Marks,
    MessageCase,
    Step,
)
from bot.yamlfile import LineDict, LineList, read_yaml_file

__all__ = [
    "ANY_VALUE",
    "EXPECTATION_KEYS",
    "MESSAGE_ONLY_KEYS",
    "Case",
    "CaseFile",
    "ConversationCase",
    "Expectation",
    "Marks",
    "MessageCase",
    "Step",
    "case_files",
    "load_case_file",
    "parse_case_file",
]

_CASE_META = ("text", "name", "marks", "xfail")
_CONVERSATION_META = ("name", "steps", "marks", "xfail")
_STEP_META = ("user", "click")
_TOP_KEYS = ("cases", "conversations", "version", "defaults")


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


def parse_case_file(data: Any, path: Path, display: str) -> CaseFile:
    """Build the cases from parsed YAML; raises `DataError` listing every problem."""
    if data is None:
        return CaseFile(path, display, ())
    if not isinstance(data, LineDict):
        raise DataError(
            [Problem(display, 1, "a test file must be a mapping", "start with `cases:` or `conversations:`")]
        )
    reader = CaseReader(display)
    reader.unknown_keys(data, _TOP_KEYS, "a test file")
    defaults = _defaults(reader, data)
    seen: dict[str, int] = {}
    cases: list[Case] = [*_message_cases(reader, data, seen)]
    cases.extend(_conversations(reader, data, defaults, seen))
    if reader.problems:
        raise DataError(reader.problems)
    return CaseFile(path, display, tuple(cases))


def _defaults(reader: CaseReader, data: LineDict) -> LineDict:
    """The file's `defaults:`, checked once here: the steps they are merged into do not report them again."""
    defaults = reader.section(
        data,
        "defaults",
        LineDict,
        "'defaults' must be a mapping of expectations",
        "write `defaults: {understood: true}`",
    )
    if defaults:
        reader.unknown_keys(defaults, EXPECTATION_KEYS[4:], "defaults")
        reader.expectation(defaults, EXPECTATION_KEYS, "defaults", drop=lambda p: "expects nothing" in p.message)
    return defaults


def _message_cases(reader: CaseReader, data: LineDict, seen: dict[str, int]) -> list[MessageCase]:
    raw_cases = reader.section(data, "cases", LineList, "'cases' must be a list", "write `- text: ...` items under it")
    allowed = (*_CASE_META, *MESSAGE_ONLY_KEYS, *EXPECTATION_KEYS[4:])
    cases: list[MessageCase] = []
    for item, line in zip(raw_cases, raw_cases.item_lines, strict=True):
        if not isinstance(item, LineDict):
            reader.problem(line, "a case must be a mapping", "write `- text: where is my parcel` then `intent: ...`")
            continue
        reader.unknown_keys(item, allowed, "a case")
        text = reader.text(item, "text", "a case")
        expect = reader.expectation(item, allowed, f"the case '{text}'")
        marks = reader.marks(item)
        if text is None:
            continue
        name = str(item.get("name") or text)
        cases.append(MessageCase(_unique(name, seen), reader.display, line, Step(text, expect, line), marks))
    return cases


def _conversations(
    reader: CaseReader, data: LineDict, defaults: LineDict, seen: dict[str, int]
) -> list[ConversationCase]:
    raw_conversations = reader.section(
        data,
        "conversations",
        LineList,
        "'conversations' must be a list",
        "write `- name: ...` items with `steps:` under it",
    )
    conversations: list[ConversationCase] = []
    for item, line in zip(raw_conversations, raw_conversations.item_lines, strict=True):
        if not isinstance(item, LineDict):
            reader.problem(line, "a conversation must be a mapping", "write `- name: ...` then `steps:`")
            continue
        conversations.append(_conversation(reader, item, line, defaults, seen))
    return conversations


def _conversation(
    reader: CaseReader, item: LineDict, line: int, defaults: LineDict, seen: dict[str, int]
) -> ConversationCase:
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
        read = _step(reader, step, step_line, defaults)
        if read is not None:
            steps.append(read)
    marks = reader.marks(item)
    return ConversationCase(_unique(name, seen), reader.display, line, tuple(steps), marks)


def _step(reader: CaseReader, step: LineDict, line: int, defaults: LineDict) -> Step | None:
    """One step of a conversation, with the file's defaults (their problems were reported once)."""
    reader.unknown_keys(step, (*_STEP_META, *EXPECTATION_KEYS), "a step")
    click = reader.click(step)
    user = reader.text(step, "user", "a step") if click is None else ""
    default_lines = set(defaults.key_lines.values())
    merged = _with_defaults(step, defaults)
    expect = reader.expectation(merged, EXPECTATION_KEYS, f"the step '{user}'", drop=lambda p: p.line in default_lines)
    return Step(user, expect, line, click) if user is not None else None


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


def _unique(name: str, seen: dict[str, int]) -> str:
    name = " ".join(name.replace("::", ":").split())
    count = seen.get(name, 0) + 1
    seen[name] = count
    return name if count == 1 else f"{name} [{count}]"

"""knowledge/triggers.yml: validation with file:line, and hot reload keeping the last good triggers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.proactive.triggers import TriggerFile, load_triggers

ROOT = Path(__file__).resolve().parents[2]

GOOD = """triggers:
  - id: returns
    page: "^/returns"
    after_seconds: 5
    message: "Need help with a return?"
    quick_replies: [{title: Start a return, payload: /start_return}, "Refund times"]
"""


def write(path: Path, text: str) -> None:
    path.write_text(text)
    stamp = path.stat().st_mtime_ns + 1_000_000_000  # a new modification time even within the same tick
    os.utime(path, ns=(stamp, stamp))


def test_the_shipped_triggers_file_is_valid() -> None:
    triggers, problems = load_triggers(ROOT / "knowledge" / "triggers.yml")
    assert problems == []
    assert {t.id for t in triggers} == {"returns-help", "payment-failed", "welcome-back-order"}
    welcome = next(t for t in triggers if t.id == "welcome-back-order")
    assert welcome.returning_visitor is True and "customer_name" in welcome.values


def test_a_good_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "triggers.yml"
    write(path, GOOD)
    triggers, problems = load_triggers(path)
    assert problems == []
    (trigger,) = triggers
    assert trigger.as_json()["quick_replies"] == [
        {"title": "Start a return", "payload": "/start_return"},
        {"title": "Refund times", "payload": "Refund times"},
    ]
    assert (trigger.after_seconds, trigger.once_per_visit, trigger.max_per_day) == (5.0, True, 1)


@pytest.mark.parametrize(
    ("text", "line", "complaint"),
    [
        ('triggers:\n  - id: a\n    page: "^/(returns"\n    message: hi\n', 3, "not a valid regular expression"),
        ("triggers:\n  - id: a\n    page: x\n    message: hi\n    colour: red\n", 5, "unknown key 'colour'"),
        ("triggers:\n  - id: a\n    page: x\n", 2, "`message:` is missing"),
        (
            "triggers:\n  - id: a\n    page: x\n    message: 'Hi {name}'\n",
            4,
            "{name}, which the trigger does not require",
        ),
        ("triggers:\n  - id: a\n    page: x\n    message: hi\n    max_per_day: 0\n", 5, "max_per_day"),
        (
            "triggers:\n  - id: a\n    page: x\n    message: hi\n    values: {total: {over: 3}}\n",
            5,
            "unknown condition",
        ),
        (
            "triggers:\n  - id: a\n    page: x\n    message: hi\n  - id: a\n    page: y\n    message: ho\n",
            5,
            "used twice",
        ),
        ("triggers:\n  - id: a\n   page: x\n", 3, "YAML syntax error"),
    ],
)
def test_bad_files_name_the_line_and_the_problem(tmp_path: Path, text: str, line: int, complaint: str) -> None:
    path = tmp_path / "triggers.yml"
    write(path, text)
    triggers, problems = load_triggers(path, "knowledge/triggers.yml")
    assert triggers == []
    assert any(p.line == line and complaint in p.message for p in problems), [str(p) for p in problems]
    assert str(problems[0]).startswith("knowledge/triggers.yml:")


def test_reload_on_change_and_the_last_good_triggers_keep_serving(tmp_path: Path) -> None:
    path = tmp_path / "triggers.yml"
    write(path, GOOD)
    file = TriggerFile(path, "knowledge/triggers.yml")
    first = file.current()
    assert [t.id for t in first.triggers] == ["returns"]
    write(path, GOOD.replace("returns", "refunds"))
    second = file.current()
    assert [t.id for t in second.triggers] == ["refunds"] and second.version != first.version
    write(path, GOOD + "    oops: 1\n")
    assert file.current() == second  # the last good set
    assert [str(p) for p in file.problems] == [
        "knowledge/triggers.yml:7: unknown key 'oops' — use one of: id, page, after_seconds, returning_visitor, "
        "values, message, quick_replies, once_per_visit, max_per_day, dismiss_days"
    ]
    write(path, GOOD)
    assert [t.id for t in file.current().triggers] == ["returns"] and file.problems == []


def test_a_missing_file_serves_no_triggers(tmp_path: Path) -> None:
    assert TriggerFile(tmp_path / "none.yml").current().triggers == ()

"""Conversation success rate on the customer-side corpus (`intents/tests/customers/`).

    python benchmarks/conversations.py [--folder intents/tests/customers] [--failures 40] [--only booking]

Runs every conversation of the corpus against the real bot (real model, knowledge base and handlers,
the shop data re-seeded before each conversation, exactly as `make test` runs them) and reports:

- the success rate (a conversation succeeds when every turn meets its expectations) on the whole
  corpus, on the tuning set and on the held-out quarter (`heldout/`), and per category (file name);
- button loops: a pressed button after which the bot offers the same buttons again or repeats itself;
- wrong-day bookings: an appointment time set on another weekday than the last one the customer named;
- every failing conversation with its first failing step (what was expected, what the bot said).

Prints one JSON line (the figures) and the failures, and merges the figures into
benchmarks/results/conversations.json. Targets (issue 12): >= 95 % overall, >= 90 % held-out,
zero button loops, zero wrong-day bookings.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO_ROOT, machine, write_result  # noqa: E402

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def day_asked(turn: Any, before: str | None) -> str | None:
    """The weekday the customer asked for last: one they typed, or the day of a button they pressed."""
    if turn.parse is None:
        return before
    typed = [str(e.value) for e in turn.parse.entities if e.entity == "weekday"]
    if typed:
        return typed[-1]
    if turn.clicked is not None:
        for entity in turn.parse.entities:
            if entity.entity == "time" and isinstance(entity.value, str):
                try:
                    return WEEKDAYS[datetime.fromisoformat(entity.value).weekday()]
                except ValueError:
                    continue
    return before


def turn_problems(turn: Any, previous: Any, asked_day: str | None) -> tuple[bool, bool]:
    """(button loop, wrong-day booking) for one turn."""
    from bot.testing.runner import is_repeat

    loop = False
    if turn.clicked is not None and previous is not None:
        # the same buttons (title and payload) again: "Shall I remind you?" Yes/No after a booking's Yes/No
        # reuses /affirm and /deny for another question, which is no loop
        same_buttons = bool(turn.buttons) and [(b.title, b.payload) for b in turn.buttons] == [
            (b.title, b.payload) for b in previous.buttons
        ]
        loop = same_buttons or is_repeat(turn, previous)
    wrong_day = False
    when = turn.slots.get("appointment_time")
    if asked_day and isinstance(when, str):
        try:
            booked = WEEKDAYS[datetime.fromisoformat(when).weekday()]
        except ValueError:
            booked = None
        wrong_day = booked is not None and booked != asked_day
    return loop, wrong_day


def run(folder: Path, only: str | None) -> dict[str, Any]:
    from bot.testing.cases import ConversationCase, case_files, load_case_file
    from bot.testing.fixtures import IsolatedDatabase, build_assistant, reset_shop_data
    from bot.testing.runner import ConversationDriver, NoSuchButton, check

    scratch = Path(tempfile.mkdtemp(prefix="supportbot-conversations-"))
    database = IsolatedDatabase(scratch)
    database.open()
    try:
        assistant = build_assistant(REPO_ROOT)
        results: list[dict[str, Any]] = []
        loops: list[str] = []
        wrong_days: list[str] = []
        started = time.perf_counter()
        for path in case_files(folder):
            category = path.stem
            if only and category != only:
                continue
            heldout = "heldout" in path.relative_to(folder).parts[:-1]
            for case in load_case_file(path, str(path.relative_to(REPO_ROOT))).cases:
                if not isinstance(case, ConversationCase):
                    continue
                database.reset(reset_shop_data)
                driver = ConversationDriver(assistant)
                failure: dict[str, Any] | None = None
                asked_day: str | None = None
                for number, step in enumerate(case.steps, 1):
                    previous = driver.transcript[-1] if driver.transcript else None
                    try:
                        turn = driver.click(step.click) if step.click is not None else driver.say(step.user)
                    except NoSuchButton as e:
                        failure = {"step": number, "user": step.shown, "problems": [str(e)], "bot": []}
                        break
                    asked_day = day_asked(turn, asked_day)
                    loop, wrong = turn_problems(turn, previous, asked_day)
                    if loop:
                        loops.append(f"{case.name} (step {number})")
                    if wrong:
                        wrong_days.append(f"{case.name} (step {number})")
                    mismatches = check(step.expect, turn, previous)
                    if mismatches:
                        failure = {
                            "step": number,
                            "user": step.shown,
                            "problems": [f"{m.what}: expected {m.expected}; got {m.actual}" for m in mismatches],
                            "bot": [r.text for r in turn.replies],
                        }
                        break
                results.append(
                    {
                        "name": case.name,
                        "file": f"{case.file}:{case.line}",
                        "category": category,
                        "heldout": heldout,
                        "ok": failure is None,
                        "failure": failure,
                    }
                )
        seconds = time.perf_counter() - started
    finally:
        database.close()
    return summarise(results, loops, wrong_days, seconds)


def rate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    passed = sum(1 for r in rows if r["ok"])
    return {"passed": passed, "total": len(rows), "rate": round(passed / len(rows), 4) if rows else None}


def summarise(results: list[dict[str, Any]], loops: list[str], wrong_days: list[str], seconds: float) -> dict[str, Any]:
    by_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in results:
        by_category[row["category"]].append(row)
    return {
        "overall": rate(results),
        "tuning": rate([r for r in results if not r["heldout"]]),
        "heldout": rate([r for r in results if r["heldout"]]),
        "categories": {name: rate(rows) for name, rows in sorted(by_category.items())},
        "button_loops": len(loops),
        "button_loop_cases": loops,
        "wrong_day_bookings": len(wrong_days),
        "wrong_day_cases": wrong_days,
        "seconds": round(seconds, 1),
        "failures": [r for r in results if not r["ok"]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=REPO_ROOT / "intents" / "tests" / "customers")
    parser.add_argument("--only", help="one category (file name without .yml)")
    parser.add_argument("--failures", type=int, default=60, help="how many failures to print")
    args = parser.parse_args()
    report = run(args.folder.resolve(), args.only)
    failures = report.pop("failures")
    figures = {k: v for k, v in report.items() if not k.endswith("_cases")}
    print(json.dumps(figures))
    for row in failures[: args.failures]:
        failure = row["failure"]
        tag = " [held-out]" if row["heldout"] else ""
        print(f"\nFAIL {row['name']}{tag}  ({row['file']}, step {failure['step']})")
        print(f"  user: {failure['user']}")
        for problem in failure["problems"]:
            print(f"  - {problem[:300]}")
    for name in ("button_loop_cases", "wrong_day_cases"):
        if report[name]:
            print(f"\n{name}: " + "; ".join(report[name]))
    if not args.only:
        write_result("conversations", {"corpus": {**report, "machine": machine()}})


if __name__ == "__main__":
    main()

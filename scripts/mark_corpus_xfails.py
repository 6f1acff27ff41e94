"""Sync the `xfail:` marks of the customer corpus with what the bot does today.

    python scripts/mark_corpus_xfails.py [--folder intents/tests/customers] [--check]

Runs the corpus exactly as `benchmarks/conversations.py` does, then, in each YAML file, adds
`xfail: "<first failure>"` under the `- name:` of every conversation that fails and removes the mark
from every conversation that passes, so `make test` shows today's failures as `xfailed` (with their
reason) and a fixed one is not hidden. `--check` changes nothing and exits 1 when a mark is missing or
stale. Only `xfail:` lines directly under a conversation's `- name:` line are touched.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from conversations import run  # noqa: E402

_NAME = re.compile(r"^- name:\s*(.+?)\s*$")
_XFAIL = re.compile(r"^  xfail:")


def reason(failure: dict[str, Any]) -> str:
    first = failure["problems"][0].split("; got ")[0] if failure["problems"] else "failed"  # stable: no reply text
    text = f"step {failure['step']} ({failure['user']}): {first}"
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:199] + "…"


def sync(path: Path, failing: dict[str, str]) -> tuple[str, int]:
    """The file's new text and how many marks changed."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    out: list[str] = []
    changed = 0
    index = 0
    while index < len(lines):
        line = lines[index]
        out.append(line)
        index += 1
        match = _NAME.match(line)
        if match is None:
            continue
        raw = match.group(1).strip()
        parsed = yaml.safe_load(raw) if raw[:1] in "\"'" else raw  # a quoted name is YAML; a plain one is itself
        name = " ".join(str(parsed).split())
        had = index < len(lines) and _XFAIL.match(lines[index]) is not None
        if had:
            old = lines[index]
            index += 1
        wanted = failing.get(name)
        if wanted is not None:
            new = f"  xfail: {json.dumps(wanted, ensure_ascii=False)}\n"
            out.append(new)
            changed += int(not had or old != new)
        elif had:
            changed += 1
    return "".join(out), changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=ROOT / "intents" / "tests" / "customers")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when marks are out of date")
    args = parser.parse_args()
    report = run(args.folder.resolve(), None)
    failing: dict[Path, dict[str, str]] = {}
    for row in report["failures"]:
        file = ROOT / row["file"].rsplit(":", 1)[0]
        failing.setdefault(file, {})[row["name"]] = reason(row["failure"])
    total = 0
    for path in sorted(args.folder.rglob("*.yml")):
        text, changed = sync(path, failing.get(path.resolve(), {}))
        total += changed
        if changed and not args.check:
            path.write_text(text, encoding="utf-8")
        if changed:
            print(f"{path.relative_to(ROOT)}: {changed} mark(s) {'out of date' if args.check else 'updated'}")
    print(json.dumps({k: report[k] for k in ("overall", "tuning", "heldout")}))
    if args.check and total:
        sys.exit(1)


if __name__ == "__main__":
    main()

"""Labelled sentiment examples: the repository's support messages (CSV) and, optionally, a general
corpus (JSONL `{"text", "label"}`, e.g. the TweetEval validation split). Problems are reported with
file:line and the fix, all at once."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.errors import Problem, TrainingDataError, display_path
from bot.sentiment.types import LABELS, SentimentLabel

SUPPORT_FILE = Path("sentiment") / "support.csv"
"""The support-domain examples, relative to the intents folder."""


@dataclass(frozen=True)
class SentimentExample:
    text: str
    label: SentimentLabel
    source: str = ""


def _label(value: str) -> SentimentLabel | None:
    value = value.strip().lower()
    for label in LABELS:
        if value == label:
            return label
    return None


def read_support_csv(path: Path, root: Path | None = None) -> list[SentimentExample]:
    """`label,text` rows (a header row, `#` comment lines); raises TrainingDataError listing every bad row."""
    shown = display_path(path, root)
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TrainingDataError([Problem(shown, None, f"cannot be read ({e})", "save it as UTF-8 text")]) from e
    examples: list[SentimentExample] = []
    problems: list[Problem] = []
    header_seen = False
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        row = next(csv.reader(io.StringIO(line)))
        if not header_seen:
            header_seen = True
            if [c.strip().lower() for c in row] == ["label", "text"]:
                continue
            problems.append(Problem(shown, number, "the first row must be the header", "write: label,text"))
            continue
        if len(row) != 2:
            problems.append(
                Problem(
                    shown,
                    number,
                    f"expected 2 columns (label,text), found {len(row)}",
                    'quote a message that holds a comma: negative,"late, again"',
                )
            )
            continue
        label, text = _label(row[0]), row[1].strip()
        if label is None:
            problems.append(
                Problem(shown, number, f"unknown label {row[0]!r}", f"use one of: {', '.join(LABELS)}", column="label")
            )
        elif not text:
            problems.append(Problem(shown, number, "the message is empty", "write the message or delete the row"))
        else:
            examples.append(SentimentExample(text, label, shown))
    if problems:
        raise TrainingDataError(problems)
    return examples


def read_jsonl(path: Path, root: Path | None = None) -> list[SentimentExample]:
    """`{"text", "label"}` per line; raises TrainingDataError listing every bad line."""
    shown = display_path(path, root)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise TrainingDataError([Problem(shown, None, f"cannot be read ({e})", "check the path")]) from e
    examples: list[SentimentExample] = []
    problems: list[Problem] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            label = _label(str(row["label"]))
            text = str(row["text"]).strip()
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            problems.append(Problem(shown, number, f"not a JSON object with text and label ({e})", ""))
            continue
        if label is None or not text:
            problems.append(Problem(shown, number, "empty text or unknown label", f"label: {', '.join(LABELS)}"))
            continue
        examples.append(SentimentExample(text, label, shown))
    if problems:
        raise TrainingDataError(problems)
    return examples


def examples_fingerprint(examples: Sequence[SentimentExample]) -> str:
    digest = hashlib.sha256()
    for example in examples:
        digest.update(f"{example.label}\x00{example.text}\x01".encode())
    return digest.hexdigest()

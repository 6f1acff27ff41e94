"""Rasa NLU training data (`nlu:` sections of Rasa 3.1 YAML): intents with examples, synonyms,
regexes and lookup tables, each example remembering its file and line."""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from bot.errors import Problem
from bot.nlu.annotations import Annotation, AnnotationError, parse_example
from bot.yamlfile import LineDict, LineList

NLU_KINDS = ("intent", "synonym", "regex", "lookup")
_ITEM_KEYS = {*NLU_KINDS, "examples", "metadata"}


@dataclass(frozen=True)
class Example:
    """One training example: plain text for the classifier, annotations for entities."""

    text: str
    intent: str
    entities: tuple[Annotation, ...]
    file: str
    line: int
    raw: str = ""


@dataclass
class TrainingData:
    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)  # lower-cased text -> canonical value
    regexes: dict[str, list[str]] = field(default_factory=dict)  # entity -> patterns
    lookups: dict[str, list[str]] = field(default_factory=dict)  # entity -> values
    intent_lines: dict[str, tuple[str, int]] = field(default_factory=dict)

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples} | set(self.intent_lines))

    def examples_by_intent(self) -> dict[str, list[Example]]:
        grouped: dict[str, list[Example]] = defaultdict(list)
        for example in self.examples:
            grouped[example.intent].append(example)
        return dict(grouped)

    def fingerprint(self) -> str:
        """A hash of everything training depends on (texts, labels, extractor data)."""
        payload = {
            "examples": sorted((e.intent, e.text) for e in self.examples),
            "synonyms": sorted(self.synonyms.items()),
            "regexes": sorted((k, sorted(v)) for k, v in self.regexes.items()),
            "lookups": sorted((k, sorted(v)) for k, v in self.lookups.items()),
        }
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def _list_lines(value: str, first_line: int) -> list[tuple[str, int]]:
    """The `- item` lines of a Rasa `examples: |` block with their file lines."""
    items: list[tuple[str, int]] = []
    for offset, line in enumerate(value.splitlines()):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("- "):
            items.append((stripped[2:].strip(), first_line + offset))
        elif stripped == "-":
            items.append(("", first_line + offset))
        else:
            items.append((f"\x00{stripped}", first_line + offset))
    return items


def _examples_of(item: LineDict, file: str) -> tuple[list[tuple[str, int]], list[Problem]]:
    """Examples as (raw text, line); accepts the block form and the extended list form."""
    problems: list[Problem] = []
    value = item.get("examples")
    line = item.value_lines.get("examples", item.line)
    if value is None:
        return [], problems
    if isinstance(value, str):
        result = []
        for text, text_line in _list_lines(value, line):
            if text.startswith("\x00"):
                problems.append(
                    Problem(
                        file,
                        text_line,
                        f"'{text[1:]}' is not a list item",
                        "start each example with '- ' (a dash and a space)",
                    )
                )
            else:
                result.append((text, text_line))
        return result, problems
    if isinstance(value, LineList):
        result = []
        for entry, entry_line in zip(value, value.item_lines, strict=True):
            if isinstance(entry, dict) and isinstance(entry.get("text"), str):
                result.append((entry["text"], entry_line))
            elif isinstance(entry, str):
                result.append((entry, entry_line))
            else:
                problems.append(Problem(file, entry_line, "an example must be text", "write `- text: your example`"))
        return result, problems
    problems.append(
        Problem(file, line, "examples must be a block of '- ' lines", "write `examples: |` then `- ...` lines")
    )
    return [], problems


def parse_nlu_section(section: Any, file: str, line: int, data: TrainingData) -> list[Problem]:
    """Add one file's `nlu:` list to `data`; return the problems found."""
    problems: list[Problem] = []
    if not isinstance(section, LineList):
        return [Problem(file, line, "'nlu' must be a list", "write `nlu:` followed by `- intent: name` items")]
    for item, item_line in zip(section, section.item_lines, strict=True):
        if not isinstance(item, LineDict):
            problems.append(Problem(file, item_line, "an nlu item must be a mapping", "write `- intent: name`"))
            continue
        kind_and_name = _item_kind(item, file, item_line, problems)
        if kind_and_name is None:
            continue
        kind, name = kind_and_name
        examples, found = _examples_of(item, file)
        problems.extend(found)
        if kind == "intent":
            problems.extend(_add_intent(data, name, examples, file, item_line))
        elif kind == "synonym":
            for raw, _ in examples:
                data.synonyms[_normalise(raw)] = name
        elif kind == "regex":
            problems.extend(_add_regexes(data, name, examples, file))
        else:
            data.lookups.setdefault(name, []).extend(raw for raw, _ in examples)
    return problems


def _item_kind(item: LineDict, file: str, item_line: int, problems: list[Problem]) -> tuple[str, str] | None:
    """(kind, name) of one nlu item, or None when it cannot be read; adds the problems found."""
    kinds = [k for k in NLU_KINDS if k in item]
    for key in item:
        if key not in _ITEM_KEYS:
            problems.append(
                Problem(
                    file,
                    item.key_lines[key],
                    f"unknown key '{key}' in an nlu item",
                    f"use one of: {', '.join(sorted(_ITEM_KEYS))}",
                )
            )
    if len(kinds) != 1:
        problems.append(
            Problem(
                file,
                item_line,
                "an nlu item needs exactly one of intent, synonym, regex, lookup",
                "start the item with `- intent: name`",
            )
        )
        return None
    kind = kinds[0]
    name = item[kind]
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem(file, item_line, f"the {kind} has no name", f"write `- {kind}: name`"))
        return None
    return kind, name.strip()


def _add_intent(
    data: TrainingData, name: str, examples: list[tuple[str, int]], file: str, item_line: int
) -> list[Problem]:
    """Add an intent's examples (annotations parsed) to `data`; return the problems found."""
    problems: list[Problem] = []
    data.intent_lines.setdefault(name, (file, item_line))
    if not examples:
        problems.append(
            Problem(
                file,
                item_line,
                f"intent '{name}' has no examples",
                "add examples as `examples: |` followed by `- ...` lines, or remove the intent",
            )
        )
    for raw, raw_line in examples:
        try:
            text, annotations = parse_example(raw)
        except AnnotationError as e:
            problems.append(Problem(file, raw_line, str(e).split(" — ")[0], _fix_of(e)))
            continue
        if not text.strip():
            problems.append(Problem(file, raw_line, f"empty example in intent '{name}'", "remove the empty line"))
            continue
        data.examples.append(Example(text.strip(), name, annotations, file, raw_line, raw))
    return problems


def _add_regexes(data: TrainingData, name: str, patterns: list[tuple[str, int]], file: str) -> list[Problem]:
    """Add an entity's regexes to `data`; return the invalid ones as problems."""
    problems: list[Problem] = []
    for raw, raw_line in patterns:
        try:
            re.compile(raw)
        except re.error as e:
            problems.append(Problem(file, raw_line, f"regex '{raw}' is invalid ({e})", "fix the regular expression"))
            continue
        data.regexes.setdefault(name, []).append(raw)
    return problems


def _fix_of(error: Exception) -> str:
    parts = str(error).split(" — ", 1)
    return parts[1] if len(parts) == 2 else ""


def validate_training_data(data: TrainingData, *, min_examples: int) -> list[Problem]:
    """Cross-file checks: duplicates across intents, too few examples."""
    problems: list[Problem] = []
    seen: dict[str, Example] = {}
    for example in data.examples:
        key = _normalise(example.text)
        first = seen.get(key)
        if first is None:
            seen[key] = example
        elif first.intent != example.intent:
            problems.append(
                Problem(
                    example.file,
                    example.line,
                    f"'{example.text}' is an example of both '{first.intent}' "
                    f"({first.file}:{first.line}) and '{example.intent}'",
                    "keep it in the one intent it belongs to",
                )
            )
        else:
            problems.append(
                Problem(
                    example.file,
                    example.line,
                    f"'{example.text}' appears twice in intent '{example.intent}' (first at line {first.line})",
                    "remove the repeated example",
                    severity="warning",
                )
            )
    counts = {name: len(items) for name, items in data.examples_by_intent().items()}
    for name, (file, line) in sorted(data.intent_lines.items()):
        count = counts.get(name, 0)
        if 0 < count < min_examples:
            problems.append(
                Problem(
                    file,
                    line,
                    f"intent '{name}' has {count} example(s); at least {min_examples} are needed",
                    f"add {min_examples - count} more varied example(s) (20 or more work best)",
                )
            )
    if len(counts) < 2 and data.intent_lines:
        file, line = next(iter(data.intent_lines.values()))
        problems.append(
            Problem(file, line, "only one intent is defined", "add at least one more intent (e.g. out_of_scope)")
        )
    return problems

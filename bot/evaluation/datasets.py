"""Labelled texts for evaluation, read from Rasa NLU YAML or JSON Lines.

- `*.jsonl` (or `*.json` with one object per line): `{"text": "...", "intent": "..."}` per line.
- `*.yml` / `*.yaml`: Rasa 3.x NLU data (`nlu:` with `- intent:` and `examples:`); entity
  annotations are stripped; other keys (responses, rules …) are ignored. A folder reads every file.

The label `oos` (or `out_of_scope`) marks an out-of-scope example. Problems raise `DataError` with
the file and line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bot import intent_names
from bot.errors import DataError, Problem
from bot.nlu.training_data import TrainingData, parse_nlu_section
from bot.yamlfile import LineDict, read_yaml_file

OOS_LABELS = intent_names.OUT_OF_SCOPE_LABELS
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
YAML_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class LabelledText:
    text: str
    intent: str


def read_examples(path: Path) -> list[LabelledText]:
    """Every labelled example of a file or folder; raises `DataError` listing each problem."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (*YAML_SUFFIXES, *JSONL_SUFFIXES))
        if not files:
            raise DataError(
                [
                    Problem(
                        str(path),
                        None,
                        "the folder has no .yml or .jsonl files",
                        "pass a Rasa NLU YAML file or a JSON Lines file",
                    )
                ]
            )
        return [e for f in files for e in read_examples(f)]
    if not path.is_file():
        raise DataError([Problem(str(path), None, "the file does not exist", "check the path")])
    if path.suffix in JSONL_SUFFIXES:
        examples = _read_jsonl(path)
    elif path.suffix in YAML_SUFFIXES:
        examples = _read_rasa_yaml(path)
    else:
        raise DataError(
            [
                Problem(
                    str(path),
                    None,
                    f"unknown file type '{path.suffix}'",
                    "use .jsonl (JSON Lines) or .yml (Rasa NLU YAML)",
                )
            ]
        )
    if not examples:
        raise DataError(
            [Problem(str(path), None, "the file has no examples", 'add lines like {"text": "hi", "intent": "greet"}')]
        )
    return examples


def _read_jsonl(path: Path) -> list[LabelledText]:
    examples: list[LabelledText] = []
    problems: list[Problem] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as e:
                problems.append(
                    Problem(
                        str(path),
                        number,
                        f"not JSON ({e.msg})",
                        'write one object per line: {"text": "...", "intent": "..."}',
                    )
                )
                continue
            text = item.get("text") if isinstance(item, dict) else None
            intent = item.get("intent") if isinstance(item, dict) else None
            if not isinstance(text, str) or not text.strip() or not isinstance(intent, str) or not intent.strip():
                problems.append(
                    Problem(
                        str(path),
                        number,
                        'the line needs a "text" and an "intent"',
                        'write {"text": "where is my parcel", "intent": "order_status"}',
                    )
                )
                continue
            examples.append(LabelledText(text.strip(), intent.strip()))
    if problems:
        raise DataError(problems)
    return examples


def _read_rasa_yaml(path: Path) -> list[LabelledText]:
    data, problems = read_yaml_file(path, str(path))
    if data is not None and not isinstance(data, LineDict):
        problems.append(Problem(str(path), 1, "a Rasa NLU file must be a mapping", "start with `nlu:`"))
    training = TrainingData()
    if isinstance(data, LineDict) and "nlu" in data:
        problems.extend(parse_nlu_section(data["nlu"], str(path), data.key_lines["nlu"], training))
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise DataError(errors)
    return [LabelledText(e.text, e.intent) for e in training.examples]


def has_out_of_scope(labels: list[str]) -> str | None:
    """The out-of-scope label used in `labels` (`oos` or `out_of_scope`), if any."""
    return next((label for label in sorted(intent_names.OUT_OF_SCOPE_LABELS) if label in labels), None)

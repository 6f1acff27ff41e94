"""Reads the `intents/` folder: every `*.yml`/`*.yaml` except `tests/`, Rasa 3.1 format.

A file may mix `nlu:` and domain keys (`responses:`, `slots:`, `forms:`, `rules:` …), as Rasa allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.domain import DOMAIN_KEYS, Domain, parse_domain_section, validate_domain
from bot.errors import Problem, TrainingDataError, display_path
from bot.nlu.training_data import TrainingData, parse_nlu_section, validate_training_data
from bot.yamlfile import LineDict, read_yaml_file

TOP_LEVEL_KEYS = {"version", "nlu", *DOMAIN_KEYS}


@dataclass
class IntentsProject:
    data: TrainingData = field(default_factory=TrainingData)
    domain: Domain = field(default_factory=Domain)
    problems: list[Problem] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def intent_files(folder: Path) -> list[Path]:
    files = [
        p
        for p in sorted(folder.rglob("*"))
        if p.suffix in (".yml", ".yaml") and p.is_file() and "tests" not in p.relative_to(folder).parts[:-1]
    ]
    return files


def load_intents(folder: Path, *, root: Path | None = None, min_examples: int = 3) -> IntentsProject:
    """Load and validate everything; problems are collected, never raised (see `require_valid`)."""
    project = IntentsProject()
    if not folder.is_dir():
        project.problems.append(
            Problem(
                display_path(folder, root),
                None,
                "the intents folder does not exist",
                "create it or set SUPPORTBOT_INTENTS_DIR",
            )
        )
        return project
    project.files = intent_files(folder)
    for path in project.files:
        shown = display_path(path, root)
        data, problems = read_yaml_file(path, shown)
        project.problems.extend(problems)
        if data is None:
            if not problems:
                project.problems.append(
                    Problem(shown, None, "the file is empty", 'add `version: "3.1"` and `nlu:` or delete it')
                )
            continue
        if not isinstance(data, LineDict):
            project.problems.append(Problem(shown, 1, "the file must be a YAML mapping", 'start with `version: "3.1"`'))
            continue
        for key, value in data.items():
            line = data.key_lines[key]
            if key not in TOP_LEVEL_KEYS:
                project.problems.append(
                    Problem(
                        shown,
                        line,
                        f"unknown key '{key}'",
                        f"use one of: {', '.join(sorted(TOP_LEVEL_KEYS))}",
                    )
                )
            elif key == "version":
                if str(value) not in ("3.0", "3.1"):
                    project.problems.append(
                        Problem(shown, line, f"version '{value}' is not supported", 'write version: "3.1"', "warning")
                    )
            elif key == "nlu":
                project.problems.extend(parse_nlu_section(value, shown, line, project.data))
            else:
                project.problems.extend(parse_domain_section(key, value, shown, line, project.domain))
    project.problems.extend(validate_training_data(project.data, min_examples=min_examples))
    project.problems.extend(validate_domain(project.domain, set(project.data.intents)))
    return project


def require_valid(project: IntentsProject) -> IntentsProject:
    if project.errors:
        raise TrainingDataError(project.problems)
    return project

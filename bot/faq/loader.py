"""Find and read every knowledge file of a folder: Markdown, CSV/TSV and `variables.yml`.

Knowledge files are `*.md` (except README.md), `*.csv` and `*.tsv` in the folder and its subfolders,
except `templates/`, `tests/` and hidden folders. Other files (e.g. `stores.yml`) are ignored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import Problem, display_path
from bot.faq.csv_io import delimiter_for, parse_table
from bot.faq.entry import KnowledgeEntry
from bot.faq.markdown_loader import parse_markdown
from bot.yamlfile import read_yaml_file

KNOWLEDGE_SUFFIXES = (".md", ".csv", ".tsv")
EXCLUDED_DIRS = frozenset({"templates", "tests"})
VARIABLES_FILE = "variables.yml"


@dataclass(frozen=True)
class LoadedKnowledge:
    """Everything read from the folder, before cross-entry validation."""

    entries: tuple[KnowledgeEntry, ...]
    variables: Mapping[str, Any]
    files: tuple[str, ...]
    problems: tuple[Problem, ...] = field(default=())


def discover_files(folder: Path) -> list[Path]:
    """The knowledge files under `folder`, sorted."""
    found: list[Path] = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") or part in EXCLUDED_DIRS for part in rel.parts[:-1]):
            continue
        if rel.name.startswith(".") or not path.is_file():
            continue
        if path.suffix.lower() in KNOWLEDGE_SUFFIXES and rel.name.lower() != "readme.md":
            found.append(path)
    return found


ParseCache = MutableMapping[tuple[str, str], tuple[list[KnowledgeEntry], list[Problem]]]


def load_file(path: Path, display: str, cache: ParseCache | None = None) -> tuple[list[KnowledgeEntry], list[Problem]]:
    """Read one Markdown, CSV or TSV knowledge file.

    `cache` maps (display path, digest of the text) to a parse result, so a reload re-parses only
    changed files (entries are immutable, so results are shared safely).
    """
    return _load_file(path, display, cache)[1]


def _load_file(
    path: Path, display: str, cache: ParseCache | None
) -> tuple[tuple[str, str] | None, tuple[list[KnowledgeEntry], list[Problem]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        return None, ([], [Problem(display, None, f"not UTF-8 text ({e.reason})", "save the file as UTF-8")])
    except OSError as e:
        fix = "check it exists and is readable"
        return None, ([], [Problem(display, None, f"cannot read the file: {e.strerror}", fix)])
    key = (display, hashlib.blake2b(text.encode(), digest_size=16).hexdigest())
    if cache is not None and key in cache:
        entries, problems = cache[key]
        return key, (list(entries), list(problems))
    if path.suffix.lower() == ".md":
        result = parse_markdown(text, display)
    else:
        result = parse_table(text, display, delimiter_for(path))
    if cache is not None:
        cache[key] = (list(result[0]), list(result[1]))
    return key, result


def load_variables(folder: Path, root: Path) -> tuple[dict[str, Any], list[Problem]]:
    path = folder / VARIABLES_FILE
    if not path.is_file():
        return {}, []
    display = display_path(path, root)
    data, problems = read_yaml_file(path, display)
    if data is None:
        return {}, problems
    if not isinstance(data, Mapping):
        problems.append(
            Problem(
                display, 1, "variables.yml must be a list of 'name: value' lines", 'write e.g. return_window_days: "30"'
            )
        )
        return {}, problems
    key_lines: Mapping[Any, int] = getattr(data, "key_lines", {})
    variables: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not key.isidentifier():
            problems.append(
                Problem(
                    display,
                    key_lines.get(key),
                    f"variable name '{key}' is not a plain word",
                    "use letters, digits and '_' only, e.g. return_window_days",
                )
            )
        elif isinstance(value, Mapping | list):
            problems.append(
                Problem(
                    display,
                    key_lines.get(key),
                    f"variable '{key}' must be a single value",
                    'write it on one line, e.g. return_window_days: "30"',
                )
            )
        else:
            variables[key] = "" if value is None else value
    return variables, problems


def load_knowledge(folder: Path, root: Path | None = None, cache: ParseCache | None = None) -> LoadedKnowledge:
    """Read every knowledge file; problems are collected, never raised.

    With `cache` (see `load_file`), unchanged files are not parsed again; results of files that
    changed or are gone are dropped from it.
    """
    root = root or folder.parent
    problems: list[Problem] = []
    if not folder.is_dir():
        problems.append(
            Problem(
                display_path(folder, root),
                None,
                "the knowledge folder does not exist",
                "create it, or set SUPPORTBOT_KNOWLEDGE_DIR to the folder with your .md files",
            )
        )
        return LoadedKnowledge((), {}, (), tuple(problems))
    variables, var_problems = load_variables(folder, root)
    problems.extend(var_problems)
    entries: list[KnowledgeEntry] = []
    files: list[str] = []
    used: set[tuple[str, str]] = set()
    for path in discover_files(folder):
        display = display_path(path, root)
        files.append(display)
        key, (found, file_problems) = _load_file(path, display, cache)
        if key is not None:
            used.add(key)
        entries.extend(found)
        problems.extend(file_problems)
    if cache is not None:
        for stale in [k for k in cache if k not in used]:
            del cache[stale]
    return LoadedKnowledge(tuple(entries), variables, tuple(files), tuple(problems))

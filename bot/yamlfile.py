"""YAML loading that remembers line numbers, so every error can name file:line."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from bot.errors import Problem


class LineDict(dict[Any, Any]):
    """A mapping from YAML that knows the line of itself, each key and each value."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.key_lines: dict[Any, int] = {}
        self.value_lines: dict[Any, int] = {}


class LineList(list[Any]):
    """A sequence from YAML that knows its line and the line of each item."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.item_lines: list[int] = []


class _LineLoader(yaml.SafeLoader):
    """SafeLoader building LineDict/LineList and refusing duplicate keys."""

    duplicates: list[tuple[Any, int]]


def _value_line(node: yaml.Node) -> int:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        return line + 1  # block scalars start on the next line
    return line


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    mapping = LineDict()
    mapping.line = node.start_mark.line + 1
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):  # `? [a, b]`: a list or mapping as a key
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "a list or mapping is used as a key",
                key_node.start_mark,
            )
        value = loader.construct_object(value_node, deep=True)
        if key in mapping:
            loader.duplicates.append((key, key_node.start_mark.line + 1))
        mapping[key] = value
        mapping.key_lines[key] = key_node.start_mark.line + 1
        mapping.value_lines[key] = _value_line(value_node)
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    items = LineList()
    items.line = node.start_mark.line + 1
    for child in node.value:
        items.append(loader.construct_object(child, deep=True))
        items.item_lines.append(child.start_mark.line + 1)
    return items


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(text: str, file: str) -> tuple[Any, list[Problem]]:
    """Parse YAML text. Returns (data, problems); data is None when the syntax is broken."""
    try:
        loader = _LineLoader(text)  # refuses control characters at once
    except yaml.reader.ReaderError as e:
        return None, [_unreadable_character(e, text, file)]
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.reader.ReaderError as e:
        return None, [_unreadable_character(e, text, file)]
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else None
        what = e.problem or "invalid YAML"
        return None, [
            Problem(
                file,
                line,
                f"YAML syntax error: {what}",
                "check indentation and that text with ':' or '#' is quoted",
            )
        ]
    except yaml.YAMLError as e:
        return None, [Problem(file, None, f"YAML error: {e}", "fix the YAML syntax")]
    except RecursionError:
        return None, [Problem(file, None, "the YAML is nested too deeply to read", "flatten the nested lists or maps")]
    finally:
        loader.dispose()
    problems = [
        Problem(file, line, f"key '{key}' appears twice", "remove or rename one of them")
        for key, line in loader.duplicates
    ]
    return data, problems


def _unreadable_character(error: yaml.reader.ReaderError, text: str, file: str) -> Problem:
    """A character YAML does not allow (a control character such as U+001F), with its line."""
    line = text.count("\n", 0, error.position) + 1 if isinstance(error.position, int) else None
    character = error.character if isinstance(error.character, int) else 0
    return Problem(
        file,
        line,
        f"the character U+{character:04X} is not allowed in YAML",
        "delete it (it is invisible in most editors: retype the line)",
    )


def read_yaml_file(path: Path, display: str) -> tuple[Any, list[Problem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        return None, [Problem(display, None, f"not UTF-8 text ({e.reason})", "save the file as UTF-8")]
    return load_yaml(text, display)

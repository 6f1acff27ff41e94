"""The YAML front matter of a knowledge Markdown file (title, tags, owner, url)::

---
title: Payments
tags: [payments, billing]
---
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.errors import Problem
from bot.yamlfile import load_yaml

FRONT_MATTER_KEYS = ("title", "tags", "owner", "url")


@dataclass(frozen=True)
class FileMeta:
    """Front matter of one file."""

    title: str = ""
    tags: tuple[str, ...] = ()
    owner: str | None = None
    url: str | None = None


def parse_front_matter(lines: list[str], file: str) -> tuple[FileMeta, int, list[Problem]]:
    """Returns (meta, index of the first body line, problems)."""
    if not lines or lines[0].strip() != "---":
        return FileMeta(), 0, []
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        never_closed = Problem(
            file,
            1,
            "front matter starts with '---' but is never closed",
            "add a line '---' after the title/tags/owner/url lines",
        )
        return FileMeta(), 0, [never_closed]
    data, problems = load_yaml("\n".join(lines[1:end]), file)
    problems = _shift(problems, 1)
    if data is None:
        return FileMeta(), end + 1, problems
    if not isinstance(data, Mapping):
        problems.append(
            Problem(
                file,
                2,
                "front matter must be 'key: value' lines",
                "write e.g. 'title: Payments' between the two '---' lines",
            )
        )
        return FileMeta(), end + 1, problems
    key_lines: Mapping[Any, int] = getattr(data, "key_lines", {})
    meta: dict[str, Any] = {}
    for key, value in data.items():
        line = key_lines.get(key, 0) + 1 if key in key_lines else 2
        problem = _read_key(meta, key, value, file, line)
        if problem is not None:
            problems.append(problem)
    return FileMeta(**meta), end + 1, problems


def _read_key(meta: dict[str, Any], key: Any, value: Any, file: str, line: int) -> Problem | None:
    """Put one front matter value into `meta`, or say what is wrong with it."""
    if key not in FRONT_MATTER_KEYS:
        return Problem(
            file,
            line,
            f"unknown front matter key '{key}'",
            f"use only {', '.join(FRONT_MATTER_KEYS)}",
            severity="warning",
        )
    if key == "tags":
        if isinstance(value, str):
            value = [t.strip() for t in value.split(",") if t.strip()]
        if not isinstance(value, list) or not all(isinstance(t, str | int) for t in value):
            return Problem(file, line, "'tags' must be a list of words", "write e.g. 'tags: [payments, billing]'")
        meta["tags"] = tuple(str(t) for t in value)
        return None
    if value is None:
        return None
    if not isinstance(value, str | int | float):
        return Problem(
            file,
            line,
            f"'{key}' must be a single line of text",
            f"write e.g. '{key}: some text' (quote it if it contains ':')",
        )
    if key == "url" and not str(value).startswith(("http://", "https://", "/")):
        return Problem(
            file, line, f"'url' is not a web address: {value!r}", "write a full address starting with https://"
        )
    meta[key] = str(value)
    return None


def _shift(problems: list[Problem], offset: int) -> list[Problem]:
    return [dataclasses.replace(p, line=(p.line + offset) if p.line is not None else None) for p in problems]

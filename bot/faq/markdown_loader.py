"""Read one Markdown knowledge file into entries, with the exact line of every finding.

The format (documented for staff in knowledge/README.md)::

    ---                                   optional YAML front matter: title, tags, owner, url
    title: Payments
    ---
    # Payments                            an H1 and anything before the first `## ` is ignored

    ## Which payment methods do you accept? {#payment-methods}
    Country: France, Germany              optional: what the answer is specifically about
                                          (Country, Shop, Product), right under the heading
    Also asked:                           optional, right under the heading (and the about lines)
    - how can I pay                       one alternate phrasing per `- ` line, up to a blank line
    - do you take PayPal

    The answer: Markdown up to the next `## ` heading. It may use {{ variables }}.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.errors import Problem
from bot.faq.entry import KnowledgeEntry, slugify
from bot.yamlfile import load_yaml

FRONT_MATTER_KEYS = ("title", "tags", "owner", "url")
_HEADING = re.compile(r"^##(?!#)(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_H1 = re.compile(r"^#(?!#)([ \t]|$)")
_ID_SUFFIX = re.compile(r"[ \t]*\{#([^}]*)\}[ \t]*$")
_VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_ALSO_ASKED = re.compile(r"^also asked[ \t]*:[ \t]*$", re.IGNORECASE)
ABOUT_KEYS = {"country": "country", "countries": "country", "shop": "shop", "shops": "shop",
              "product": "product", "products": "product"}  # fmt: skip
_ABOUT = re.compile(r"^([A-Za-z]+)[ \t]*:[ \t]*(.*?)[ \t]*$")
_BULLET = re.compile(r"^[ \t]*[-*+][ \t]+(.*\S)[ \t]*$")
_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


@dataclass(frozen=True)
class FileMeta:
    """Front matter of one file."""

    title: str = ""
    tags: tuple[str, ...] = ()
    owner: str | None = None
    url: str | None = None


def _shift(problems: list[Problem], offset: int) -> list[Problem]:
    return [dataclasses.replace(p, line=(p.line + offset) if p.line is not None else None) for p in problems]


def parse_front_matter(lines: list[str], file: str) -> tuple[FileMeta, int, list[Problem]]:
    """Returns (meta, index of the first body line, problems)."""
    if not lines or lines[0].strip() != "---":
        return FileMeta(), 0, []
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        return (
            FileMeta(),
            0,
            [
                Problem(
                    file,
                    1,
                    "front matter starts with '---' but is never closed",
                    "add a line '---' after the title/tags/owner/url lines",
                )
            ],
        )
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

    def line_of(key: str) -> int:
        return key_lines.get(key, 0) + 1 if key in key_lines else 2

    meta: dict[str, Any] = {}
    for key, value in data.items():
        if key not in FRONT_MATTER_KEYS:
            problems.append(
                Problem(
                    file,
                    line_of(key),
                    f"unknown front matter key '{key}'",
                    f"use only {', '.join(FRONT_MATTER_KEYS)}",
                    severity="warning",
                )
            )
        elif key == "tags":
            if isinstance(value, str):
                value = [t.strip() for t in value.split(",") if t.strip()]
            if not isinstance(value, list) or not all(isinstance(t, str | int) for t in value):
                problems.append(
                    Problem(
                        file, line_of(key), "'tags' must be a list of words", "write e.g. 'tags: [payments, billing]'"
                    )
                )
            else:
                meta["tags"] = tuple(str(t) for t in value)
        elif value is None:
            continue
        elif not isinstance(value, str | int | float):
            problems.append(
                Problem(
                    file,
                    line_of(key),
                    f"'{key}' must be a single line of text",
                    f"write e.g. '{key}: some text' (quote it if it contains ':')",
                )
            )
        elif key == "url" and not str(value).startswith(("http://", "https://", "/")):
            problems.append(
                Problem(
                    file,
                    line_of(key),
                    f"'url' is not a web address: {value!r}",
                    "write a full address starting with https://",
                )
            )
        else:
            meta[key] = str(value)
    return FileMeta(**meta), end + 1, problems


def parse_markdown(text: str, file: str) -> tuple[list[KnowledgeEntry], list[Problem]]:
    """Parse a knowledge Markdown file. `file` is the name used in entries and problems."""
    lines = text.splitlines()
    if not text.strip():
        return [], [
            Problem(
                file,
                None,
                "the file is empty",
                "add at least one '## question' heading followed by its answer, or delete the file",
            )
        ]
    meta, start, problems = parse_front_matter(lines, file)
    stem = file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    headings: list[int] = []
    in_fence = False
    for i in range(start, len(lines)):
        if _FENCE.match(lines[i]):
            in_fence = not in_fence
        elif not in_fence and _HEADING.match(lines[i]):
            headings.append(i)
    if not headings:
        problems.append(
            Problem(
                file,
                None,
                "no entries: the file has no '## ' question heading",
                "start each question with '## ' on its own line, e.g. '## How can I pay?'",
            )
        )
        return [], problems
    entries: list[KnowledgeEntry] = []
    for n, h in enumerate(headings):
        stop = headings[n + 1] if n + 1 < len(headings) else len(lines)
        entry, found = _parse_entry(lines, h, stop, file, stem, meta)
        problems.extend(found)
        if entry is not None:
            entries.append(entry)
    return entries, problems


def _parse_entry(
    lines: list[str], h: int, stop: int, file: str, stem: str, meta: FileMeta
) -> tuple[KnowledgeEntry | None, list[Problem]]:
    problems: list[Problem] = []
    heading_line = h + 1
    match = _HEADING.match(lines[h])
    question = (match.group(1) or "") if match else ""
    explicit_id = False
    entry_id = ""
    id_match = _ID_SUFFIX.search(question)
    if id_match:
        entry_id = id_match.group(1).strip()
        question = question[: id_match.start()].strip()
        explicit_id = True
        if not _VALID_ID.match(entry_id):
            problems.append(
                Problem(
                    file,
                    heading_line,
                    f"invalid id '{{#{entry_id}}}'",
                    "use letters, digits, '-', '_' or '.', e.g. {#payment-methods}",
                )
            )
    if not question:
        problems.append(
            Problem(
                file,
                heading_line,
                "the '## ' heading has no question",
                "write the question after '## ', e.g. '## How can I pay?'",
            )
        )
        return None, problems
    if not explicit_id:
        entry_id = f"{slugify(stem)}/{slugify(question)}"
    i = h + 1
    while i < stop and not lines[i].strip():
        i += 1
    about: dict[str, tuple[str, ...]] = {}
    while i < stop and (about_match := _ABOUT.match(lines[i].strip())) and about_match.group(1).lower() in ABOUT_KEYS:
        key = ABOUT_KEYS[about_match.group(1).lower()]
        values = tuple(v.strip().lower() for v in about_match.group(2).split(",") if v.strip())
        if not values:
            problems.append(
                Problem(
                    file,
                    i + 1,
                    f"'{about_match.group(1)}:' names nothing",
                    f"list what the answer is about, e.g. '{about_match.group(1)}: Austria, Belgium', "
                    "or remove the line",
                )
            )
        elif key in about:
            problems.append(
                Problem(
                    file,
                    i + 1,
                    f"'{about_match.group(1)}:' appears twice under this question",
                    "put all the values on one line, separated by commas",
                )
            )
        else:
            about[key] = values
        i += 1
    while i < stop and not lines[i].strip():
        i += 1
    alternates: list[str] = []
    alternate_lines: list[int] = []
    if i < stop and _ALSO_ASKED.match(lines[i].strip()):
        also_line = i + 1
        i += 1
        while i < stop and lines[i].strip():
            bullet = _BULLET.match(lines[i])
            if bullet is None:
                problems.append(
                    Problem(
                        file,
                        i + 1,
                        "a line in the 'Also asked:' list does not start with '- '",
                        "start each alternate phrasing with '- ', and leave an empty line "
                        "between the list and the answer",
                    )
                )
            else:
                alternates.append(bullet.group(1).strip())
                alternate_lines.append(i + 1)
            i += 1
        if not alternates:
            problems.append(
                Problem(
                    file,
                    also_line,
                    "'Also asked:' is followed by no '- ' phrasing",
                    "add lines like '- how can I pay' right under it, or remove the line",
                )
            )
    body = [line for line in lines[i:stop] if not _H1.match(line)]
    answer_line = i + 1
    while body and not body[0].strip():
        body.pop(0)
        answer_line += 1
    answer = "\n".join(body).strip()
    if not _COMMENT.sub("", answer).strip():
        problems.append(
            Problem(
                file,
                heading_line,
                f"the question '{question}' has no answer",
                "write the answer under the heading (after the 'Also asked:' list and an "
                "empty line), or remove the heading",
            )
        )
        return None, problems
    entry = KnowledgeEntry(
        id=entry_id,
        question=question,
        answer=answer,
        file=file,
        line=heading_line,
        alternates=tuple(alternates),
        title=meta.title or stem.replace("-", " ").replace("_", " ").capitalize(),
        tags=meta.tags,
        url=meta.url,
        owner=meta.owner,
        answer_line=answer_line,
        explicit_id=explicit_id,
        alternate_lines=tuple(alternate_lines),
        about=tuple(sorted(about.items())),
    )
    return entry, problems

"""CSV/TSV knowledge files in the style of QnA Maker exports, and conversion to Markdown.

Columns (header row, any order, case-insensitive): `question`, `answer` (required), `alternates`
(phrasings separated by `|`), `id`, `tags` (separated by `|` or `,`). A `.tsv` file is tab-separated.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Sequence
from pathlib import Path

from bot.errors import Problem
from bot.faq.entry import KnowledgeEntry, slugify

REQUIRED_COLUMNS = ("question", "answer")
OPTIONAL_COLUMNS = ("alternates", "id", "tags")
_VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SPACE = re.compile(r"\s+")


def delimiter_for(path: Path) -> str:
    return "\t" if path.suffix.lower() == ".tsv" else ","


def parse_table(text: str, file: str, delimiter: str = ",") -> tuple[list[KnowledgeEntry], list[Problem]]:
    """Parse CSV/TSV text. Every problem names the row's first line in the file."""
    if not text.strip():
        return [], [
            Problem(
                file,
                None,
                "the file is empty",
                "add a header row 'question,answer' and one row per entry, or delete the file",
            )
        ]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except csv.Error as e:
        return [], [Problem(file, 1, f"the header row cannot be read: {e}", "fix the quoting of the first row")]
    columns = [h.strip().lower().lstrip("\ufeff") for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        sep = "tab" if delimiter == "\t" else "comma"
        return [], [
            Problem(
                file,
                1,
                f"missing column(s) {', '.join(repr(m) for m in missing)} in the header row "
                f"(found {', '.join(repr(c) for c in columns) or 'nothing'})",
                f"the first row must name the columns, {sep}-separated, e.g. 'question{delimiter}answer'",
            )
        ]
    problems: list[Problem] = [
        Problem(
            file,
            1,
            f"unknown column '{c}' is ignored",
            f"use only {', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}",
            severity="warning",
        )
        for c in columns
        if c and c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    ]
    stem = file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    title = stem.replace("-", " ").replace("_", " ").capitalize()
    entries: list[KnowledgeEntry] = []
    line = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            problems.append(
                Problem(
                    file,
                    line,
                    f"row cannot be read: {e}",
                    'put text containing commas, quotes or line breaks in double quotes ("...") '
                    'and write a quote inside it as ""',
                )
            )
            break
        row_line, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(columns):
            problems.append(
                Problem(
                    file,
                    row_line,
                    f"row has {len(row)} cells but the header has {len(columns)}",
                    "quote cells that contain the separator",
                )
            )
            continue
        cells = {c: (row[k].strip() if k < len(row) else "") for k, c in enumerate(columns)}
        question = _SPACE.sub(" ", cells["question"])
        answer = cells["answer"].replace("\r\n", "\n")
        if not question:
            problems.append(
                Problem(file, row_line, "row has no question", "fill the 'question' cell or delete the row")
            )
            continue
        if not answer:
            problems.append(
                Problem(
                    file,
                    row_line,
                    f"the question '{question}' has no answer",
                    "fill the 'answer' cell or delete the row",
                )
            )
            continue
        entry_id = cells.get("id", "")
        if entry_id and not _VALID_ID.match(entry_id):
            problems.append(
                Problem(
                    file,
                    row_line,
                    f"invalid id '{entry_id}'",
                    "use letters, digits, '-', '_' or '.', e.g. payment-methods",
                )
            )
        alternates = tuple(a.strip() for a in cells.get("alternates", "").split("|") if a.strip())
        tags = tuple(t.strip() for t in re.split(r"[|,]", cells.get("tags", "")) if t.strip())
        entries.append(
            KnowledgeEntry(
                id=entry_id or f"{slugify(stem)}/{slugify(question)}",
                question=question,
                answer=answer,
                file=file,
                line=row_line,
                alternates=alternates,
                title=title,
                tags=tags,
                answer_line=row_line,
                explicit_id=bool(entry_id),
            )
        )
    return entries, problems


def write_table(entries: Sequence[KnowledgeEntry], path: Path) -> None:
    """Export entries as CSV (or TSV for a `.tsv` path) with all five columns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter_for(path))
        writer.writerow(["id", "question", "alternates", "answer", "tags"])
        for e in entries:
            writer.writerow([e.id, e.question, "|".join(e.alternates), e.answer, "|".join(e.tags)])


_JINJA = re.compile(r"\{\{|\{%|\{#")


def _escape_markdown_answer(answer: str) -> str:
    """Make an imported answer safe for the Markdown format: literal braces, no headings."""
    lines = [("\\" + line) if line.lstrip().startswith("#") else line for line in answer.splitlines()]
    text = "\n".join(lines)
    if _JINJA.search(text):
        text = "{% raw %}" + text + "{% endraw %}"
    return text


def to_markdown(entries: Sequence[KnowledgeEntry], title: str) -> str:
    """Render entries in the knowledge Markdown format (used by `supportbot kb import`)."""
    out = ["---", f"title: {title!r}" if ":" in title else f"title: {title}", "---", "", f"# {title}", ""]
    for e in entries:
        out.append(f"## {e.question} {{#{e.id}}}" if e.explicit_id else f"## {e.question}")
        if e.alternates:
            out.append("Also asked:")
            out.extend(f"- {a}" for a in e.alternates)
        out.append("")
        out.append(_escape_markdown_answer(e.answer))
        out.append("")
    return "\n".join(out)


def read_table(path: Path, display: str) -> tuple[list[KnowledgeEntry], list[Problem]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        return [], [Problem(display, None, f"not UTF-8 text ({e.reason})", "save the file as UTF-8 (CSV UTF-8)")]
    return parse_table(text, display, delimiter_for(path))


def import_table(source: Path, dest: Path, display: str | None = None) -> tuple[list[KnowledgeEntry], list[Problem]]:
    """Convert a CSV/TSV file into a knowledge Markdown file at `dest` (written only without errors).

    Rows without an id get one derived from the question, written into the heading so it stays stable.
    """
    entries, problems = read_table(source, display or source.name)
    if any(p.severity == "error" for p in problems):
        return entries, problems
    title = source.stem.replace("-", " ").replace("_", " ").capitalize()
    stable: list[KnowledgeEntry] = []
    used = {e.id for e in entries if e.explicit_id}
    for e in entries:
        if not e.explicit_id:
            base = new_id = slugify(e.question)
            n = 2
            while new_id in used:
                new_id, n = f"{base}-{n}", n + 1
            used.add(new_id)
            e = dataclasses.replace(e, id=new_id, explicit_id=True)
        stable.append(e)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(to_markdown(stable, title), encoding="utf-8")
    return stable, problems

"""CSV/TSV knowledge files in the style of QnA Maker exports, and conversion to Markdown.

Columns (header row, any order, case-insensitive): `question`, `answer` (required), `alternates`
(phrasings separated by `|`), `id`, `tags` (separated by `|` or `,`). A `.tsv` file is tab-separated.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import Problem
from bot.faq.entry import VALID_ID, KnowledgeEntry, empty_file, file_stem, shows_nothing, slugify, title_of
from bot.faq.markdown_loader import reads_as_a_field

REQUIRED_COLUMNS = ("question", "answer")
OPTIONAL_COLUMNS = ("alternates", "id", "tags")
_SPACE = re.compile(r"\s+")


def delimiter_for(path: Path) -> str:
    return "\t" if path.suffix.lower() == ".tsv" else ","


def parse_table(text: str, file: str, delimiter: str = ",") -> tuple[list[KnowledgeEntry], list[Problem]]:
    """Parse CSV/TSV text. Every problem names the row's first line in the file."""
    if not text.strip():
        return empty_file(file, "add a header row 'question,answer' and one row per entry, or delete the file")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns, problems = _header(reader, file, delimiter)
    if columns is None:
        return [], problems
    table = _Table(file, columns, problems)
    entries = [e for row, line in _rows(reader, file, problems) if (e := table.entry(row, line)) is not None]
    return entries, problems


def _header(reader: Any, file: str, delimiter: str) -> tuple[list[str] | None, list[Problem]]:
    """The column names (None when the header is unusable) and the problems of the header row."""
    try:
        header = next(reader)
    except csv.Error as e:
        return None, [Problem(file, 1, f"the header row cannot be read: {e}", "fix the quoting of the first row")]
    columns = [h.strip().lower().lstrip("\ufeff") for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        sep = "tab" if delimiter == "\t" else "comma"
        return None, [
            Problem(
                file,
                1,
                f"missing column(s) {', '.join(repr(m) for m in missing)} in the header row "
                f"(found {', '.join(repr(c) for c in columns) or 'nothing'})",
                f"the first row must name the columns, {sep}-separated, e.g. 'question{delimiter}answer'",
            )
        ]
    unknown = [c for c in columns if c and c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    return columns, [
        Problem(
            file,
            1,
            f"unknown column '{c}' is ignored",
            f"use only {', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}",
            severity="warning",
        )
        for c in unknown
    ]


def _rows(reader: Any, file: str, problems: list[Problem]) -> Iterator[tuple[list[str], int]]:
    """The non-blank rows after the header, each with its first line; a row that cannot be read ends the file."""
    line = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
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
            return
        row_line, line = line, reader.line_num + 1
        if any(cell.strip() for cell in row):
            yield row, row_line


@dataclass
class _Table:
    """The rows of one file become entries; what is wrong with a row is added to `problems`."""

    file: str
    columns: list[str]
    problems: list[Problem]

    def entry(self, row: list[str], line: int) -> KnowledgeEntry | None:
        if len(row) > len(self.columns):
            self.problem(
                line,
                f"row has {len(row)} cells but the header has {len(self.columns)}",
                "quote cells that contain the separator",
            )
            return None
        cells = {c: (row[k].strip() if k < len(row) else "") for k, c in enumerate(self.columns)}
        question = _SPACE.sub(" ", cells["question"])
        answer = cells["answer"].replace("\r\n", "\n")
        if not question:
            self.problem(line, "row has no question", "fill the 'question' cell or delete the row")
            return None
        if shows_nothing(answer):
            self.problem(line, f"the question '{question}' has no answer", "fill the 'answer' cell or delete the row")
            return None
        entry_id = cells.get("id", "")
        if entry_id and not VALID_ID.match(entry_id):
            self.problem(line, f"invalid id '{entry_id}'", "use letters, digits, '-', '_' or '.', e.g. payment-methods")
        stem = file_stem(self.file)
        return KnowledgeEntry(
            id=entry_id or f"{slugify(stem)}/{slugify(question)}",
            question=question,
            answer=answer,
            file=self.file,
            line=line,
            alternates=tuple(a.strip() for a in cells.get("alternates", "").split("|") if a.strip()),
            title=title_of(stem),
            tags=tuple(t.strip() for t in re.split(r"[|,]", cells.get("tags", "")) if t.strip()),
            answer_line=line,
            explicit_id=bool(entry_id),
        )

    def problem(self, line: int, message: str, fix: str) -> None:
        self.problems.append(Problem(self.file, line, message, fix))


def write_table(entries: Sequence[KnowledgeEntry], path: Path) -> None:
    """Export entries as CSV (or TSV for a `.tsv` path) with all five columns."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=delimiter_for(path))
        writer.writerow(["id", "question", "alternates", "answer", "tags"])
        for e in entries:
            writer.writerow([e.id, e.question, "|".join(e.alternates), e.answer, "|".join(e.tags)])


_JINJA = re.compile(r"\{\{|\{%|\{#")
_HEADING_START = re.compile(r"^([ \t]*)#", re.MULTILINE)
_FENCE = re.compile(r"^[ \t]{0,3}(?:```|~~~)", re.MULTILINE)  # as bot.faq.markdown_loader reads them


def _escape_markdown_answer(answer: str) -> str:
    """Make an imported answer safe for the Markdown format: literal braces, no headings, and a first line
    that is not read as a `Shop:` or `Also asked:` line (its colon escaped: Markdown shows `\\:` as `:`), and
    no code block left open."""
    text = _HEADING_START.sub(r"\1\\#", answer)
    first, newline, rest = text.partition("\n")
    if reads_as_a_field(first):
        text = first.replace(":", "\\:", 1) + newline + rest
    raw, end_raw = ("{% raw %}", "{% endraw %}") if _JINJA.search(text) else ("", "")
    if len(_FENCE.findall(raw + text)) % 2:  # a code block left open would hide the questions after it
        text += "\n```"
    return raw + text + end_raw


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
    title = title_of(source.stem)
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

"""Edits of a knowledge Markdown file as staff would make them: a few lines inserted, nothing else touched.

`add_alternates` puts new `- ` lines at the end of an entry's `Also asked:` list (in the list's own bullet
style), or writes the list right under the question (and its `Country:`-style lines) when there is none;
`append_entry` adds a new `## question {#id}` entry at the end of the file. Both re-read the result with the
knowledge loader and refuse (`SuggestionNotApplicable`) unless it holds exactly the intended change.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.errors import Problem
from bot.faq.entry import KnowledgeEntry
from bot.faq.markdown_loader import ABOUT_KEYS, parse_markdown
from bot.learning.errors import SuggestionNotApplicable

_BULLET_PREFIX = re.compile(r"^([ \t]*[-*+][ \t]+)")
_ABOUT_LINE = re.compile(r"^([A-Za-z]+)[ \t]*:")


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def newline_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def lines_of(text: str, pattern: re.Pattern[str] = _LINE) -> list[str]:
    """The lines of `text` with their ends, split where the knowledge loader counts lines (not at U+2028 …)."""
    return pattern.findall(text)


def _entry(text: str, entry_id: str, file: str) -> tuple[KnowledgeEntry, list[Problem]]:
    entries, problems = parse_markdown(text, file)
    for entry in entries:
        if entry.id == entry_id:
            return entry, problems
    raise SuggestionNotApplicable(
        f"{file} has no entry `{entry_id}` any more (renamed, moved or removed?): nothing was written — run "
        "`supportbot learn refresh`, or accept with another entry (--entry ID)"
    )


def _errors(problems: Sequence[Problem]) -> set[str]:
    """Error messages without their line numbers (an insertion shifts the lines below it)."""
    return {p.message for p in problems if p.severity == "error"}


def add_alternates(text: str, entry_id: str, phrasings: Sequence[str], file: str) -> str:
    """`text` with `phrasings` added to entry `entry_id`'s alternates."""
    entry, problems = _entry(text, entry_id, file)
    nl = newline_of(text)
    lines = lines_of(text)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += nl
    if entry.alternate_lines:
        last = entry.alternate_lines[-1]  # 1-based: insert after it
        match = _BULLET_PREFIX.match(lines[last - 1])
        prefix = match.group(1) if match else "- "
        lines[last:last] = [f"{prefix}{p}{nl}" for p in phrasings]
    else:
        at = _after_about(lines, entry.line)  # 0-based index of the first line after heading and about lines
        block = ["Also asked:" + nl, *(f"- {p}{nl}" for p in phrasings)]
        if at >= len(lines) or lines[at].strip():
            block.append(nl)  # the list ends at the first empty line
        lines[at:at] = block
    result = "".join(lines)
    changed, after = _entry(result, entry_id, file)
    if changed.alternates != (*entry.alternates, *phrasings) or _errors(after) - _errors(problems):
        raise SuggestionNotApplicable(
            f"adding alternates to `{entry_id}` would not read back as intended in {file}: nothing was written — add "
            "them by hand",
            tuple(p for p in after if p.severity == "error"),
        )
    return result


def _after_about(lines: Sequence[str], heading_line: int) -> int:
    """The index right after the heading and its `Country: …`-style lines (blank lines between them skipped)."""
    i = heading_line  # the heading's index + 1
    last = i
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped:
            i += 1
            continue
        match = _ABOUT_LINE.match(stripped)
        if match is None or match.group(1).lower() not in ABOUT_KEYS:
            break
        i += 1
        last = i
    return last


def append_entry(text: str, question: str, entry_id: str, alternates: Sequence[str], answer: str, file: str) -> str:
    """`text` with a new entry at its end: the question with its id, `Also asked:` when there are
    alternates, and the answer staff wrote."""
    if not answer.strip():
        raise SuggestionNotApplicable(f'the new entry `{entry_id}` has no answer: write one (--answer / "answer")')
    if any(re.match(r"^#{1,2}(?!#)\s", line) for line in answer.splitlines()):
        raise SuggestionNotApplicable(
            f"the answer of the new entry `{entry_id}` contains a '# ' or '## ' heading line, which would start "
            "another entry: remove it or use '### ' for a sub-heading"
        )
    nl = newline_of(text) if text else "\n"
    before, problems = parse_markdown(text, file) if text.strip() else ([], [])
    block = [f"## {question} {{#{entry_id}}}"]
    if alternates:
        block += ["Also asked:", *(f"- {a}" for a in alternates)]
    block += ["", answer.strip(), ""]
    head = text.rstrip("\r\n")
    result = (head + nl + nl if head else "") + nl.join(block)
    entries, after = parse_markdown(result, file)
    added = [e for e in entries if e.id == entry_id]
    if (
        len(entries) != len(before) + 1
        or len(added) != 1
        or added[0].question != question
        or added[0].alternates != tuple(alternates)
        or _errors(after) - _errors(problems)
    ):
        raise SuggestionNotApplicable(
            f"the new entry `{entry_id}` would not read back as written in {file}: nothing was written — check the "
            "question and the answer",
            tuple(p for p in after if p.severity == "error"),
        )
    return result

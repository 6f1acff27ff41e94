"""Editing one entry of a knowledge Markdown file as a person would, from the staff console.

    save_entry(folder, root, "knowledge/payments.md", "payment-methods", EntryEdit(question, alternates, answer),
               expected_hash=hash_shown_to_staff)    # -> the new text, or KnowledgeError: nothing written

that is: `edit_entry` (the new text), `problems_with` before and after (the whole knowledge base re-validated:
the file's format, duplicate ids and questions across files, `{{ variables }}`), `new_errors`, then
`write_atomically`.

`edit_entry` replaces the entry's lines only (its `## question {#id}` heading, `Also asked:` list and answer);
every other byte of the file stays as it was, the entry's `Country:`-style lines and the blank lines before the
next question too. It re-reads the result with the knowledge loader and raises `KnowledgeError` (with the
file:line of each problem and its fix) unless the entry reads back exactly as written. `write_atomically`
refuses (`KnowledgeFileChanged`) when the file changed since the person loaded it, and writes through a
temporary file renamed over the old one, in the same folder. Only `write_atomically` touches the disk.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.errors import KnowledgeError, Problem
from bot.faq.entry import KnowledgeEntry
from bot.faq.loader import LoadedKnowledge, load_knowledge
from bot.faq.markdown_loader import ABOUT_KEYS, parse_markdown
from bot.faq.validation import check_ids_and_questions, render_answers

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_HEADING = re.compile(r"^##(?!#)([ \t]|$)")
_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")
_ABOUT_LINE = re.compile(r"^([A-Za-z]+)[ \t]*:")
_ID_SUFFIX = re.compile(r"[ \t]*\{#[^{}]*\}[ \t]*$")
_STARTS_ENTRY = re.compile(r"^#{1,2}(?!#)([ \t]|$)")
MAX_QUESTION_CHARS = 500


class KnowledgeFileChanged(KnowledgeError):
    """The file changed since the person loaded the entry: nothing was written."""

    def __init__(self, file: str) -> None:
        super().__init__(
            [
                Problem(
                    file,
                    None,
                    "the file was changed by someone else since you opened this entry: nothing was written",
                    "your text is kept below: copy it, reload the entry to see the current version, and apply "
                    "your change again",
                )
            ]
        )
        self.file = file


class EntryNotFound(KnowledgeError):
    """No entry of the file has this id (renamed, moved or removed since)."""

    def __init__(self, file: str, entry_id: str) -> None:
        super().__init__(
            [
                Problem(
                    file,
                    None,
                    f"there is no entry '{entry_id}' in this file any more",
                    "it was renamed, moved or removed: go back to the list of entries and open it again",
                )
            ]
        )


@dataclass(frozen=True)
class EntryEdit:
    """What staff write for one entry: the question, the alternate phrasings and the answer (Markdown)."""

    question: str
    alternates: tuple[str, ...]
    answer: str

    @classmethod
    def from_form(cls, question: str, alternates: str, answer: str) -> EntryEdit:
        """From a form: one alternate phrasing per line (a leading `- ` is dropped, empty lines skipped)."""
        lines = (re.sub(r"^[-*+][ \t]+", "", line.strip()).strip() for line in alternates.splitlines())
        return cls(" ".join(question.split()), tuple(line for line in lines if line), answer)


def file_hash(text: str) -> str:
    """The content hash a form carries, to tell whether the file changed since the page was loaded."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_text(path: Path) -> str:
    """The file's text exactly as stored (no newline translation)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return handle.read()


def _lines(text: str) -> list[str]:
    return _LINE.findall(text)


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def find_entry(text: str, entry_id: str, file: str) -> KnowledgeEntry:
    """The entry `entry_id` of a Markdown file's text; `EntryNotFound` when it has none."""
    entries, _ = parse_markdown(text, file)
    for entry in entries:
        if entry.id == entry_id:
            return entry
    raise EntryNotFound(file, entry_id)


def entry_span(text: str, entry: KnowledgeEntry) -> tuple[int, int]:
    """The 0-based line range [start, stop) of `entry` in `text`: its heading up to the next `## ` heading
    (outside code fences) or the end of the file."""
    lines = _lines(text)
    start = entry.line - 1
    in_fence = False
    for i in range(start + 1, len(lines)):
        if _FENCE.match(lines[i]):
            in_fence = not in_fence
        elif not in_fence and _HEADING.match(lines[i].rstrip("\r\n")):
            return start, i
    return start, len(lines)


def _check_edit(edit: EntryEdit, file: str, line: int) -> None:
    problems: list[Problem] = []
    if not edit.question.strip():
        problems.append(Problem(file, line, "the question is empty", "write the question the way a customer asks it"))
    elif len(edit.question) > MAX_QUESTION_CHARS:
        problems.append(
            Problem(
                file,
                line,
                f"the question is {len(edit.question)} characters long",
                f"keep it under {MAX_QUESTION_CHARS} characters: one question per entry",
            )
        )
    elif edit.question.startswith("#") or _ID_SUFFIX.search(edit.question):
        problems.append(
            Problem(file, line, "the question starts with '#' or ends with an {#id}", "write only the question")
        )
    for alternate in edit.alternates:
        if "\n" in alternate or "\r" in alternate:
            problems.append(Problem(file, line, "an alternate phrasing spans several lines", "one phrasing per line"))
    for n, answer_line in enumerate(edit.answer.splitlines()):
        if _STARTS_ENTRY.match(answer_line):
            problems.append(
                Problem(
                    file,
                    line + n,
                    f"the answer's line '{answer_line.strip()[:60]}' is a '#' or '## ' heading, which would start "
                    "another entry (or be dropped)",
                    "use '### ' for a sub-heading, or remove the '#'",
                )
            )
    if problems:
        raise KnowledgeError(problems)


def edit_entry(text: str, entry_id: str, edit: EntryEdit, file: str) -> str:
    """`text` with entry `entry_id`'s question, alternates and answer replaced by `edit`; the rest of the file
    is byte-identical. Raises `EntryNotFound`, or `KnowledgeError` when the edit is invalid or would not read
    back as written (each problem with its file:line and fix)."""
    entry = find_entry(text, entry_id, file)
    _check_edit(edit, file, entry.line)
    lines = _lines(text)
    start, stop = entry_span(text, entry)
    nl = _newline(text)
    about = _about_lines(lines, start + 1, stop)
    tail = _trailing_blank(lines, start, stop)
    heading = f"## {edit.question}" + (f" {{#{entry.id}}}" if entry.explicit_id else "")
    block = [heading + nl, *about]
    if edit.alternates:
        block += ["Also asked:" + nl, *(f"- {a}{nl}" for a in edit.alternates)]
    block.append(nl)
    answer = _clean_answer(edit.answer)
    block += [line + nl for line in answer.split("\n")] if answer else []
    if stop < len(lines) and not tail:
        tail = [nl]  # a blank line before the next question
    if stop == len(lines) and not tail and lines and not lines[-1].endswith(("\n", "\r")):
        block[-1] = block[-1][: -len(nl)]  # the file ended without a newline: keep it so
    result = "".join([*lines[:start], *block, *tail, *lines[stop:]])
    _read_back(text, result, entry, edit, answer, file)
    return result


def _about_lines(lines: Sequence[str], start: int, stop: int) -> list[str]:
    """The entry's `Country: …`-style lines right under its heading (blank lines between them dropped)."""
    kept: list[str] = []
    i = start
    while i < stop:
        stripped = lines[i].strip()
        if not stripped:
            i += 1
            continue
        match = _ABOUT_LINE.match(stripped)
        if match is None or match.group(1).lower() not in ABOUT_KEYS:
            break
        kept.append(lines[i] if lines[i].endswith(("\n", "\r")) else lines[i] + "\n")
        i += 1
    return kept


def _trailing_blank(lines: Sequence[str], start: int, stop: int) -> list[str]:
    """The blank lines at the end of the entry's span (kept as they are)."""
    i = stop
    while i > start + 1 and not lines[i - 1].strip():
        i -= 1
    return list(lines[i:stop])


def _clean_answer(answer: str) -> str:
    """The answer with `\\n` line ends, no trailing spaces on lines, no blank lines around it."""
    lines = [line.rstrip() for line in answer.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


def _read_back(before: str, result: str, entry: KnowledgeEntry, edit: EntryEdit, answer: str, file: str) -> None:
    """Raise unless the edited file parses without new errors and the entry reads back exactly as written."""
    entries, problems = parse_markdown(result, file)
    errors = new_errors(parse_markdown(before, file)[1], problems)
    if errors:
        raise KnowledgeError(errors)
    found = [e for e in entries if e.line == entry.line]
    edited = found[0] if found else None
    if (
        edited is None
        or edited.question != edit.question
        or edited.alternates != edit.alternates
        or edited.answer != answer.strip()
    ):
        raise KnowledgeError(
            [
                Problem(
                    file,
                    entry.line,
                    "the entry would not read back as you wrote it (a line of the answer looks like a question "
                    "heading, an 'Also asked:' line or a 'Country:' line)",
                    "reword the first line of the answer, or remove the '#' characters at the start of lines",
                )
            ]
        )


def problems_with(loaded: LoadedKnowledge, file: str, text: str) -> list[Problem]:
    """Every problem the knowledge base would have if `file` held `text`: the file's own (format, entries without
    an answer), duplicate ids and questions across all files, and the answers' `{{ variables }}`."""
    entries, problems = parse_markdown(text, file)
    others = [e for e in loaded.entries if e.file != file]
    problems = list(problems) + check_ids_and_questions([*others, *entries])  # a clash is shown in this file
    _, template_problems = render_answers(entries, loaded.variables)
    return problems + template_problems


def new_errors(before: Iterable[Problem], after: Iterable[Problem]) -> list[Problem]:
    """The errors of `after` that `before` did not have (compared without line numbers: an edit shifts lines)."""
    known = {(p.file, p.message) for p in before if p.severity == "error"}
    return [p for p in after if p.severity == "error" and (p.file, p.message) not in known]


def write_atomically(path: Path, text: str, *, expected_hash: str, shown: str) -> None:
    """Write `text` in place of `path` (a temporary file in the same folder renamed over it, same permissions),
    unless its content no longer hashes to `expected_hash` (`KnowledgeFileChanged`, nothing written)."""
    if file_hash(read_text(path)) != expected_hash:
        raise KnowledgeFileChanged(shown)
    mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_write_lock = threading.Lock()  # one check-and-write at a time in this process


def save_entry(folder: Path, root: Path, file: str, entry_id: str, edit: EntryEdit, *, expected_hash: str) -> str:
    """Edit entry `entry_id` of the knowledge file `file` (as staff see it, relative to `root`) and write it,
    when the file still hashes to `expected_hash` and the whole knowledge base has no new error with the edit.
    Returns the new text; raises `KnowledgeFileChanged`, `EntryNotFound` or `KnowledgeError` (nothing written)."""
    path = (root / file).resolve()
    if not path.is_relative_to(folder.resolve()) or path.suffix.lower() != ".md" or not path.is_file():
        raise EntryNotFound(file, entry_id)
    with _write_lock:
        before = read_text(path)
        if file_hash(before) != expected_hash:
            raise KnowledgeFileChanged(file)
        after = edit_entry(before, entry_id, edit, file)
        loaded = load_knowledge(folder, root)
        errors = new_errors(problems_with(loaded, file, before), problems_with(loaded, file, after))
        if errors:
            raise KnowledgeError(errors)
        write_atomically(path, after, expected_hash=expected_hash, shown=file)
    return after

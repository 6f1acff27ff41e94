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

import re

from bot.errors import Problem
from bot.faq.entry import VALID_ID, KnowledgeEntry, empty_file, file_stem, shows_nothing, slugify, title_of
from bot.faq.front_matter import FileMeta, parse_front_matter

_HEADING = re.compile(r"^##(?!#)(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_H1 = re.compile(r"^#(?!#)([ \t]|$)")
_ID_SUFFIX = re.compile(r"[ \t]*\{#([^{}]*)\}[ \t]*$")
_ALSO_ASKED = re.compile(r"^also asked[ \t]*:[ \t]*$", re.IGNORECASE)
ABOUT_KEYS = {"country": "country", "countries": "country", "shop": "shop", "shops": "shop",
              "product": "product", "products": "product"}  # fmt: skip
_ABOUT = re.compile(r"^([A-Za-z]+)[ \t]*:[ \t]*(.*?)[ \t]*$")
_BULLET = re.compile(r"^[ \t]*[-*+][ \t]+(.*\S)[ \t]*$")
_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")
_LINE_END = re.compile(r"\r\n|\r|\n")


def parse_markdown(text: str, file: str) -> tuple[list[KnowledgeEntry], list[Problem]]:
    """Parse a knowledge Markdown file. `file` is the name used in entries and problems."""
    lines = _LINE_END.split(text.removesuffix("\n"))  # as editors count lines: not at U+0085, U+2028, form feeds …
    if not text.strip():
        return empty_file(file, "add at least one '## question' heading followed by its answer, or delete the file")
    meta, start, problems = parse_front_matter(lines, file)
    stem = file_stem(file)
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


def reads_as_a_field(line: str) -> bool:
    """Whether a line right under a question is read as an `About:` line (`Shop: Berlin`) or `Also asked:`."""
    about = _ABOUT.match(line.strip())
    return bool(about and about.group(1).lower() in ABOUT_KEYS) or bool(_ALSO_ASKED.match(line.strip()))


def _parse_entry(
    lines: list[str], h: int, stop: int, file: str, stem: str, meta: FileMeta
) -> tuple[KnowledgeEntry | None, list[Problem]]:
    """The entry of the heading on line index `h`, up to (not including) line index `stop`."""
    problems: list[Problem] = []
    heading_line = h + 1
    question, entry_id = _heading(lines[h], heading_line, file, problems)
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
    body = _EntryLines(lines, h + 1, stop, file, problems)
    body.skip_blank()
    about = body.about()
    body.skip_blank()
    alternates, alternate_lines = body.also_asked()
    answer, answer_line = body.answer()
    if shows_nothing(answer):
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
        id=entry_id if entry_id is not None else f"{slugify(stem)}/{slugify(question)}",
        question=question,
        answer=answer,
        file=file,
        line=heading_line,
        alternates=tuple(alternates),
        title=meta.title or title_of(stem),
        tags=meta.tags,
        url=meta.url,
        owner=meta.owner,
        answer_line=answer_line,
        explicit_id=entry_id is not None,
        alternate_lines=tuple(alternate_lines),
        about=tuple(sorted(about.items())),
    )
    return entry, problems


def _heading(line: str, number: int, file: str, problems: list[Problem]) -> tuple[str, str | None]:
    """The question of a `## ` heading line and its `{#id}` (None when it has none)."""
    match = _HEADING.match(line)
    question = (match.group(1) or "") if match else ""
    id_match = _ID_SUFFIX.search(question)
    if not id_match:
        return question, None
    entry_id = id_match.group(1).strip()
    if not VALID_ID.match(entry_id):
        problems.append(
            Problem(
                file,
                number,
                f"invalid id '{{#{entry_id}}}'",
                "use letters, digits, '-', '_' or '.', e.g. {#payment-methods}",
            )
        )
    return question[: id_match.start()].strip(), entry_id


class _EntryLines:
    """The lines under one heading, read in order (`i`: the next line), adding to `problems`."""

    def __init__(self, lines: list[str], start: int, stop: int, file: str, problems: list[Problem]) -> None:
        self.lines = lines
        self.i = start
        self.stop = stop
        self.file = file
        self.problems = problems

    def problem(self, line: int, message: str, fix: str) -> None:
        self.problems.append(Problem(self.file, line, message, fix))

    def skip_blank(self) -> None:
        while self.i < self.stop and not self.lines[self.i].strip():
            self.i += 1

    def about(self) -> dict[str, tuple[str, ...]]:
        """`Country: France, Germany` lines right under the heading."""
        about: dict[str, tuple[str, ...]] = {}
        while self.i < self.stop:
            match = _ABOUT.match(self.lines[self.i].strip())
            if not match or match.group(1).lower() not in ABOUT_KEYS:
                break
            name, key = match.group(1), ABOUT_KEYS[match.group(1).lower()]
            values = tuple(v.strip().lower() for v in match.group(2).split(",") if v.strip())
            if not values:
                self.problem(
                    self.i + 1,
                    f"'{name}:' names nothing",
                    f"list what the answer is about, e.g. '{name}: Austria, Belgium', or remove the line",
                )
            elif key in about:
                self.problem(
                    self.i + 1,
                    f"'{name}:' appears twice under this question",
                    "put all the values on one line, separated by commas",
                )
            else:
                about[key] = values
            self.i += 1
        return about

    def also_asked(self) -> tuple[list[str], list[int]]:
        """The `Also asked:` phrasings and their line numbers (none without that line)."""
        alternates: list[str] = []
        alternate_lines: list[int] = []
        if self.i >= self.stop or not _ALSO_ASKED.match(self.lines[self.i].strip()):
            return alternates, alternate_lines
        also_line = self.i + 1
        self.i += 1
        while self.i < self.stop and self.lines[self.i].strip():
            bullet = _BULLET.match(self.lines[self.i])
            if bullet is None:
                self.problem(
                    self.i + 1,
                    "a line in the 'Also asked:' list does not start with '- '",
                    "start each alternate phrasing with '- ', and leave an empty line between the list and the answer",
                )
            else:
                alternates.append(bullet.group(1).strip())
                alternate_lines.append(self.i + 1)
            self.i += 1
        if not alternates:
            self.problem(
                also_line,
                "'Also asked:' is followed by no '- ' phrasing",
                "add lines like '- how can I pay' right under it, or remove the line",
            )
        return alternates, alternate_lines

    def answer(self) -> tuple[str, int]:
        """The rest: the answer text (H1 lines dropped) and the line it starts on."""
        body = [line for line in self.lines[self.i : self.stop] if not _H1.match(line)]
        answer_line = self.i + 1
        while body and not body[0].strip():
            body.pop(0)
            answer_line += 1
        return "\n".join(body).strip(), answer_line

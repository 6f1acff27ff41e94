"""Cross-entry checks of a loaded knowledge base. Every check returns `list[Problem]`.

Errors: duplicate ids, the same question in two entries, template errors in answers.
Warnings: near-duplicate questions (embedding cosine >= 0.95), very long answers, broken relative links,
and links to knowledge files customers would see as plain words (no such file, or no `url` in its header).
Per-file errors (front matter, empty file, entry without answer) come from the loaders.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import posixpath
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.errors import Problem
from bot.faq.entry import KnowledgeEntry, normalise_question
from bot.faq.links import KnowledgeLinks, find_links, is_relative, knowledge_file_of, linked_path
from bot.faq.templates import make_environment, render_answer

NEAR_DUPLICATE_COSINE = 0.95
LONG_ANSWER_CHARS = 1500


def check_ids_and_questions(entries: Sequence[KnowledgeEntry]) -> list[Problem]:
    problems: list[Problem] = []
    ids: dict[str, KnowledgeEntry] = {}
    questions: dict[str, tuple[KnowledgeEntry, int]] = {}
    for entry in entries:
        first = ids.get(entry.id)
        if first is not None:
            fix = (
                f"give one of them another id (the other is at {first.location})"
                if entry.explicit_id
                else f"add an explicit id like '{{#{entry.id.split('/')[-1]}-2}}' to one of the headings "
                f"(the other is at {first.location})"
            )
            problems.append(Problem(entry.file, entry.line, f"duplicate id '{entry.id}'", fix))
        else:
            ids[entry.id] = entry
        lines = (entry.line, *(entry.alternate_lines or (entry.line,) * len(entry.alternates)))
        seen_here: set[str] = set()
        for phrasing, line in zip(entry.phrasings, lines, strict=False):
            key = normalise_question(phrasing)
            if key in seen_here:
                problems.append(
                    Problem(
                        entry.file,
                        line,
                        f"'{phrasing}' is listed twice in the same entry",
                        "remove the repeated phrasing",
                        severity="warning",
                    )
                )
                continue
            seen_here.add(key)
            other = questions.get(key)
            if other is not None and other[0] is not entry:
                problems.append(
                    Problem(
                        entry.file,
                        line,
                        f"the question '{phrasing}' is also in entry '{other[0].id}' at {other[0].file}:{other[1]}",
                        "keep it in one entry only: merge the two answers or reword one question",
                    )
                )
            else:
                questions.setdefault(key, (entry, line))
    return problems


def variables_digest(variables: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(dict(variables), sort_keys=True, default=str).encode()).hexdigest()[:16]


def render_answers(
    entries: Sequence[KnowledgeEntry],
    variables: Mapping[str, Any],
    cache: MutableMapping[tuple[str, str], str] | None = None,
) -> tuple[dict[str, str], list[Problem]]:
    """Fill the variables of every answer. Returns ({entry id: text}, problems).

    `cache` (keyed by answer text and variables) makes a reload re-render only changed answers.
    """
    env = make_environment()
    digest = variables_digest(variables)
    rendered: dict[str, str] = {}
    problems: list[Problem] = []
    for entry in entries:
        key = (entry.answer, digest)
        if cache is not None and key in cache:
            rendered[entry.id] = cache[key]
            continue
        text, found = render_answer(entry.answer, variables, file=entry.file, line=entry.answer_line, env=env)
        problems.extend(found)
        if not found:
            rendered[entry.id] = text
            if cache is not None:
                cache[key] = text
    return rendered, problems


def check_long_answers(entries: Sequence[KnowledgeEntry], limit: int = LONG_ANSWER_CHARS) -> list[Problem]:
    return [
        Problem(
            e.file,
            e.line,
            f"the answer to '{e.question}' is long ({len(e.answer)} characters)",
            f"keep answers under {limit} characters: split it into several questions or link to a page",
            severity="warning",
        )
        for e in entries
        if len(e.answer) > limit
    ]


def check_links(entries: Sequence[KnowledgeEntry], root: Path) -> list[Problem]:
    """Relative links must point to an existing file (relative to the entry's file).

    A link to a `.md` file must name a knowledge file that has a `url` in its header: customers see
    such a link as a link to that url, and as plain words otherwise (see `bot.faq.links`).
    """
    links = KnowledgeLinks.from_entries(entries)
    problems: list[Problem] = []
    for e in entries:
        for link in find_links(e.answer):
            if not is_relative(link.target) or not linked_path(link.target):
                continue
            line = e.answer_line + e.answer[: link.start].count("\n")
            file = knowledge_file_of(link.target, e.file)
            if file is not None:
                found = _knowledge_link_problem(link.target, file, e.file, links, root)
            elif not (root / e.file).parent.joinpath(linked_path(link.target)).exists():
                found = (
                    f"broken link: '{link.target}' does not exist",
                    "fix the file name (links are relative to this file) or use a full https:// address",
                )
            else:
                found = None
            if found is not None:
                problems.append(Problem(e.file, line, found[0], found[1], severity="warning"))
    return problems


def _knowledge_link_problem(
    target: str, file: str, source: str, links: KnowledgeLinks, root: Path
) -> tuple[str, str] | None:
    """(message, fix) for a link to a `.md` file that customers would not see as a link, else None."""
    if links.knows(file):
        if links.url_of(file):
            return None
        return (
            f"'{target}' links to {file}, which has no 'url' in its header, so customers see only the "
            "words of the link",
            f"add 'url: https://…' (its page on your website) to the header of {file}, "
            "or link to a full https:// address",
        )
    if (root / file).exists():
        return (
            f"'{target}' is not a knowledge file (no questions are loaded from {file}), so customers "
            "see only the words of the link",
            "link to a question-and-answer file of the knowledge folder, or use a full https:// address",
        )
    here = posixpath.dirname(source)
    names = sorted(posixpath.relpath(f, here) if here else f for f in links.files)
    close = difflib.get_close_matches(linked_path(target), names, n=1, cutoff=0.8)
    fix = (
        "link to a knowledge file by its name (relative to this file) or use a full https:// address; "
        "until then customers see only the words of the link"
    )
    if close:
        fix = f"did you mean '{close[0]}'? {fix[0].upper()}{fix[1:]}"
    return f"broken link: '{target}' does not exist (there is no file {file})", fix


def check_near_duplicates(
    entries: Sequence[KnowledgeEntry], question_vectors: np.ndarray, threshold: float = NEAR_DUPLICATE_COSINE
) -> list[Problem]:
    """Warn about questions of different entries whose embeddings have cosine >= threshold."""
    if len(entries) < 2:
        return []
    sims = question_vectors @ question_vectors.T
    np.fill_diagonal(sims, -1.0)
    problems: list[Problem] = []
    rows, cols = np.nonzero(np.triu(sims >= threshold, k=1))
    for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
        a, b = entries[i], entries[j]
        if normalise_question(a.question) == normalise_question(b.question):
            continue  # already an error
        problems.append(
            Problem(
                b.file,
                b.line,
                f"'{b.question}' is almost the same question as '{a.question}' at {a.location} "
                f"(similarity {sims[i, j]:.2f})",
                "merge the two entries, or make the questions clearly different",
                severity="warning",
            )
        )
    return problems

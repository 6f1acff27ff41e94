"""A suggestion as a change of one file: planned from the file as it is now, shown as a diff, written whole.

`plan_change` reads the target file and returns a `FileChange` (before, after, diff) without writing anything;
`write_change` writes it atomically (a temporary file renamed over the old one, same permissions) only if the
file still has the content the plan was made from. The content hash (sha256) of a file is what a suggestion
remembers of it: a file edited by hand since is detected and never overwritten.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.errors import display_path
from bot.faq.entry import KnowledgeEntry, slugify
from bot.learning.errors import SuggestionNotApplicable
from bot.learning.markdown_edits import add_alternates, append_entry
from bot.learning.suggestions import Suggestion, clean_phrasing
from bot.learning.yaml_edits import add_examples
from bot.nlu.training_data import TrainingData

ABSENT = "absent"
"""The content hash of a file that does not exist (a new entry's file)."""


def content_hash(text: str | None) -> str:
    return ABSENT if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_text(path: Path) -> str | None:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class Overrides:
    """What the person accepting changes of the suggestion: another entry or intent, the new entry's question,
    answer and file, or only some of the phrasings."""

    entry: str | None = None
    intent: str | None = None
    question: str | None = None
    answer: str | None = None
    file: str | None = None
    phrasings: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ProjectPaths:
    project_dir: Path
    knowledge_path: Path
    intents_path: Path

    def resolve(self, shown: str) -> Path:
        path = Path(shown)
        return path if path.is_absolute() else self.project_dir / path

    def shown(self, path: Path) -> str:
        return display_path(path, self.project_dir)


@dataclass(frozen=True)
class FileChange:
    """One file before and after (`before` None: the file is new)."""

    path: Path
    shown: str
    before: str | None
    after: str
    area: str  # "knowledge" | "intents"

    @property
    def before_hash(self) -> str:
        return content_hash(self.before)

    def diff(self) -> str:
        old = (self.before or "").splitlines(keepends=True)
        new = self.after.splitlines(keepends=True)
        lines = difflib.unified_diff(old, new, f"a/{self.shown}", f"b/{self.shown}", n=2)
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


EntryFinder = Callable[[], Sequence[KnowledgeEntry]]


def plan_change(
    suggestion: Suggestion,
    overrides: Overrides,
    paths: ProjectPaths,
    entries: EntryFinder,
    training: Callable[[], TrainingData],
) -> FileChange | None:
    """The change accepting `suggestion` makes, from the files as they are now (None for `ignore`)."""
    if suggestion.kind == "ignore":
        return None
    phrasings = _phrasings(suggestion, overrides)
    if suggestion.kind == "alternate":
        entry_id = overrides.entry or suggestion.target or ""
        entry = next((e for e in entries() if e.id == entry_id), None)
        if entry is None:
            raise SuggestionNotApplicable(
                f"no knowledge entry `{entry_id}` (renamed or removed?): nothing was written — choose another with "
                "--entry ID (`supportbot kb list` lists them)"
            )
        if not entry.file.endswith(".md"):
            raise SuggestionNotApplicable(
                f"entry `{entry_id}` lives in {entry.file}, a table: add the phrasings to its alternates column by hand"
            )
        path = _inside(paths.resolve(entry.file), paths.knowledge_path, "knowledge")
        before = read_text(path) or ""
        return FileChange(path, paths.shown(path), before, add_alternates(before, entry_id, phrasings, entry.file),
                          "knowledge")  # fmt: skip
    if suggestion.kind == "intent_example":
        intent = overrides.intent or suggestion.target or ""
        data = training()
        files = [e.file for e in data.examples if e.intent == intent]
        if not files:
            raise SuggestionNotApplicable(
                f"no intent `{intent}` in the training data: nothing was written — choose another with --intent NAME"
            )
        shown = max(set(files), key=files.count)
        path = _inside(paths.resolve(shown), paths.intents_path, "intents")
        before = read_text(path) or ""
        return FileChange(path, paths.shown(path), before, add_examples(before, intent, phrasings, shown), "intents")
    return _new_entry(suggestion, overrides, paths, entries, phrasings)


def _phrasings(suggestion: Suggestion, overrides: Overrides) -> tuple[str, ...]:
    if overrides.phrasings is None:
        chosen = suggestion.phrasings
    else:
        cleaned = [clean_phrasing(p) for p in overrides.phrasings]
        if any(c is None for c in cleaned):
            raise SuggestionNotApplicable(
                "a phrasing is empty, emoji-only or longer than 200 characters: give one line of text per phrasing"
            )
        chosen = tuple(c for c in cleaned if c is not None)
    if suggestion.kind == "intent_example":
        chosen = tuple(p.replace("[", "(").replace("]", ")") for p in chosen)  # never read as entity annotations
    if not chosen and suggestion.kind != "new_entry":
        raise SuggestionNotApplicable('no phrasing to add: give at least one (--phrasing TEXT / "phrasings")')
    return tuple(dict.fromkeys(chosen))


def _inside(path: Path, folder: Path, what: str) -> Path:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError as e:
        raise SuggestionNotApplicable(
            f"{path} is outside the {what} folder ({folder}): a suggestion only edits files there"
        ) from e
    return path


def _new_entry(
    suggestion: Suggestion, overrides: Overrides, paths: ProjectPaths, entries: EntryFinder, alternates: Sequence[str]
) -> FileChange:
    question = " ".join((overrides.question or suggestion.question or "").split())
    if not question:
        raise SuggestionNotApplicable('the new entry has no question: give one (--question TEXT / "question")')
    if overrides.answer is None or not overrides.answer.strip():
        raise SuggestionNotApplicable(
            f"suggestion {suggestion.id} asks for a new knowledge entry ({question!r}): its answer is for staff to "
            'write — accept it with --answer TEXT (HTTP: "answer"), or reject it'
        )
    shown = overrides.file or suggestion.file or ""
    if not shown.endswith(".md"):
        raise SuggestionNotApplicable(f"a new entry goes into a Markdown file (*.md), not {shown!r}: give --file")
    path = _inside(paths.resolve(shown), paths.knowledge_path, "knowledge")
    taken = {e.id for e in entries()}
    base = slugify(question)
    entry_id = base
    n = 2
    while entry_id in taken:
        entry_id, n = f"{base}-{n}", n + 1
    before = read_text(path)
    after = append_entry(before or "", question, entry_id, alternates, overrides.answer, paths.shown(path))
    return FileChange(path, paths.shown(path), before, after, "knowledge")


def write_change(change: FileChange) -> None:
    """Write `change.after` in place of the file, atomically, unless the file changed since the plan
    (then `FileChangedOnDisk`, nothing written)."""
    if content_hash(read_text(change.path)) != change.before_hash:
        raise FileChangedOnDisk(change.shown)
    change.path.parent.mkdir(parents=True, exist_ok=True)
    mode = change.path.stat().st_mode & 0o7777 if change.path.exists() else None
    fd, tmp = tempfile.mkstemp(prefix=f".{change.path.name}.", suffix=".tmp", dir=change.path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(change.after)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, change.path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def restore(change: FileChange) -> None:
    """Put the file back as it was before `change` (remove it when it was new)."""
    if change.before is None:
        change.path.unlink(missing_ok=True)
    else:
        write_change(FileChange(change.path, change.shown, change.after, change.before, change.area))


class FileChangedOnDisk(Exception):
    """The file changed between the plan and the write (the learner turns it into `FileChanged`)."""

    def __init__(self, shown: str) -> None:
        self.shown = shown
        super().__init__(f"{shown} changed on disk")

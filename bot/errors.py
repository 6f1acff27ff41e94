"""The one error tree of supportbot.

Every error says what went wrong, where (file:line or field) and how to fix it.

    SupportbotError
    ├── ConfigError              a setting is missing or invalid
    ├── DataError                files staff or developers edit are invalid (carries Problems)
    │   ├── TrainingDataError    intents/**/*.yml (NLU, responses, domain)
    │   ├── KnowledgeError       knowledge/ files
    │   └── CatalogueFileError   a product catalogue CSV (products, pairings, colours, order history)
    ├── ModelError               the encoder or a trained model cannot be loaded
    ├── NotTrainedError          serving was asked for before `supportbot train`
    ├── TemplateError            a response or answer template failed to render
    ├── BackendError             a store failed: the shop's (orders, returns, appointments) or the handoff tickets
    │   └── TrackerStoreError    the conversation store cannot load or save now (bot/dialogue/tracker_store.py)
    ├── ActionError              a task handler failed or the action server did not answer
    └── LearningError            a learning suggestion cannot be applied (bot/learning/errors.py: not found,
                                 already decided, file changed by hand since, not applicable)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One finding of a validator: where (file, line and, in a table, the column), what, and how to fix it."""

    file: str
    line: int | None
    message: str
    fix: str = ""
    severity: Severity = "error"
    column: str | None = None
    """the column's name in a CSV file (`file:row:column`); None elsewhere"""

    @property
    def location(self) -> str:
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.column}" if self.column else f"{self.file}:{self.line}"

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        return f"{text} — {self.fix}" if self.fix else text

    def as_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "file": self.file,
            "line": self.line,
            "message": self.message,
            "fix": self.fix,
            "severity": self.severity,
        }
        if self.column:
            data["column"] = self.column
        return data


def display_path(path: Path, root: Path | None = None) -> str:
    """A path as staff see it: relative to the project root when possible."""
    base = root or Path.cwd()
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


class SupportbotError(Exception):
    """Base class of every error supportbot raises on purpose."""


class ConfigError(SupportbotError):
    """A setting is missing or has an invalid value."""


class DataError(SupportbotError):
    """Edited files are invalid. `problems` lists every error (and warnings) found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        shown = errors or list(self.problems)
        head = "\n".join(str(p) for p in shown[:20])
        more = f"\n… and {len(shown) - 20} more" if len(shown) > 20 else ""
        super().__init__(head + more)

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")


class TrainingDataError(DataError):
    """The intents data (Rasa NLU YAML, responses, domain) is invalid."""


class KnowledgeError(DataError):
    """A knowledge file (Markdown, CSV, templates) is invalid."""


class CatalogueFileError(DataError):
    """A catalogue CSV file (products, pairings, colour families, order history) is invalid: nothing was read."""


class ModelError(SupportbotError):
    """The encoder or a trained model cannot be loaded."""


class NotTrainedError(SupportbotError):
    """No trained model matches the current data: run `supportbot train`."""


class TemplateError(SupportbotError):
    """A response or answer template failed to render."""


class BackendError(SupportbotError):
    """A store failed (database, external API): the shop backend, or the handoff tickets."""


class TrackerStoreError(BackendError):
    """The conversation store cannot load or save now. The message says what, where and the fix; `reason`
    says what in a few words, without paths (it is shown on `/readyz`). Subclasses: `SenderLockError` (the
    conversation's lock could not be taken) and `StaleFenceError` (this node lost the lock while the turn
    ran), both in `bot.coordination`."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ActionError(SupportbotError):
    """A task handler raised, or the remote action server failed or timed out."""

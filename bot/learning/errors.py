"""The errors of learning, in the one error tree (`bot/errors.py`)::

    SupportbotError
    └── LearningError               a suggestion cannot be accepted, rejected or found as asked
        ├── SuggestionNotFound      no suggestion has this id (or it is no longer open and was dropped)
        ├── SuggestionDecided       the suggestion was already accepted or rejected: nothing changed
        ├── FileChanged             the file changed since the suggestion's diff was made: nothing written
        └── SuggestionNotApplicable the change cannot be made (entry gone, CSV file, missing answer,
                                    the edited file would not validate): nothing written

Each carries `code`, the name the HTTP API gives it in the JSON error shape.
"""

from __future__ import annotations

from bot.errors import Problem, SupportbotError


class LearningError(SupportbotError):
    """A learning operation could not be done as asked; the message says why and how to go on."""

    code = "learning_error"


class SuggestionNotFound(LearningError):
    code = "not_found"

    def __init__(self, suggestion_id: int) -> None:
        self.suggestion_id = suggestion_id
        super().__init__(
            f"no suggestion {suggestion_id} — list them with `supportbot learn list` (an open suggestion whose "
            "messages are answered now is dropped by `supportbot learn refresh`)"
        )


class SuggestionDecided(LearningError):
    """Accepting or rejecting a suggestion that was already decided: nothing is changed twice."""

    code = "already_decided"

    def __init__(self, suggestion_id: int, state: str, by: str | None, at: str | None) -> None:
        self.suggestion_id = suggestion_id
        self.state = state
        who = f" by {by}" if by else ""
        when = f" at {at}" if at else ""
        super().__init__(
            f"suggestion {suggestion_id} was already {state}{who}{when}: nothing was changed — see "
            "`supportbot learn list --state all` or the audit (`supportbot learn audit`)"
        )


class FileChanged(LearningError):
    """The target file is not the one the suggestion's diff was made from (edited by hand meanwhile)."""

    code = "file_changed"

    def __init__(self, suggestion_id: int, file: str) -> None:
        self.suggestion_id = suggestion_id
        self.file = file
        super().__init__(
            f"{file} changed since suggestion {suggestion_id} was prepared (edited by hand?): nothing was written, "
            "the file is as its editor left it — run `supportbot learn refresh` (or POST /admin/learn/refresh), check "
            "the new diff, then accept again"
        )


class SuggestionNotApplicable(LearningError):
    """The suggested change cannot be made; `problems` lists what validation found, when it ran."""

    code = "not_applicable"

    def __init__(self, message: str, problems: tuple[Problem, ...] = ()) -> None:
        self.problems = problems
        details = "".join(f"\n  {p}" for p in problems[:10])
        super().__init__(message + details)

"""`KnowledgeEntry`: one question and its answer, as loaded from a knowledge file, and what every
file format shares (valid ids, the default id and title, the empty-file problem). No I/O."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

from bot.errors import Problem

VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
"""An entry id written in a file: letters, digits, '-', '_' and '.'."""
_SLUG_DROP = re.compile(r"[^a-z0-9]+")
_SPACE = re.compile(r"\s+")
_TRAILING_PUNCT = re.compile(r"[\s?!.…:;]+$")


def slugify(text: str, max_length: int = 60) -> str:
    """`"How do I pay?"` -> `"how-do-i-pay"` (ASCII, lower case, at most `max_length` characters)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _SLUG_DROP.sub("-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "entry"


def file_stem(file: str) -> str:
    """`knowledge/payment-methods.md` -> `payment-methods`."""
    return file.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def title_of(stem: str) -> str:
    """A file's title when it names none: `payment-methods` -> `Payment methods`."""
    return stem.replace("-", " ").replace("_", " ").capitalize()


_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def shows_nothing(answer: str) -> bool:
    """An answer that is empty once its HTML comments are left out (they are never shown)."""
    return not _COMMENT.sub("", answer).strip()


def empty_file(file: str, fix: str) -> tuple[list[KnowledgeEntry], list[Problem]]:
    """What parsing an empty knowledge file gives: no entries and one problem."""
    return [], [Problem(file, None, "the file is empty", fix)]


def normalise_question(text: str) -> str:
    """The form two questions are compared in: case-folded, single spaces, no final punctuation."""
    return _TRAILING_PUNCT.sub("", _SPACE.sub(" ", text).strip().casefold())


@dataclass(frozen=True)
class KnowledgeEntry:
    """One knowledge-base entry.

    `answer` is the Markdown source of the answer, which may use `{{ variables }}`; `line` is the
    line of the question heading (or CSV row) in `file`, `answer_line` the first line of the answer.
    `file` is the path as shown to staff (e.g. `knowledge/payments.md`). `title` is the file's title.
    """

    id: str
    question: str
    answer: str
    file: str
    line: int
    alternates: tuple[str, ...] = ()
    title: str = ""
    tags: tuple[str, ...] = ()
    url: str | None = None
    owner: str | None = None
    answer_line: int = 0
    explicit_id: bool = True
    alternate_lines: tuple[int, ...] = field(default=(), compare=False)
    about: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """What the answer is specifically about, from lines such as `Country: Austria, Belgium` under the
    question: (`country`, ("austria", "belgium")). A question naming another country, shop or product
    never gets this answer (`bot.faq.agreement`)."""

    def about_values(self, key: str) -> tuple[str, ...]:
        return next((values for name, values in self.about if name == key), ())

    @property
    def phrasings(self) -> tuple[str, ...]:
        """The canonical question followed by its alternates."""
        return (self.question, *self.alternates)

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def content_hash(self) -> str:
        """Changes whenever anything that is embedded or shown changes."""
        digest = hashlib.sha256()
        about = [f"{k}={','.join(v)}" for k, v in self.about]
        for part in (self.id, self.question, *self.alternates, "\x01", self.answer, "\x02", *about):
            digest.update(part.encode())
            digest.update(b"\x00")
        return digest.hexdigest()[:32]

"""Links from one knowledge file to another: `[returns](returns-and-refunds.md)` in an answer.

Staff link an answer to another knowledge file by its file name, as in any folder of Markdown files.
Customers cannot open those files (in the widget such a link is a 404), so when an answer is shown
`KnowledgeLinks.rewrite` turns each one into a link to the linked file's `url` (its front matter),
or into plain text (the link's words) when that file has no `url` or does not exist. An `#anchor`
after the file name is dropped: the `url` names the page, not a question on it.
`bot.faq.validation.check_links` reports the links that cannot become web links, with file:line.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from bot.faq.entry import KnowledgeEntry

# A code span or fenced block (left alone), an image (left alone) or an inline link
# `[text](target "title")` / `[text](<target>)`.
_CODE_IMAGE_OR_LINK = re.compile(
    r"(?P<code>(?P<ticks>`+)[\s\S]*?(?<!`)(?P=ticks)(?!`))"
    r"|(?P<image>!)?\[(?P<text>[^\]]*)\]\(\s*<?(?P<target>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"
)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_URL_UNSAFE = {" ": "%20", "(": "%28", ")": "%29", "<": "%3C", ">": "%3E"}


@dataclass(frozen=True)
class MarkdownLink:
    """One inline link of a Markdown text: `[text](target)` spans `start:end`."""

    start: int
    end: int
    text: str
    target: str


def find_links(markdown: str) -> Iterator[MarkdownLink]:
    """The inline links of `markdown`, outside code spans and fenced blocks; images are not links."""
    for match in _CODE_IMAGE_OR_LINK.finditer(markdown):
        if match.group("code") is None and match.group("image") is None:
            yield MarkdownLink(match.start(), match.end(), match.group("text"), match.group("target"))


def is_relative(target: str) -> bool:
    """A link to a file next to the answer's file: no scheme, not `#anchor`, not `/site/path`, not `{{ }}`."""
    return not (_SCHEME.match(target) or target.startswith(("#", "/", "{{")))


def linked_path(target: str) -> str:
    """The file part of a relative link target: `returns.md#faulty` -> `returns.md` (URL-decoded)."""
    return unquote(target.split("#", 1)[0].split("?", 1)[0])


def _normalise(path: str) -> str:
    return posixpath.normpath(path.replace("\\", "/"))


def knowledge_file_of(target: str, source_file: str) -> str | None:
    """The knowledge file a relative `*.md` link in `source_file` points to (as `entry.file` names
    files, e.g. `knowledge/returns-and-refunds.md`), or None for any other link."""
    if not is_relative(target):
        return None
    path = linked_path(target)
    if not path.lower().endswith(".md"):
        return None
    return _normalise(posixpath.join(posixpath.dirname(_normalise(source_file)), path))


class KnowledgeLinks:
    """The `url` of every knowledge file (None when its header has none). Immutable."""

    def __init__(self, urls: Mapping[str, str | None]) -> None:
        self._urls = {_normalise(file): url for file, url in urls.items()}

    @classmethod
    def from_entries(cls, entries: Sequence[KnowledgeEntry]) -> KnowledgeLinks:
        return cls({entry.file: entry.url for entry in entries})

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(self._urls)

    def knows(self, file: str) -> bool:
        return _normalise(file) in self._urls

    def url_of(self, file: str) -> str | None:
        return self._urls.get(_normalise(file))

    def rewrite(self, markdown: str, source_file: str) -> str:
        """`markdown` (an answer of `source_file`) with every link to a knowledge file replaced by a
        link to that file's `url`, or by the link's words when there is no such url."""
        parts: list[str] = []
        done = 0
        for link in find_links(markdown):
            file = knowledge_file_of(link.target, source_file)
            if file is None:
                continue
            url = self.url_of(file)
            parts.append(markdown[done : link.start])
            parts.append(f"[{link.text}]({_escape_url(url)})" if url else link.text)
            done = link.end
        if not parts:
            return markdown
        parts.append(markdown[done:])
        return "".join(parts)


def _escape_url(url: str) -> str:
    """A front-matter url made safe to put between Markdown's `( )`."""
    return "".join(_URL_UNSAFE.get(c, c) for c in url.strip())

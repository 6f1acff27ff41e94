"""The front matter of a knowledge Markdown file: title, tags, owner, url, and what is wrong with them."""

from __future__ import annotations

import pytest

from bot.faq.front_matter import FileMeta, parse_front_matter

F = "knowledge/faq.md"


def read(text: str) -> tuple[FileMeta, int, list[str]]:
    meta, start, problems = parse_front_matter(text.splitlines(), F)
    return meta, start, [str(p) for p in problems]


def test_reads_the_keys_and_where_the_body_starts() -> None:
    text = "---\ntitle: Payments\ntags: a, b\nowner: Finance\nurl: https://x.example/pay\n---\n# Payments\n"
    assert read(text) == (FileMeta("Payments", ("a", "b"), "Finance", "https://x.example/pay"), 6, [])


def test_a_file_without_front_matter_starts_at_its_first_line() -> None:
    assert read("# Payments\n\n## Q?\n") == (FileMeta(), 0, [])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "---\ntitle: [unclosed\n---\n",
            "knowledge/faq.md:2: YAML syntax error: expected ',' or ']', but got '<stream end>' — check indentation "
            "and that text with ':' or '#' is quoted",
        ),
        (
            "---\ntitle: Pay\ntags: {a: 1}\n---\n",
            "knowledge/faq.md:3: 'tags' must be a list of words — write e.g. 'tags: [payments, billing]'",
        ),
        (
            "---\ntitle: Pay\n\n## Q?\n\nA.\n",
            "knowledge/faq.md:1: front matter starts with '---' but is never closed — add a line '---' after the "
            "title/tags/owner/url lines",
        ),
        (
            "---\nowner: [a, b]\n---\n",
            "knowledge/faq.md:2: 'owner' must be a single line of text — write e.g. 'owner: some text' "
            "(quote it if it contains ':')",
        ),
        (
            "---\ntitle: T\nurl: www.example.com\n---\n",
            "knowledge/faq.md:3: 'url' is not a web address: 'www.example.com' — write a full address starting "
            "with https://",
        ),
        (
            "---\n- title\n---\n",
            "knowledge/faq.md:2: front matter must be 'key: value' lines — write e.g. 'title: Payments' between "
            "the two '---' lines",
        ),
    ],
)
def test_bad_front_matter_names_file_line_and_fix(text: str, expected: str) -> None:
    _, _, problems = read(text)
    assert problems == [expected]


def test_unknown_front_matter_key_is_a_warning() -> None:
    _, _, problems = parse_front_matter("---\ntitle: T\ncolour: red\n---\n## Q?\n\nA.\n".splitlines(), F)
    assert [(p.severity, p.line, p.message) for p in problems] == [("warning", 3, "unknown front matter key 'colour'")]

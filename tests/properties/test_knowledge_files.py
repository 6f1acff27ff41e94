"""Properties of the knowledge loaders (Markdown with front matter, CSV/TSV) and of `kb import`: whatever
staff save in `knowledge/` — any text, any bytes, any arrangement of headings, lists and front matter —
reading reports problems with a file and a line and never raises; an export read back, and a CSV file
imported as Markdown and read back, give the same questions, phrasings, ids and answers."""

from __future__ import annotations

import re
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.errors import Problem
from bot.faq.csv_io import import_table, parse_table, read_table, write_table
from bot.faq.entry import KnowledgeEntry, shows_nothing
from bot.faq.loader import load_file, load_knowledge
from bot.faq.markdown_loader import parse_markdown

BOUNDED = settings(
    max_examples=80,
    deadline=timedelta(seconds=5),  # a hang guard, not a performance target
    suppress_health_check=[HealthCheck.too_slow],
)

printable = st.characters(blacklist_categories=("Cs",))
short_text = st.text(printable, max_size=20)
MARKDOWN_LINES = [
    "---", "...", "title: Payments", "title: [a, b]", "tags: [payments, billing]", "tags: {a: 1}", "tags: a, b",
    "owner: ops", "url: ftp://x", "url: https://shop.example/help", "? [a, b]\n: c", "bad: : yaml", "# Payments",
    "#", "##", "## ", "## How can I pay?", "## How can I pay? {#payment-methods}", "## Why? {#bad id}", "## q {#}",
    "## q ##", "###  not a question", "Also asked:", "also asked :", "- how do I pay", "* do you take PayPal", "-",
    "Country: France, Germany", "Shop:", "Shop: Berlin", "Shops: Paris, ,", "Product: coat", "```", "~~~", "    ```",
    "<!-- a comment -->", "<!--", "-->", "", " ", "\t", "{{ shop_name }}", "{% raw %}", "{% endraw %}", "\\# no",
    "\x85", "\u2028", "\x0c",
]  # fmt: skip
markdown = st.lists(st.sampled_from(MARKDOWN_LINES) | short_text, max_size=25).flatmap(
    lambda lines: st.sampled_from(["\n", "\r\n"]).map(lambda end: end.join(lines))
)
CSV_CELLS = ["question", "answer", "alternates", "id", "tags", "Question", "\ufeffquestion", "a|b", "x,y", '"', '""',
             "payment-methods", "bad id", "", " ", "\n", "\r\n", "\x00"]  # fmt: skip
csv_text = st.lists(st.lists(st.sampled_from(CSV_CELLS) | short_text, max_size=6).map(",".join), max_size=8).map(
    "\n".join
)


def line_count(text: str) -> int:
    """An upper bound of the lines an editor shows: line ends are \n, \r\n and \r only."""
    return text.count("\n") + text.count("\r") + 1


def assert_located(problems: list[Problem], file: str, text: str) -> None:
    lines = line_count(text)
    for problem in problems:
        assert problem.file == file, problem
        assert problem.line is None or 1 <= problem.line <= lines, (problem, lines)
        assert problem.message and problem.severity in ("error", "warning"), problem


def assert_entries_point_into_the_file(entries: list[KnowledgeEntry], text: str) -> None:
    lines = line_count(text)
    for entry in entries:
        assert entry.question.strip() and entry.answer.strip(), entry
        assert 1 <= entry.line <= lines, (entry, lines)


# -- any input: problems, never exceptions ------------------------------------------------------------------
@BOUNDED
@given(st.text(printable, max_size=400) | markdown)
def test_any_markdown_is_entries_and_located_problems(text: str) -> None:
    entries, problems = parse_markdown(text, "knowledge/faq.md")
    assert_located(problems, "knowledge/faq.md", text)
    assert_entries_point_into_the_file(entries, text)


@BOUNDED
@given(st.text(printable, max_size=400) | csv_text, st.sampled_from([",", "\t"]))
def test_any_csv_is_entries_and_located_problems(text: str, delimiter: str) -> None:
    entries, problems = parse_table(text, "knowledge/faq.csv", delimiter)
    assert_located(problems, "knowledge/faq.csv", text)
    for entry in entries:
        assert entry.question.strip() and entry.answer.strip(), entry


@BOUNDED
@given(st.binary(max_size=400), st.sampled_from(["faq.md", "faq.csv", "faq.tsv", "variables.yml"]))
def test_any_bytes_in_a_knowledge_folder_are_problems_not_exceptions(content: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "knowledge"
        folder.mkdir()
        (folder / name).write_bytes(content)
        if name != "variables.yml":
            load_file(folder / name, f"knowledge/{name}")
        loaded = load_knowledge(folder, Path(tmp))
    for problem in loaded.problems:
        assert problem.file.startswith("knowledge/") and problem.message, problem


# -- round trips ------------------------------------------------------------------------------------------
no_line_end = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r")  # a cell's \r\n reads as \n
one_line = st.text(printable, min_size=1, max_size=30).map(lambda s: " ".join(s.split())).filter(bool)
ANSWER_LINES = ["Shop: Berlin", "Country: France, Germany", "Also asked:", "- a phrasing", "## not a question",
                "# a title", "```", "---", "<!-- note -->", "{{ shop_name }}", "{% if x %}", "{#0}", "", "  # x",
                "products : coats"]  # fmt: skip
answer = (
    st.lists(st.sampled_from(ANSWER_LINES) | st.text(no_line_end, max_size=40), min_size=1, max_size=5)
    .map(lambda lines: "\n".join(lines).strip())
    .filter(lambda s: not shows_nothing(s))  # an answer of HTML comments alone shows nothing: an error
    .filter(lambda s: not re.search(r"(?m)^[ \t]*\\#|\A[^\n]*\\:", s))  # written in the CSV, "\\#" reads back as "#"
)
entry_id = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,15}", fullmatch=True)
word = st.text(no_line_end, min_size=1, max_size=10).map(str.strip).filter(lambda s: s and not set(s) & {"|", ","})


@st.composite
def entries(draw: st.DrawFn) -> list[KnowledgeEntry]:
    count = draw(st.integers(1, 4))
    ids = draw(st.lists(entry_id, min_size=count, max_size=count, unique_by=str.lower))
    return [
        KnowledgeEntry(
            id=ids[n],
            question=draw(one_line),
            answer=draw(answer),
            file="knowledge/faq.csv",
            line=0,
            alternates=tuple(draw(st.lists(one_line.filter(lambda s: "|" not in s), max_size=3))),
            tags=tuple(draw(st.lists(word, max_size=3))),
        )
        for n in range(count)
    ]


def essence(entry: KnowledgeEntry) -> tuple[object, ...]:
    return entry.id, entry.question, entry.alternates, entry.answer, entry.tags


@BOUNDED
@given(entries(), st.sampled_from(["faq.csv", "faq.tsv"]))
def test_an_exported_table_reads_back_the_same_entries(written: list[KnowledgeEntry], name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        write_table(written, path)
        read, problems = read_table(path, name)
    assert not [p for p in problems if p.severity == "error"], problems
    assert [essence(e) for e in read] == [essence(e) for e in written]


@BOUNDED
@given(entries())
def test_a_table_imported_as_markdown_reads_back_the_same_entries(written: list[KnowledgeEntry]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source, dest = Path(tmp) / "faq.csv", Path(tmp) / "faq.md"
        write_table(written, source)
        imported, problems = import_table(source, dest)
        assert not [p for p in problems if p.severity == "error"], problems
        text = dest.read_text(encoding="utf-8")
    read, problems = parse_markdown(text, "knowledge/faq.md")
    assert not [p for p in problems if p.severity == "error"], (problems, text)
    assert [(e.id, e.question, e.alternates) for e in read] == [(e.id, e.question, e.alternates) for e in written]
    assert [unescaped(e.answer, csv.answer) for e, csv in zip(read, imported, strict=True)] == [
        e.answer for e in imported
    ]


def unescaped(markdown: str, csv_answer: str) -> str:
    """An imported answer as written in Markdown, back to the CSV's text: `kb import` writes a line starting
    with '#' as '\\#' (Markdown shows '#'), the colon of a first line such as 'Shop: Berlin' as '\\:', closes
    a code block the answer leaves open, and wraps a text using {{ }} or {% %} in {% raw %}…{% endraw %}."""
    raw = markdown.startswith("{% raw %}") and markdown.endswith("{% endraw %}")
    if raw:
        markdown = markdown.removeprefix("{% raw %}").removesuffix("{% endraw %}")
    if len(re.findall(r"(?m)^[ \t]{0,3}(?:```|~~~)", "{% raw %}" * raw + csv_answer)) % 2:
        assert markdown.endswith("\n```"), markdown
        markdown = markdown.removesuffix("\n```")
    first, newline, rest = re.sub(r"(?m)^([ \t]*)\\#", r"\1#", markdown).partition("\n")
    return first.replace("\\:", ":", 1) + newline + rest

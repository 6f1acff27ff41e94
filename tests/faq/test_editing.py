"""Editing one knowledge entry in its Markdown file (`bot.faq.editing`): only the entry's lines change, an
invalid edit raises with file:line and writes nothing, a stale hash is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import KnowledgeError
from bot.faq.editing import (
    EntryEdit,
    EntryNotFound,
    KnowledgeFileChanged,
    edit_entry,
    file_hash,
    read_text,
    save_entry,
    write_atomically,
)
from bot.faq.markdown_loader import parse_markdown

FILE = "knowledge/payments.md"
TEXT = """\
---
title: Payments
url: https://shop.example/help/payments
---
<!-- Staff: keep this note -->

## Which payment methods do you accept? {#payment-methods}
Country: France, Germany
Also asked:
- how can I pay
- do you take PayPal

We take cards and PayPal.

Returns within {{ return_days }} days.


## When will I be charged? {#when-charged}

When you place your order.
"""


def edit(answer: str = "Cards, PayPal and Klarna.", alternates: tuple[str, ...] = ("how can I pay",)) -> EntryEdit:
    return EntryEdit("Which payment methods do you accept?", alternates, answer)


def test_replaces_the_entry_and_keeps_the_rest_byte_identical() -> None:
    result = edit_entry(TEXT, "payment-methods", edit(), FILE)
    head, tail = TEXT.split("## Which", 1)[0], TEXT[TEXT.index("\n\n\n## When") :]
    assert result.startswith(head)
    assert result.endswith(tail)  # the two blank lines before the next question are kept too
    assert result[len(head) : len(result) - len(tail)] == (
        "## Which payment methods do you accept? {#payment-methods}\n"
        "Country: France, Germany\n"
        "Also asked:\n"
        "- how can I pay\n"
        "\n"
        "Cards, PayPal and Klarna."
    )
    entries, problems = parse_markdown(result, FILE)
    assert not problems
    assert entries[0].answer == "Cards, PayPal and Klarna."
    assert entries[0].alternates == ("how can I pay",)
    assert entries[0].about == (("country", ("france", "germany")),)
    other = parse_markdown(TEXT, FILE)[0][1]
    assert (entries[1].id, entries[1].question, entries[1].answer) == (other.id, other.question, other.answer)


def test_last_entry_crlf_and_no_final_newline_are_kept() -> None:
    text = TEXT.replace("\n", "\r\n").rstrip("\r\n")
    result = edit_entry(text, "when-charged", EntryEdit("When will I be charged?", (), "At dispatch."), FILE)
    assert result == text.replace("When you place your order.", "At dispatch.")


def test_alternates_can_be_removed_and_added() -> None:
    no_list = edit_entry(TEXT, "payment-methods", edit(alternates=()), FILE)
    assert "Also asked:" not in no_list
    added = edit_entry(no_list, "payment-methods", edit(alternates=("pay by card?", "paypal")), FILE)
    assert parse_markdown(added, FILE)[0][0].alternates == ("pay by card?", "paypal")


def test_from_form_reads_one_phrasing_per_line() -> None:
    made = EntryEdit.from_form("  How   can I pay? ", "- how to pay\n\n  paypal ok?\n* by card\n", "Cards.")
    assert made == EntryEdit("How can I pay?", ("how to pay", "paypal ok?", "by card"), "Cards.")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("", "has no answer"),
        ("   \n  ", "has no answer"),
        ("## A heading\nthen text", "heading"),
    ],
)
def test_an_invalid_edit_raises_with_file_and_line(answer: str, message: str) -> None:
    with pytest.raises(KnowledgeError) as raised:
        edit_entry(TEXT, "payment-methods", edit(answer=answer), FILE)
    problem = raised.value.errors[0]
    assert problem.file == FILE and problem.line == 7  # the entry's heading (or a line of the answer below it)
    assert message in problem.message
    assert problem.fix


def test_an_unknown_entry_is_reported() -> None:
    with pytest.raises(EntryNotFound):
        edit_entry(TEXT, "no-such-entry", edit(), FILE)


# -- on disk: the whole knowledge base re-validated, atomic write, stale hash --------------------------------------
@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "payments.md").write_text(TEXT, encoding="utf-8")
    (folder / "shipping.md").write_text("## Do you ship to Canada? {#canada}\n\nNot yet, sorry.\n", encoding="utf-8")
    (folder / "variables.yml").write_text('return_days: "30"\n', encoding="utf-8")
    return tmp_path


def _save(project: Path, the_edit: EntryEdit, expected: str | None = None) -> str:
    path = project / FILE
    return save_entry(
        project / "knowledge",
        project,
        FILE,
        "payment-methods",
        the_edit,
        expected_hash=expected or file_hash(read_text(path)),
    )


def test_save_writes_the_file(project: Path) -> None:
    result = _save(project, edit())
    assert read_text(project / FILE) == result
    assert "Cards, PayPal and Klarna." in result
    assert [p.name for p in (project / "knowledge").iterdir() if p.name.startswith(".")] == []  # no temp file left


@pytest.mark.parametrize(
    ("the_edit", "message", "line"),
    [
        (edit(answer="Within {{ return_dayz }} days."), "unknown variable 'return_dayz'", 12),
        (edit(answer="Within {{ return_days "), "template error", 12),
        (EntryEdit("Do you ship to Canada?", (), "Yes."), "is also in entry 'canada'", 7),
        (edit(answer=""), "has no answer", 7),
    ],
)
def test_an_invalid_save_writes_nothing(project: Path, the_edit: EntryEdit, message: str, line: int) -> None:
    before = read_text(project / FILE)
    with pytest.raises(KnowledgeError) as raised:
        _save(project, the_edit)
    errors = raised.value.errors
    assert any(message in p.message and p.file == FILE and p.line == line for p in errors), errors
    assert read_text(project / FILE) == before


def test_a_stale_hash_is_refused_and_nothing_is_written(project: Path) -> None:
    loaded = file_hash(read_text(project / FILE))
    changed = TEXT.replace("When you place", "When we ship")
    (project / FILE).write_text(changed, encoding="utf-8")  # someone else saved meanwhile
    with pytest.raises(KnowledgeFileChanged) as raised:
        _save(project, edit(), expected=loaded)
    assert "changed by someone else" in raised.value.problems[0].message
    assert read_text(project / FILE) == changed


def test_write_atomically_keeps_permissions(project: Path) -> None:
    path = project / FILE
    path.chmod(0o640)
    write_atomically(path, "## Q {#q}\n\nA.\n", expected_hash=file_hash(read_text(path)), shown=FILE)
    assert read_text(path) == "## Q {#q}\n\nA.\n"
    assert path.stat().st_mode & 0o777 == 0o640


def test_a_file_outside_the_knowledge_folder_is_refused(project: Path) -> None:
    (project / "secret.md").write_text(TEXT, encoding="utf-8")
    with pytest.raises(EntryNotFound):
        save_entry(project / "knowledge", project, "secret.md", "payment-methods", edit(), expected_hash="x")

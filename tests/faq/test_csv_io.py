from __future__ import annotations

from pathlib import Path

import pytest

from bot.faq.csv_io import import_table, parse_table, write_table
from bot.faq.markdown_loader import parse_markdown

F = "knowledge/faq.csv"


def test_parses_rows_with_alternates_ids_tags_and_multiline_answers() -> None:
    text = (
        'Question,Answer,Alternates,id,tags\nHow can I pay?,"Cards,\nPayPal",pay by card|paypal?,pay,a|b\nFee?,No.,,,\n'
    )
    entries, problems = parse_table(text, F)
    assert problems == []
    pay, fee = entries
    assert (pay.id, pay.answer, pay.alternates, pay.tags, pay.line) == (
        "pay",
        "Cards,\nPayPal",
        ("pay by card", "paypal?"),
        ("a", "b"),
        2,
    )
    assert (fee.id, fee.line, fee.explicit_id) == ("faq/fee", 4, False)


def test_tsv() -> None:
    entries, problems = parse_table("question\tanswer\nQ one?\tA, with comma\n", "k.tsv", "\t")
    assert problems == [] and entries[0].answer == "A, with comma"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "question,reply\nQ?,A\n",
            "knowledge/faq.csv:1: missing column(s) 'answer' in the header row (found 'question', 'reply') — the first "
            "row must name the columns, comma-separated, e.g. 'question,answer'",
        ),
        (
            'question,answer\n"Q1?","A\nstill A1"\nQ2?,\n',
            "knowledge/faq.csv:4: the question 'Q2?' has no answer — fill the 'answer' cell or delete the row",
        ),
        (
            "question,answer\n,A\n",
            "knowledge/faq.csv:2: row has no question — fill the 'question' cell or delete the row",
        ),
        (
            "  \n",
            "knowledge/faq.csv: the file is empty — add a header row 'question,answer' and one row per entry, "
            "or delete the file",
        ),
        (
            "question,answer\nQ?,A,extra\n",
            "knowledge/faq.csv:2: row has 3 cells but the header has 2 — quote cells that contain the separator",
        ),
    ],
)
def test_invalid_csv_names_file_line_and_fix(text: str, expected: str) -> None:
    _, problems = parse_table(text, F)
    assert [str(p) for p in problems] == [expected]


def test_import_writes_markdown_that_loads_back_the_same(tmp_path: Path) -> None:
    src = tmp_path / "export.csv"
    src.write_text(
        'question,answer,alternates\nHow? {#x},"Use {{ braces }}\n## not a heading",how|how please\nWhy?,Because.,\n',
        encoding="utf-8",
    )
    dest = tmp_path / "knowledge" / "export.md"
    imported, problems = import_table(src, dest)
    assert problems == []
    entries, problems = parse_markdown(dest.read_text(encoding="utf-8"), "knowledge/export.md")
    assert problems == []
    assert [e.id for e in entries] == [e.id for e in imported] == ["how-x", "why"]
    assert entries[0].alternates == ("how", "how please")
    assert "{% raw %}" in entries[0].answer and "\\## not a heading" in entries[0].answer


def test_export_round_trip(tmp_path: Path) -> None:
    entries, _ = parse_table("question,answer,alternates,id\nQ?,A,q1|q2,q\n", F)
    out = tmp_path / "out.tsv"
    write_table(entries, out)
    again, problems = parse_table(out.read_text(encoding="utf-8"), "out.tsv", "\t")
    assert problems == [] and [(e.id, e.question, e.alternates, e.answer) for e in again] == [
        ("q", "Q?", ("q1", "q2"), "A")
    ]

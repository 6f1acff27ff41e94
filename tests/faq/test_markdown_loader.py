"""Markdown knowledge files: entries, ids, alternates, answers, and every problem with its file:line."""

from __future__ import annotations

import pytest

from bot.faq.markdown_loader import parse_markdown

F = "knowledge/faq.md"


def test_parses_entries_with_front_matter_ids_and_alternates() -> None:
    text = (
        "---\ntitle: Payments\ntags: [a, b]\nowner: Finance\nurl: https://x.example/pay\n---\n"
        "# Payments\n\nIntro text is ignored.\n\n"
        "## How can I pay? {#pay}\nAlso asked:\n- paypal ok?\n- card types\n\nCards and PayPal.\n\n"
        "### Details\nMore.\n\n"
        "## Is there a fee?\n\nNo fee.\n"
    )
    entries, problems = parse_markdown(text, F)
    assert problems == []
    first, second = entries
    assert (first.id, first.question, first.alternates) == ("pay", "How can I pay?", ("paypal ok?", "card types"))
    assert first.answer == "Cards and PayPal.\n\n### Details\nMore."
    assert (first.line, first.answer_line, first.alternate_lines) == (11, 16, (13, 14))
    assert (first.title, first.tags, first.owner, first.url) == (
        "Payments",
        ("a", "b"),
        "Finance",
        "https://x.example/pay",
    )
    assert second.id == "faq/is-there-a-fee" and not second.explicit_id and second.line == 21
    assert second.answer == "No fee."


def test_headings_inside_code_fences_are_answer_text() -> None:
    entries, problems = parse_markdown("## Q?\n\n```\n## not a heading\n```\n", F)
    assert problems == [] and len(entries) == 1 and "## not a heading" in entries[0].answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "",
            "knowledge/faq.md: the file is empty — add at least one '## question' heading followed by its answer, "
            "or delete the file",
        ),
        (
            "# Title\n\nJust text.\n",
            "knowledge/faq.md: no entries: the file has no '## ' question heading — start "
            "each question with '## ' on its own line, e.g. '## How can I pay?'",
        ),
        (
            "# T\n\n## How can I pay?\n\n## Next?\n\nAnswer.\n",
            "knowledge/faq.md:3: the question 'How can I pay?' has no answer — write the answer under the heading "
            "(after the 'Also asked:' list and an empty line), or remove the heading",
        ),
        (
            "## Q?\nAlso asked:\n- one\ntwo\n\nAnswer.\n",
            "knowledge/faq.md:4: a line in the 'Also asked:' list does not start with '- ' — start each alternate "
            "phrasing with '- ', and leave an empty line between the list and the answer",
        ),
        (
            "## Q? {#bad id}\n\nA.\n",
            "knowledge/faq.md:1: invalid id '{#bad id}' — use letters, digits, '-', '_' or '.', "
            "e.g. {#payment-methods}",
        ),
        (
            "## \n\nA.\n",
            "knowledge/faq.md:1: the '## ' heading has no question — write the question after '## ', "
            "e.g. '## How can I pay?'",
        ),
    ],
)
def test_invalid_markdown_names_file_line_and_fix(text: str, expected: str) -> None:
    _, problems = parse_markdown(text, F)
    assert [str(p) for p in problems if p.severity == "error"] == [expected]

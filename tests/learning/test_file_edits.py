"""Accepted changes as a person would type them: only the new lines, in the file's own style (bullets,
indentation, line endings), comments kept; anything that would not read back as intended is refused."""

from __future__ import annotations

import difflib

import pytest

from bot.faq.markdown_loader import parse_markdown
from bot.learning.errors import SuggestionNotApplicable
from bot.learning.markdown_edits import add_alternates, append_entry
from bot.learning.yaml_edits import add_examples
from tests.learning.conftest import NLU, PAYMENTS, SHIPPING


def _added(before: str, after: str) -> list[str]:
    """The lines `after` inserts into `before`, checking that nothing was removed or changed."""
    matcher = difflib.SequenceMatcher(None, before.splitlines(), after.splitlines(), autojunk=False)
    operations = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    assert all(op[0] == "insert" for op in operations), operations
    return [line for op in operations for line in after.splitlines()[op[3] : op[4]]]


def test_alternates_go_at_the_end_of_the_list_in_its_bullet_style() -> None:
    after = add_alternates(SHIPPING, "delivery-germany", ["delivery time berlin", "how fast to munich"], "s.md")
    assert _added(SHIPPING, after) == ["* delivery time berlin", "* how fast to munich"]
    assert "* shipping time to germany\n* delivery time berlin\n* how fast to munich\n\nTwo to four" in after


def test_an_entry_without_alternates_gets_the_list_under_its_country_line() -> None:
    after = add_alternates(PAYMENTS, "instalments", ["pay later with klarna"], "p.md")
    assert _added(PAYMENTS, after) == ["Also asked:", "- pay later with klarna"]
    assert "{#instalments}\nCountry: France, Germany\nAlso asked:\n- pay later with klarna\n\nYes, with" in after
    [entry] = [e for e in parse_markdown(after, "p.md")[0] if e.id == "instalments"]
    assert entry.alternates == ("pay later with klarna",) and entry.about == (("country", ("france", "germany")),)
    assert "<!-- Staff: keep the card list in sync with the checkout. -->" in after


def test_an_answer_right_under_the_heading_gets_the_blank_line_the_list_needs() -> None:
    text = "## Do you gift wrap? {#gift-wrap}\nYes, for €3.\n"
    after = add_alternates(text, "gift-wrap", ["gift wrapping"], "g.md")
    assert after == "## Do you gift wrap? {#gift-wrap}\nAlso asked:\n- gift wrapping\n\nYes, for €3.\n"


def test_windows_line_endings_are_kept() -> None:
    text = SHIPPING.replace("\n", "\r\n")
    after = add_alternates(text, "delivery-germany", ["delivery time berlin"], "s.md")
    assert "* shipping time to germany\r\n* delivery time berlin\r\n\r\nTwo" in after
    assert "\n" not in after.replace("\r\n", "")


def test_an_entry_that_is_gone_is_a_clear_error() -> None:
    with pytest.raises(SuggestionNotApplicable, match="s.md has no entry `delivery-france` any more"):
        add_alternates(SHIPPING, "delivery-france", ["x"], "s.md")


def test_a_new_entry_is_appended_with_its_id_alternates_and_answer() -> None:
    after = append_entry(
        SHIPPING, "Do you ship to Norway?", "ship-norway", ["delivery to oslo"], "Yes, in 5 days.", "s.md"
    )
    assert (
        after
        == SHIPPING + "\n## Do you ship to Norway? {#ship-norway}\nAlso asked:\n- delivery to oslo\n\nYes, in 5 days.\n"
    )
    assert append_entry("", "Q?", "q", [], "A.", "new.md") == "## Q? {#q}\n\nA.\n"


@pytest.mark.parametrize(
    ("answer", "message"),
    [("   ", "has no answer"), ("Yes.\n## Another question\nNo.", "heading line, which would start")],
)
def test_a_new_entry_answer_that_would_break_the_file_is_refused(answer: str, message: str) -> None:
    with pytest.raises(SuggestionNotApplicable, match=message):
        append_entry(SHIPPING, "Do you ship to Norway?", "ship-norway", [], answer, "s.md")


def test_examples_go_at_the_end_of_the_intent_block_and_comments_stay() -> None:
    after = add_examples(NLU, "order_status", ["wheres my stuff"], "nlu.yml")
    assert _added(NLU, after) == ["    - wheres my stuff"]
    assert "    - has my order shipped\n    - wheres my stuff\n\n# Greetings: keep them short.\n" in after
    assert "# Task intents of the test shop." in after


def test_examples_of_an_unknown_intent_are_refused() -> None:
    with pytest.raises(SuggestionNotApplicable, match="no `examples: |` block for intent `refund`"):
        add_examples(NLU, "refund", ["money back"], "nlu.yml")


def test_an_example_that_would_read_as_an_annotation_is_refused() -> None:
    with pytest.raises(SuggestionNotApplicable, match="would not read back as intended"):
        add_examples(NLU, "greet", ["hi [anna](name)"], "nlu.yml")

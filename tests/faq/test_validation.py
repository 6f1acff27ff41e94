from __future__ import annotations

from pathlib import Path

import numpy as np

from bot.faq.entry import KnowledgeEntry
from bot.faq.markdown_loader import parse_markdown
from bot.faq.validation import (
    check_ids_and_questions,
    check_links,
    check_long_answers,
    check_near_duplicates,
    render_answers,
)


def entries_of(text: str, file: str = "knowledge/a.md") -> list[KnowledgeEntry]:
    entries, problems = parse_markdown(text, file)
    assert not problems
    return entries


def test_duplicate_ids_and_questions() -> None:
    a = entries_of("## How can I pay? {#pay}\n\nA.\n")
    b = entries_of(
        "## How can i pay {#pay}\n\nB.\n\n## Other?\nAlso asked:\n- how can I pay?\n\nC.\n", "knowledge/b.md"
    )
    assert [str(p) for p in check_ids_and_questions(a + b)] == [
        "knowledge/b.md:1: duplicate id 'pay' — give one of them another id (the other is at knowledge/a.md:1)",
        "knowledge/b.md:1: the question 'How can i pay' is also in entry 'pay' at knowledge/a.md:1 — keep it in one "
        "entry only: merge the two answers or reword one question",
        "knowledge/b.md:7: the question 'how can I pay?' is also in entry 'pay' at knowledge/a.md:1 — keep it in one "
        "entry only: merge the two answers or reword one question",
    ]


def test_template_errors_name_the_answer_line() -> None:
    entries = entries_of("## Q1?\n\nLine one.\nWithin {{ return_dayz }} days.\n\n## Q2?\n\nBroken {{ x \n")
    rendered, problems = render_answers(entries, {"return_days": "30", "x": 1})
    assert [str(p) for p in problems] == [
        "knowledge/a.md:4: unknown variable 'return_dayz' in the answer — check the spelling, or add it to "
        "knowledge/variables.yml",
        "knowledge/a.md:8: template error in the answer: unexpected end of template, expected 'end of print "
        "statement'. — write variables as {{ name }}; to show literal braces wrap the text in {% raw %}...{% endraw %}",
    ]
    assert rendered == {}


def test_render_answers_fills_variables_and_uses_the_cache() -> None:
    entries = entries_of("## Q?\n\n{{ days }} days.\n")
    cache: dict[tuple[str, str], str] = {}
    assert render_answers(entries, {"days": "30"}, cache)[0] == {"a/q": "30 days."}
    assert len(cache) == 1


def test_warnings_long_answers_links_and_near_duplicates(tmp_path: Path) -> None:
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "knowledge" / "b.pdf").write_text("x")
    # links to other files (links to .md knowledge files have their own rules: tests/faq/test_links.py)
    entries = entries_of(
        "## Q?\n\nSee [b](b.pdf), [c](c.pdf#top), [web](https://x.example) and [top](#top).\n\n## R?\n\n"
        + "x" * 1600
        + "\n"
    )
    assert [str(p) for p in check_links(entries, tmp_path)] == [
        "knowledge/a.md:3: broken link: 'c.pdf#top' does not exist — fix the file name (links are relative to this "
        "file) or use a full https:// address"
    ]
    assert [(p.severity, p.line) for p in check_long_answers(entries)] == [("warning", 5)]
    vectors = np.array([[1.0, 0.0], [0.96, 0.28]], dtype=np.float32)
    (near,) = check_near_duplicates(entries, vectors)
    assert near.severity == "warning" and near.line == 5 and "almost the same question as 'Q?'" in near.message

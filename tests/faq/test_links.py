"""Links between knowledge files: rewritten to the linked file's `url` when an answer is shown,
reported by the validator when they cannot be; and the answer's source line as customers see it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.encoding import FakeEncoder
from bot.faq.entry import KnowledgeEntry
from bot.faq.links import KnowledgeLinks, find_links, knowledge_file_of
from bot.faq.markdown_loader import parse_markdown
from bot.faq.templates import ANSWER_TEMPLATE, ReplyTemplates, default_templates_dir
from bot.faq.validation import check_links

from .conftest import ServiceFactory, write

ROOT = Path(__file__).resolve().parents[2]
LINKS = KnowledgeLinks(
    {
        "knowledge/returns-and-refunds.md": "https://shop.example/help/returns",
        "knowledge/stores.md": "/stores",
        "knowledge/care/wool.md": "https://shop.example/help/care/wool",
        "knowledge/internal.md": None,
    }
)


def entries_of(text: str, file: str = "knowledge/a.md") -> list[KnowledgeEntry]:
    entries, problems = parse_markdown(text, file)
    assert not problems
    return entries


# -- rewriting ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        ("See [returns](returns-and-refunds.md).", "See [returns](https://shop.example/help/returns)."),
        # the anchor names a question in the file, not a place on the web page: the url is used as is
        ("[faulty items](returns-and-refunds.md#faulty-items)", "[faulty items](https://shop.example/help/returns)"),
        (
            '[x](./returns-and-refunds.md) [y](<returns-and-refunds.md> "Returns")',
            "[x](https://shop.example/help/returns) [y](https://shop.example/help/returns)",
        ),
        ("[our shops](stores.md)", "[our shops](/stores)"),
        (
            "[wool](care/wool.md) and [wool](care/wool.md#washing)",
            "[wool](https://shop.example/help/care/wool) and [wool](https://shop.example/help/care/wool)",
        ),
        ("[**Returns**](RETURNS-AND-REFUNDS.md)", "**Returns**"),  # file names are case-sensitive
        # no url in the linked file's header, or no such file: only the words are kept
        ("Ask [the team](internal.md) or see [old](old-page.md#x).", "Ask the team or see old."),
        ("[](internal.md)!", "!"),
    ],
)
def test_links_to_knowledge_files_become_links_to_their_url(answer: str, shown: str) -> None:
    assert LINKS.rewrite(answer, "knowledge/a.md") == shown


@pytest.mark.parametrize(
    "answer",
    [
        "[web](https://shop.example/help) [mail](mailto:help@shop.example) [top](#top) [site](/help/a.md)",
        "[a chart](size-chart.pdf) and ![a picture](returns-and-refunds.md)",
        "Write `[returns](returns-and-refunds.md)` in your file, or:\n```\n[returns](returns-and-refunds.md)\n```",
        "No links at all, [brackets] and (parentheses).",
    ],
)
def test_other_links_images_and_code_are_left_alone(answer: str) -> None:
    assert LINKS.rewrite(answer, "knowledge/a.md") == answer


def test_links_are_relative_to_the_answers_file() -> None:
    assert knowledge_file_of("wool.md#drying", "knowledge/care/knitwear.md") == "knowledge/care/wool.md"
    assert knowledge_file_of("../returns-and-refunds.md", "knowledge/care/knitwear.md") == (
        "knowledge/returns-and-refunds.md"
    )
    assert knowledge_file_of("my%20notes.md", "knowledge/a.md") == "knowledge/my notes.md"
    assert knowledge_file_of("https://x.example/a.md", "knowledge/a.md") is None
    assert LINKS.rewrite("[shops](../stores.md)", "knowledge/care/knitwear.md") == "[shops](/stores)"


def test_a_url_that_would_break_the_markdown_is_escaped() -> None:
    links = KnowledgeLinks({"knowledge/b.md": "https://shop.example/help (new)"})
    assert links.rewrite("[b](b.md)", "knowledge/a.md") == "[b](https://shop.example/help%20%28new%29)"


def test_find_links_skips_code_and_images() -> None:
    text = "`[a](a.md)` ![b](b.md) [c](c.md 'x') [d](<d.md>)"
    assert [(link.text, link.target) for link in find_links(text)] == [("d", "d.md")]


def test_the_shown_answer_has_its_links_rewritten(kb: Path, make_service: ServiceFactory) -> None:
    payments = (kb / "payments.md").read_text()
    write(
        kb / "payments.md",
        payments.replace(
            "We take cards and PayPal.",
            "We take cards and PayPal. See [shipping](shipping.md) and [refunds](returns.md#refund-time).",
        ),
    )
    write(kb / "returns.md", "---\ntitle: Returns\nurl: https://shop.example/help/returns\n---\n## Refund?\n\nYes.\n")
    service = make_service(kb, FakeEncoder())
    snapshot = service.load()
    result = service.respond(service.encoder.encode(["how can I pay"])[0], "how can I pay")
    assert result.decision == "answer"
    (reply,) = result.replies
    # shipping.md has no url: its words stay; returns.md has one
    assert reply.text.startswith(
        "We take cards and PayPal. See shipping and [refunds](https://shop.example/help/returns)."
    )
    # what is indexed and validated is the staff's text, unchanged
    assert "[shipping](shipping.md)" in snapshot.answers["payment-methods"]


# -- validation ---------------------------------------------------------------------------------------
def test_the_validator_reports_links_customers_could_not_follow(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    write(folder / "README.md", "# Staff guide\n")
    write(folder / "returns-and-refunds.md", "x")
    entries = entries_of(
        "## Q?\n\nSee [refunds](returns-and-refunds.md#refunds), [returns](return-and-refunds.md),\n"
        "[the guide](README.md), [internal](internal.md) and [nothing](zebra.md).\n",
    )
    entries += entries_of(
        "---\ntitle: R\nurl: https://x.example/r\n---\n## R?\n\nR.\n", "knowledge/returns-and-refunds.md"
    )
    entries += entries_of("## I?\n\nI.\n", "knowledge/internal.md")
    problems = check_links(entries, tmp_path)
    assert all(p.severity == "warning" for p in problems)
    assert [str(p) for p in problems] == [
        "knowledge/a.md:3: broken link: 'return-and-refunds.md' does not exist (there is no file "
        "knowledge/return-and-refunds.md) — did you mean 'returns-and-refunds.md'? Link to a knowledge file by "
        "its name (relative to this file) or use a full https:// address; until then customers see only the "
        "words of the link",
        "knowledge/a.md:4: 'README.md' is not a knowledge file (no questions are loaded from knowledge/README.md), "
        "so customers see only the words of the link — link to a question-and-answer file of the knowledge "
        "folder, or use a full https:// address",
        "knowledge/a.md:4: 'internal.md' links to knowledge/internal.md, which has no 'url' in its header, so "
        "customers see only the words of the link — add 'url: https://…' (its page on your website) to the "
        "header of knowledge/internal.md, or link to a full https:// address",
        "knowledge/a.md:4: broken link: 'zebra.md' does not exist (there is no file knowledge/zebra.md) — link "
        "to a knowledge file by its name (relative to this file) or use a full https:// address; until then "
        "customers see only the words of the link",
    ]


def test_the_reference_knowledge_base_has_no_link_problems() -> None:
    from bot.faq.loader import load_knowledge

    loaded = load_knowledge(ROOT / "knowledge", ROOT)
    assert [str(p) for p in check_links(loaded.entries, ROOT)] == []


def test_validate_reports_a_broken_knowledge_link(kb: Path, make_service: ServiceFactory) -> None:
    payments = (kb / "payments.md").read_text()
    write(kb / "payments.md", payments.replace("When you place your order.", "See [shipping](shiping.md)."))
    problems = [str(p) for p in make_service(kb).validate()]
    assert any(p.startswith("knowledge/payments.md:17: broken link: 'shiping.md'") for p in problems), problems
    assert any("did you mean 'shipping.md'?" in p for p in problems), problems


# -- the source line ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "folder", [ROOT / "knowledge" / "templates", default_templates_dir()], ids=["staff", "default"]
)
@pytest.mark.parametrize("url", ["https://shop.example/help/shipping", None])
def test_the_source_line_shows_the_title_never_the_entry_id(folder: Path, url: str | None) -> None:
    entry: dict[str, object] = {
        "id": "delivery-time-germany",
        "question": "How long does delivery to Germany take?",
        "title": "Shipping and delivery",
        "url": url,
        "file": "knowledge/shipping-and-delivery.md",
        "tags": [],
    }
    text = ReplyTemplates(folder).render(ANSWER_TEMPLATE, {"entry": entry, "answer": "2–4 days.", "related": []})
    source = f"[Shipping and delivery]({url})" if url else "Shipping and delivery"
    assert text == f"2–4 days.\n\n_Source: {source}_"
    assert "delivery-time-germany" not in text

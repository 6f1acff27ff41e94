from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.encoding import FakeEncoder
from bot.errors import KnowledgeError
from bot.faq.unanswered import MemoryUnansweredStore

from .conftest import ServiceFactory, write


def ask(service: object, text: str) -> object:
    from bot.faq.service import KnowledgeService

    assert isinstance(service, KnowledgeService)
    return service.respond(service.encoder.encode([text])[0], text)


def test_load_ignores_readme_stores_and_templates(kb: Path, make_service: ServiceFactory) -> None:
    write(kb / "templates" / "notes.md", "## Not knowledge\n\nx\n")
    service = make_service(kb)
    snapshot = service.load()
    assert [e.id for e in snapshot.entries] == ["payment-methods", "when-charged", "shipping/do-you-ship-to-canada"]
    assert snapshot.files == ("knowledge/payments.md", "knowledge/shipping.md")
    assert snapshot.answers["payment-methods"] == "We take cards and PayPal. Returns within 30 days."
    assert service.faq_training_examples()[:3] == [
        "Which payment methods do you accept?",
        "how can I pay",
        "do you take PayPal",
    ]


def test_first_load_raises_with_every_problem(kb: Path, make_service: ServiceFactory) -> None:
    write(kb / "broken.md", "## No answer?\n")
    write(kb / "empty.md", "")
    with pytest.raises(KnowledgeError) as info:
        make_service(kb).load()
    assert [str(p) for p in info.value.errors] == [
        "knowledge/broken.md:1: the question 'No answer?' has no answer — write the answer under the heading "
        "(after the 'Also asked:' list and an empty line), or remove the heading",
        "knowledge/empty.md: the file is empty — add at least one '## question' heading followed by its answer, "
        "or delete the file",
    ]


def test_answer_with_source_related_and_template(kb: Path, make_service: ServiceFactory) -> None:
    service = make_service(kb)
    service.load()
    result = ask(service, "how can I pay")
    assert result.decision == "answer"  # type: ignore[attr-defined]
    (reply,) = result.replies  # type: ignore[attr-defined]
    assert reply.kind == "knowledge"
    assert reply.text.startswith("We take cards and PayPal. Returns within 30 days.")
    # customers see the file's title (linked to its url), never the entry's internal id
    assert reply.text.endswith("\n\n_Source: [Payments](https://shop.example/help/payments)_")
    assert "payment-methods" not in reply.text
    assert [s.as_dict() for s in reply.sources] == [
        {
            "id": "payment-methods",
            "title": "Payments",
            "file": "knowledge/payments.md",
            "url": "https://shop.example/help/payments",
        }
    ]
    assert all(b.payload == b.title for b in reply.buttons) and len(reply.buttons) <= 2


def test_suggest_and_unknown_record_unanswered(kb: Path, make_service: ServiceFactory) -> None:
    from bot.faq.thresholds import Thresholds

    recorder = MemoryUnansweredStore()
    service = make_service(kb, thresholds=Thresholds(answer=0.99, suggest=0.2), recorder=recorder)
    service.load()
    result = ask(service, "pay methods")
    assert result.decision == "suggest"  # type: ignore[attr-defined]
    (reply,) = result.replies  # type: ignore[attr-defined]
    assert reply.text == "I'm not sure I understood. Did you mean one of these?"
    assert [b.payload for b in reply.buttons][-1] == "/human_handoff"
    assert reply.buttons[0].payload == "Which payment methods do you accept?"
    service = make_service(kb, thresholds=Thresholds(answer=0.99, suggest=0.98), recorder=recorder)
    service.load()
    result = ask(service, "zebra quantum")
    assert result.decision == "unknown"  # type: ignore[attr-defined]
    (reply,) = result.replies  # type: ignore[attr-defined]
    assert reply.text.startswith("Sorry, I don't know") and reply.buttons[0].title == "Talk to a person"
    assert [q.text for q in recorder.questions] == ["zebra quantum"]
    assert recorder.list_grouped()[0].count == 1


def test_staff_templates_override_and_html_templates_escape(kb: Path, make_service: ServiceFactory) -> None:
    write(kb / "templates" / "answer.md.j2", "{{ answer }} [{{ entry.id }}]")
    service = make_service(kb)
    service.load()
    assert ask(service, "how can I pay").replies[0].text.endswith("[payment-methods]")  # type: ignore[attr-defined]
    from bot.faq.templates import ReplyTemplates

    write(kb / "templates" / "card.html.j2", "<p>{{ question }}</p>")
    html = ReplyTemplates(kb / "templates").render("card.html.j2", {"question": "<script>x</script>"})
    assert html == "<p>&lt;script&gt;x&lt;/script&gt;</p>"


def test_edit_reembeds_only_the_changed_text_and_restart_embeds_nothing(kb: Path, make_service: ServiceFactory) -> None:
    encoder = FakeEncoder()
    service = make_service(kb, encoder)
    service.load()
    first = service.store.embedded_texts
    assert first > 0
    text = (kb / "shipping.md").read_text()
    (kb / "shipping.md").write_text(text.replace("Not yet, sorry.", "Yes, since May."))
    assert service.reload()
    # only the shipping entry's context text changed (its answer lead); its phrasings did not
    assert service.store.embedded_texts - first == 1
    with (kb / "shipping.md").open("a") as fh:
        fh.write("\n## Do you ship to Mexico?\nAlso asked:\n- delivery to canada or mexico\n\nYes.\n")
    assert service.reload()
    assert service.store.embedded_texts - first == 1 + 3  # the new entry's question, alternate and context
    restarted = make_service(kb, encoder)
    restarted.load()
    assert restarted.store.embedded_texts == 0
    assert "Yes, since May." in restarted.snapshot.answers["shipping/do-you-ship-to-canada"]


def test_invalid_edit_keeps_the_last_good_snapshot_and_reports(kb: Path, make_service: ServiceFactory) -> None:
    service = make_service(kb)
    old = service.load()
    write(kb / "shipping.md", "## Do you ship to Canada?\n\nWithin {{ dayz }} days.\n")
    assert service.reload() is False
    assert service.snapshot is old
    status = service.status()
    assert status["ok"] is False and status["entries"] == 3
    assert status["last_error"] == [
        {
            "file": "knowledge/shipping.md",
            "line": 3,
            "message": "unknown variable 'dayz' in the answer",
            "fix": "check the spelling, or add it to knowledge/variables.yml",
            "severity": "error",
        }
    ]
    write(kb / "shipping.md", "## Do you ship to Canada?\n\nYes.\n")
    assert service.reload() and service.status()["ok"] is True and service.snapshot is not old


def test_broken_reply_template_is_an_error(kb: Path, make_service: ServiceFactory) -> None:
    write(kb / "templates" / "dont_know.md.j2", "Sorry {% if %}\n")
    service = make_service(kb)
    assert "dont_know.md.j2:1: template syntax error" in str(service.validate()[0])


def test_watch_reloads_on_change(kb: Path, make_service: ServiceFactory) -> None:
    service = make_service(kb)
    service.load()

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(service.watch(stop, debounce_ms=50))
        await asyncio.sleep(0.3)
        write(kb / "new.md", "## Do you sell hats?\n\nYes.\n")
        for _ in range(100):
            if len(service.snapshot.entries) == 4:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert len(service.snapshot.entries) == 4


def test_is_relevant(kb: Path, make_service: ServiceFactory) -> None:
    service = make_service(kb)
    assert service.is_relevant(kb / "a.md") and service.is_relevant(kb / "sub" / "b.csv")
    assert service.is_relevant(kb / "variables.yml") and service.is_relevant(kb / "templates" / "answer.md.j2")
    assert not service.is_relevant(kb / "stores.yml") and not service.is_relevant(kb / "README.md")
    assert not service.is_relevant(kb / "tests" / "x.md") and not service.is_relevant(kb.parent / "x.md")


def test_reload_parses_only_changed_files(
    kb: Path, make_service: ServiceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.faq.loader as loader

    service = make_service(kb)
    old = service.load()
    parsed: list[str] = []
    real = loader.parse_markdown

    def counting(text: str, display: str) -> object:
        parsed.append(display)
        return real(text, display)

    monkeypatch.setattr(loader, "parse_markdown", counting)
    assert service.reload()
    assert parsed == []
    assert service.snapshot.entries == old.entries
    text = (kb / "shipping.md").read_text()
    (kb / "shipping.md").write_text(text.replace("Not yet, sorry.", "Yes, since May."))
    assert service.reload()
    assert parsed == ["knowledge/shipping.md"]
    assert "Yes, since May." in service.snapshot.answers["shipping/do-you-ship-to-canada"]
    (kb / "shipping.md").unlink()
    assert service.reload()
    assert [e.id for e in service.snapshot.entries] == ["payment-methods", "when-charged"]

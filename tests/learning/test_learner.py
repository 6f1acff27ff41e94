"""The learning loop over fakes: signals → suggestions → a person accepts → the file changes → the bot answers;
and the bad input: accepted twice, a file edited by hand meanwhile, a change that would not validate."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.feedback import Feedback
from bot.learning.changes import Overrides
from bot.learning.errors import FileChanged, SuggestionDecided, SuggestionNotApplicable, SuggestionNotFound
from tests.learning.conftest import Kit


def _ask_unknown(kit: Kit, sender: str, text: str) -> None:
    kit.chat.start(sender)
    kit.chat.user(sender, text)
    kit.chat.dont_know(sender)


def _answered(kit: Kit, text: str) -> str | None:
    result = kit.knowledge.respond(kit.encoder.encode([text])[0], text, record=False)
    return result.top.entry.id if result.decision == "answer" and result.top else None


def test_an_accepted_alternate_answers_the_same_question_afterwards(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit()
    question = "which payment methods are accepted online"
    _ask_unknown(kit, "u1", question)
    kit.chat.start("u2")
    kit.chat.user("u2", "payment methods accepted online?")
    kit.chat.did_you_mean("u2", "Which payment methods do you accept?", "Can I pay in instalments?")
    kit.chat.user("u2", "Which payment methods do you accept?")
    kit.chat.answer("u2", "payment-methods")
    report = kit.learner.refresh()
    assert report.signals == 2
    [suggestion] = report.suggestions
    assert (suggestion.kind, suggestion.target, suggestion.count) == ("alternate", "payment-methods", 2)
    assert suggestion.file == "knowledge/payments.md" and suggestion.state == "open"
    assert "picked" in suggestion.reason
    before = (kit.project.knowledge / "payments.md").read_text()

    accepted = kit.learner.accept(suggestion.id or 0, "anna")

    after = (kit.project.knowledge / "payments.md").read_text()
    assert accepted.change is not None and accepted.suggestion.state == "accepted"
    assert accepted.suggestion.decided_by == "anna"
    added = [line for line in after.splitlines() if line not in before.splitlines()]
    assert added == [f"- {p}" for p in suggestion.phrasings]
    assert question in suggestion.phrasings
    assert after.replace("".join(f"- {p}\n" for p in suggestion.phrasings), "") == before  # nothing else touched
    assert "+- which payment methods are accepted online" in accepted.change.diff()
    assert _answered(kit, question) == "payment-methods"  # reloaded by on_change, as the server does
    [record] = kit.learner.audit()
    assert (record.action, record.by, record.suggestion_id, record.file) == ("accepted", "anna", suggestion.id,
                                                                            "knowledge/payments.md")  # fmt: skip
    assert record.diff == accepted.change.diff()


def test_accepting_twice_is_a_clear_error_and_writes_nothing(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit()
    _ask_unknown(kit, "u1", "which payment methods are accepted online")
    [suggestion] = kit.learner.refresh().suggestions
    kit.learner.accept(suggestion.id or 0, "anna")
    written = (kit.project.knowledge / "payments.md").read_text()
    with pytest.raises(SuggestionDecided, match=rf"suggestion {suggestion.id} was already accepted by anna"):
        kit.learner.accept(suggestion.id or 0, "ben")
    with pytest.raises(SuggestionDecided):
        kit.learner.reject(suggestion.id or 0, "ben")
    assert (kit.project.knowledge / "payments.md").read_text() == written
    assert len(kit.learner.audit()) == 1


def test_a_file_edited_by_hand_since_the_suggestion_is_never_overwritten(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit()
    _ask_unknown(kit, "u1", "which payment methods are accepted online")
    [suggestion] = kit.learner.refresh().suggestions
    path = kit.project.knowledge / "payments.md"
    edited = path.read_text().replace("We take cards and PayPal.", "We take cards, PayPal and Apple Pay.")
    path.write_text(edited)
    with pytest.raises(FileChanged, match="knowledge/payments.md changed since suggestion"):
        kit.learner.accept(suggestion.id or 0, "anna")
    assert path.read_text() == edited
    assert kit.learner.get(suggestion.id or 0).state == "open"
    assert kit.learner.preview(suggestion.id or 0).conflict
    # refreshing prepares it again from the file as it is now; then it can be accepted, keeping the hand edit
    [again] = kit.learner.refresh().suggestions
    assert again.id == suggestion.id
    kit.learner.accept(again.id or 0, "anna")
    assert "We take cards, PayPal and Apple Pay." in path.read_text()
    assert "- which payment methods are accepted online" in path.read_text()


def test_a_rejected_suggestion_is_not_suggested_again(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit()
    _ask_unknown(kit, "u1", "which payment methods are accepted online")
    [suggestion] = kit.learner.refresh().suggestions
    rejected = kit.learner.reject(suggestion.id or 0, "anna", note="not what they meant")
    assert rejected.state == "rejected"
    assert kit.learner.refresh().suggestions == []
    assert kit.learner.audit()[0].note == "not what they meant"
    _ask_unknown(kit, "u2", "payment methods accepted online?")  # a new message: a new suggestion
    [fresh] = kit.learner.refresh().suggestions
    assert fresh.id != suggestion.id and fresh.count == 1


def test_a_new_entry_needs_its_answer_from_staff(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit()
    _ask_unknown(kit, "u1", "do you sell gift vouchers for weddings")
    _ask_unknown(kit, "u2", "do you sell gift vouchers for a wedding")
    [suggestion] = kit.learner.refresh().suggestions
    assert (suggestion.kind, suggestion.count, suggestion.file) == ("new_entry", 2, "knowledge/payments.md")
    asked = {"do you sell gift vouchers for weddings", "do you sell gift vouchers for a wedding"}
    assert suggestion.question is not None and suggestion.question[0] == "D" and suggestion.question.endswith("?")
    assert {suggestion.question[:-1].lower(), *suggestion.phrasings} == asked
    with pytest.raises(SuggestionNotApplicable, match="its answer is for staff to write"):
        kit.learner.accept(suggestion.id or 0, "anna")
    preview = kit.learner.preview(suggestion.id or 0)
    assert "+(the answer staff write)" in preview.diff
    answer = "Yes: gift cards from €20, in any shop or online."
    accepted = kit.learner.accept(suggestion.id or 0, "anna", Overrides(answer=answer))
    assert accepted.change is not None
    text = accepted.change.path.read_text()
    entry_id = suggestion.question[:-1].lower().replace(" ", "-")
    assert (
        f"\n\n## {suggestion.question} {{#{entry_id}}}\nAlso asked:\n- {suggestion.phrasings[0]}\n\n{answer}\n" in text
    )
    assert text.startswith((kit.project.knowledge / "payments.md").read_text()[:40])
    assert _answered(kit, "do you sell gift vouchers for weddings") == entry_id


def test_a_change_that_would_not_validate_is_put_back(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit()
    _ask_unknown(kit, "u1", "do you sell gift vouchers for weddings")
    [suggestion] = kit.learner.refresh().suggestions
    path = kit.project.knowledge / "payments.md"
    before = path.read_text()
    with pytest.raises(SuggestionNotApplicable, match="would not validate"):
        kit.learner.accept(suggestion.id or 0, "anna", Overrides(answer="Yes, {{ missing_variable }}.",
                                                                   file="knowledge/payments.md"))  # fmt: skip
    assert path.read_text() == before
    assert kit.learner.get(suggestion.id or 0).state == "open"


def test_intent_examples_go_into_the_intent_s_block(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit()
    for n, text in enumerate(["wheres my stuff at", "wheres my stuff"]):
        kit.chat.start(f"u{n}")
        kit.chat.user(f"u{n}", text, intent="order_status", confidence=0.41)
        kit.chat.bot(f"u{n}", "Let me check your order.", response="utter_ask_order_number")
    [suggestion] = kit.learner.refresh().suggestions
    assert (suggestion.kind, suggestion.target, suggestion.file) == (
        "intent_example",
        "order_status",
        "intents/nlu.yml",
    )
    accepted = kit.learner.accept(suggestion.id or 0, "dev")
    assert accepted.change is not None and accepted.change.area == "intents"
    text = (kit.project.intents / "nlu.yml").read_text()
    assert "    - has my order shipped\n    - wheres my stuff\n    - wheres my stuff at\n\n# Greetings" in text
    assert kit.changes == [accepted.change]


def test_unknown_ids_and_missing_names_are_refused(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit()
    with pytest.raises(SuggestionNotFound, match="no suggestion 42"):
        kit.learner.accept(42, "anna")
    _ask_unknown(kit, "u1", "which payment methods are accepted online")
    [suggestion] = kit.learner.refresh().suggestions
    with pytest.raises(SuggestionNotApplicable, match="say who decides"):
        kit.learner.accept(suggestion.id or 0, "   ")
    with pytest.raises(SuggestionNotApplicable, match="no knowledge entry `nope`"):
        kit.learner.accept(suggestion.id or 0, "anna", Overrides(entry="nope"))


def test_thumbs_down_steers_away_from_the_entry_that_answered(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit()
    kit.chat.start("u1")
    kit.chat.user("u1", "can I pay in instalments with paypal")
    reply = kit.chat.answer("u1", "instalments")
    kit.feedback.record(Feedback("u1", reply, "down"))
    [suggestion] = kit.learner.refresh().suggestions
    assert suggestion.signals == {"thumbs_down": 1}
    assert suggestion.target != "instalments"


def test_what_the_knowledge_base_answers_now_is_not_suggested(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit()
    _ask_unknown(kit, "u1", "Which payment methods do you accept?")  # the knowledge base answers it now
    report = kit.learner.refresh()
    assert report.suggestions == [] and report.resolved_groups == 1


def test_accepting_one_suggestion_is_not_a_hand_edit_for_the_next_on_the_same_file(
    make_kit: Callable[..., Kit],
) -> None:
    kit = make_kit()
    _ask_unknown(kit, "u1", "which payment methods are accepted online")
    _ask_unknown(kit, "u2", "do you sell gift vouchers for weddings")
    first, second = sorted(kit.learner.refresh().suggestions, key=lambda s: s.kind)
    assert (first.kind, second.kind) == ("alternate", "new_entry") and first.file == second.file
    kit.learner.accept(first.id or 0, "anna")
    kit.learner.accept(second.id or 0, "anna", Overrides(answer="Yes, from €20."))  # no conflict with anna's write
    text = (kit.project.knowledge / "payments.md").read_text()
    assert "- which payment methods are accepted online" in text and "Yes, from €20." in text


def test_accepting_ignore_writes_nothing_and_sets_the_messages_aside(make_kit: Callable[..., Kit]) -> None:
    kit = make_kit()
    _ask_unknown(kit, "u1", "👍👍")
    _ask_unknown(kit, "u2", "?!")
    [suggestion] = kit.learner.refresh().suggestions
    assert suggestion.kind == "ignore" and suggestion.count == 2
    accepted = kit.learner.accept(suggestion.id or 0, "anna")
    assert accepted.change is None and accepted.suggestion.state == "accepted" and kit.changes == []
    assert kit.learner.refresh().suggestions == []

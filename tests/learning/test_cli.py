"""`supportbot learn list|show|accept|reject|audit|review` on a project in a temporary folder (no model needed:
the suggestions are stored as a refresh would store them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.config import Settings, get_settings
from bot.learning.changes import content_hash
from bot.learning.cli import learn_app
from bot.learning.store import SqlSuggestionStore
from bot.learning.suggestions import Suggestion
from tests.learning.conftest import Project

runner = CliRunner()


@pytest.fixture
def settings(project: Project, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("SUPPORTBOT_PROJECT_DIR", str(project.root))
    monkeypatch.setenv("SUPPORTBOT_STATE_DIR", str(project.root / ".state"))
    # this test's own database, even when a session fixture has set SUPPORTBOT_DATABASE_URL for the shop
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", f"sqlite:///{project.root / '.state' / 'supportbot.db'}")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def seed(settings: Settings, project: Project) -> list[Suggestion]:
    payments = (project.knowledge / "payments.md").read_text()
    drafts = [
        Suggestion(key="alternate:payment-methods", kind="alternate", reason="close to entry `payment-methods`",
                   count=3, examples=("paying online options",), first_seen=1e9, last_seen=1.7e9,
                   signals={"abstention": 3}, signal_keys=("a",), target="payment-methods",
                   phrasings=("paying online options",), file="knowledge/payments.md",
                   base_hash=content_hash(payments)),
        Suggestion(key="group:x", kind="new_entry", reason="no entry answers these", count=1,
                   examples=("do you sell perfume",), first_seen=1e9, last_seen=1e9, signals={"abstention": 1},
                   signal_keys=("b",), question="Do you sell perfume?", file="knowledge/payments.md",
                   base_hash=content_hash(payments)),
    ]  # fmt: skip
    return SqlSuggestionStore.from_url(settings.resolved_database_url).sync_open(drafts, now=1.7e9)


def test_list_show_accept_and_the_audit(settings: Settings, project: Project) -> None:
    alternate, new_entry = seed(settings, project)
    listed = runner.invoke(learn_app, ["list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [s["id"] for s in json.loads(listed.stdout)["suggestions"]] == [alternate.id, new_entry.id]

    shown = runner.invoke(learn_app, ["show", str(alternate.id)])
    assert shown.exit_code == 0, shown.output
    assert "+- paying online options" in shown.stdout and "alternates of entry payment-methods" in shown.stdout

    dry = runner.invoke(learn_app, ["accept", str(alternate.id), "--by", "anna", "--dry-run"])
    assert dry.exit_code == 0 and "nothing written" in dry.stdout
    assert "paying online options" not in (project.knowledge / "payments.md").read_text()

    accepted = runner.invoke(learn_app, ["accept", str(alternate.id), "--by", "anna"])
    assert accepted.exit_code == 0, accepted.output
    assert "+- paying online options" in accepted.stdout  # the diff is shown, then written
    assert "- paying online options\n" in (project.knowledge / "payments.md").read_text()

    again = runner.invoke(learn_app, ["accept", str(alternate.id), "--by", "ben"])
    assert again.exit_code == 1
    assert f"suggestion {alternate.id} was already accepted by anna" in " ".join(again.stderr.split())

    audit = runner.invoke(learn_app, ["audit", "--json"])
    [record] = json.loads(audit.stdout)["audit"]
    assert (record["by"], record["action"], record["suggestion_id"]) == ("anna", "accepted", alternate.id)
    assert "+- paying online options" in record["diff"]


def test_a_new_entry_without_answer_is_refused_then_accepted_with_one(settings: Settings, project: Project) -> None:
    _, new_entry = seed(settings, project)
    refused = runner.invoke(learn_app, ["accept", str(new_entry.id), "--by", "anna"])
    assert refused.exit_code == 1 and "--answer" in refused.stderr
    done = runner.invoke(learn_app, ["accept", str(new_entry.id), "--by", "anna", "--answer", "No, only clothes."])
    assert done.exit_code == 0, done.output
    assert "## Do you sell perfume? {#do-you-sell-perfume}\n\nNo, only clothes.\n" in (
        project.knowledge / "payments.md").read_text()  # fmt: skip


def test_reject_and_unknown_ids(settings: Settings, project: Project) -> None:
    alternate, _ = seed(settings, project)
    rejected = runner.invoke(learn_app, ["reject", str(alternate.id), "--by", "anna", "--note", "too vague"])
    assert rejected.exit_code == 0 and "Rejected" in rejected.stdout
    listed = json.loads(runner.invoke(learn_app, ["list", "--state", "rejected", "--json"]).stdout)
    assert [s["id"] for s in listed["suggestions"]] == [alternate.id]
    missing = runner.invoke(learn_app, ["show", "999"])
    assert missing.exit_code == 1 and "no suggestion 999" in missing.stderr
    bad_state = runner.invoke(learn_app, ["list", "--state", "maybe"])
    assert bad_state.exit_code == 2 and "is not one of open, accepted, rejected" in bad_state.stderr


def test_review_goes_through_the_open_suggestions(settings: Settings, project: Project) -> None:
    alternate, new_entry = seed(settings, project)
    # accept the alternate; for the new entry: accept, keep the drafted question, write an answer, confirm
    answers = "a\n" + "a\n\nNo, only clothes.\ny\n"
    result = runner.invoke(learn_app, ["review", "--no-refresh", "--by", "anna"], input=answers)
    assert result.exit_code == 0, result.output
    assert "Reviewed 2 of 2." in result.stdout
    text = (project.knowledge / "payments.md").read_text()
    assert "- paying online options\n" in text and "## Do you sell perfume? {#do-you-sell-perfume}" in text
    states = json.loads(runner.invoke(learn_app, ["list", "--state", "accepted", "--json"]).stdout)
    assert {s["id"] for s in states["suggestions"]} == {alternate.id, new_entry.id}


def test_a_hand_edit_between_list_and_accept_is_a_conflict(settings: Settings, project: Project) -> None:
    alternate, _ = seed(settings, project)
    path: Path = project.knowledge / "payments.md"
    path.write_text(path.read_text() + "\n## Gift cards? {#gift}\nYes.\n")
    before = path.read_text()
    result = runner.invoke(learn_app, ["accept", str(alternate.id), "--by", "anna"])
    assert result.exit_code == 1 and "changed since suggestion" in " ".join(result.stderr.split())
    assert path.read_text() == before

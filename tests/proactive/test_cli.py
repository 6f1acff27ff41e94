"""`supportbot events send` against the real `trigger_intent` route (a served app whose proactive service
runs a small bot: no model), `supportbot triggers check`, and `supportbot validate` on a broken triggers
file (bot/proactive/cli.py, bot/cli.py)."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from bot import cli
from bot.config import Settings
from bot.customers.identity import Identity
from bot.customers.profile import Consent, ConversationRecord
from bot.customers.sql import SqlCustomerStore
from bot.dialogue.tracker_store import SqlTrackerStore
from bot.proactive.cli import events_app, triggers_app
from bot.proactive.outbox import InMemoryOutbox
from bot.proactive.reminders import InMemoryScheduler
from bot.proactive.service import ProactiveService
from server.app import create_app
from server.testing import ServerThread, free_port
from tests.proactive.fake_bot import fake_assistant

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "events-cli-admin-token"
GOOD = 'triggers:\n  - id: returns\n    page: "^/demo/returns"\n    message: "Need help with a return?"\n'
BROKEN = (
    "triggers:\n"
    "  - id: returns\n"
    '    page: "^/demo/(returns"\n'
    '    message: "Need help with a return?"\n'
    "    colour: red\n"
)
runner = CliRunner()
supportbot = typer.Typer()
"""`supportbot events …` and `supportbot triggers …` as bot/cli.py mounts them (a group of one command would
otherwise run that command without its name)."""
supportbot.add_typer(events_app, name="events")
supportbot.add_typer(triggers_app, name="triggers")


def events(*args: str) -> Result:
    return runner.invoke(supportbot, ["events", *args])


@dataclass
class Server:
    url: str
    service: ProactiveService
    database: str


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """The real app (its events route and admin auth) with a proactive service of the small bot; the CLI's
    settings (environment) name the same admin token and database."""
    database = f"sqlite:///{tmp_path / 'bot.db'}"
    monkeypatch.setenv("SUPPORTBOT_ADMIN_TOKEN", TOKEN)
    monkeypatch.setenv("SUPPORTBOT_DATABASE_URL", database)
    monkeypatch.setenv("SUPPORTBOT_STATE_DIR", str(tmp_path / "state"))
    settings = Settings(project_dir=ROOT, state_dir=tmp_path / "state", admin_token=TOKEN, database_url=database)
    app = create_app(settings)
    tracker = SqlTrackerStore.from_url(database)
    service = ProactiveService(fake_assistant(tmp_path, tracker), InMemoryOutbox(), InMemoryScheduler())
    app.state.proactive = service
    try:
        with ServerThread(app, lifespan=False) as url:
            yield Server(url, service, database)
    finally:
        tracker.engine.dispose()


def said(server: Server, sender: str) -> list[str]:
    return [e["text"] for e in server.service.assistant.history(sender) if e["event"] == "bot"]


def entities(server: Server, sender: str) -> dict[str, object]:
    """The entities of the conversation's last event (its user event, as Rasa's `trigger_intent` adds)."""
    [event] = [e for e in server.service.assistant.history(sender) if e["event"] == "user"][-1:]
    return {e["entity"]: e["value"] for e in event["parse_data"]["entities"]}


def flat(text: str) -> str:
    """The text with its line wrapping undone (rich wraps at the terminal's width)."""
    return " ".join(text.split())


def locations(text: str) -> list[str]:
    return sorted(set(re.findall(r"knowledge/triggers\.yml:\d+", text)))


def test_events_send_runs_the_event_in_the_conversation_and_prints_the_message(server: Server) -> None:
    args = ["send", "EXTERNAL_order_shipped", "--sender", "web-3f2a", "-e", "order_number=AN-10001", "-e", "parcels=2"]
    result = events(*args, "--url", server.url)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "bot → web-3f2a: Your order has shipped.\n"
    assert said(server, "web-3f2a") == ["Your order has shipped."]
    assert entities(server, "web-3f2a") == {"order_number": "AN-10001", "parcels": 2}  # 2 read as JSON: a number
    [queued] = server.service.outbox.pending(["web-3f2a"], since=0)
    assert [r["text"] for r in queued.replies] == ["Your order has shipped."]


def test_events_send_to_an_email_reaches_the_customers_latest_conversation(server: Server) -> None:
    store = SqlCustomerStore.from_url(server.database)
    profile = store.set_consent(Identity.email("anna@example.com"), Consent.GIVEN)
    now = time.time()
    store.record_conversation(profile.id, ConversationRecord("conv-old", 1, now - 900, now - 800))
    store.record_conversation(profile.id, ConversationRecord("conv-latest", 1, now - 60, now - 30))
    store.engine.dispose()
    args = ["send", "EXTERNAL_order_shipped", "--email", "anna@example.com", "-e", "order_number=AN-10002"]
    result = events(*args, "--url", server.url)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "bot → conv-latest: Your order has shipped.\n"
    assert said(server, "conv-latest") == ["Your order has shipped."] and said(server, "conv-old") == []
    assert entities(server, "conv-latest") == {"order_number": "AN-10002"}


def test_events_send_to_an_unknown_email_is_refused_before_sending(server: Server) -> None:
    args = ["send", "EXTERNAL_order_shipped", "--email", "nobody@example.com", "-e", "order_number=AN-1"]
    result = events(*args, "--url", server.url)
    assert result.exit_code == 1
    assert "no conversation of a customer with the email 'nobody@example.com' is known" in result.stderr


@pytest.mark.parametrize(
    ("args", "printed"),
    [
        (["EXTERNAL_nope", "--sender", "s1"], "404 unknown_event: "),
        (["EXTERNAL_order_shipped", "--sender", "s1"], "422 invalid_entities: "),
        (["EXTERNAL_order_shipped", "--sender", "s1", "-e", "order_number=AN-1", "-e", "parcels=two"], "422"),
    ],
)
def test_a_refused_event_prints_the_servers_error_and_exits_1(server: Server, args: list[str], printed: str) -> None:
    result = events("send", *args, "--url", server.url)
    assert result.exit_code == 1
    assert result.stderr.startswith(printed)
    assert server.service.assistant.tracker_store.load("s1") is None  # nothing stored


def test_a_wrong_admin_token_is_refused(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTBOT_ADMIN_TOKEN", "not-the-servers-token")
    args = ["send", "EXTERNAL_order_shipped", "--sender", "s1", "-e", "order_number=AN-1", "--url", server.url]
    result = events(*args)
    assert result.exit_code == 1 and result.stderr.startswith("403 forbidden")


def test_events_send_without_a_server_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTBOT_STATE_DIR", str(tmp_path / "state"))
    url = f"http://127.0.0.1:{free_port()}"
    result = events("send", "EXTERNAL_order_shipped", "--sender", "s1", "--url", url)
    assert result.exit_code == 1
    assert f"cannot reach the server at {url}" in result.stderr and "is `supportbot serve` running?" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["send", "EXTERNAL_order_shipped"],  # neither a sender nor an email
        ["send", "EXTERNAL_order_shipped", "--sender", "s1", "--email", "anna@example.com"],  # both
        ["send", "EXTERNAL_order_shipped", "--sender", "s1", "-e", "order_number"],  # not name=value
    ],
)
def test_bad_usage_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    monkeypatch.setenv("SUPPORTBOT_STATE_DIR", str(tmp_path / "state"))
    result = events(*args, "--url", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 2


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the reference project (intents and knowledge) that the settings point at."""
    for name in ("intents", "knowledge"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("tests"))
    monkeypatch.setenv("SUPPORTBOT_PROJECT_DIR", str(tmp_path))
    monkeypatch.setenv("SUPPORTBOT_STATE_DIR", str(tmp_path / ".state"))
    return tmp_path


def test_triggers_check_prints_each_problem_with_file_and_line(project: Path) -> None:
    (project / "knowledge" / "triggers.yml").write_text(GOOD)
    ok = runner.invoke(supportbot, ["triggers", "check"])
    assert (ok.exit_code, ok.stdout) == (0, "1 trigger(s), no problems: returns\n")
    (project / "knowledge" / "triggers.yml").write_text(BROKEN)
    bad = runner.invoke(supportbot, ["triggers", "check"])
    assert bad.exit_code == 1
    assert locations(bad.stderr) == ["knowledge/triggers.yml:3", "knowledge/triggers.yml:5"]
    assert "knowledge/triggers.yml:3: page pattern '^/demo/(returns' is not a valid regular expression" in flat(
        bad.stderr
    )
    assert "knowledge/triggers.yml:5: unknown key 'colour'" in flat(bad.stderr)


def test_validate_checks_the_triggers_file_with_the_loaders_file_and_line(project: Path) -> None:
    from bot.errors import display_path
    from bot.proactive.triggers import load_triggers

    path = project / "knowledge" / "triggers.yml"
    path.write_text(BROKEN)
    _, problems = load_triggers(path, display_path(path, project))
    assert sorted(p.location for p in problems) == ["knowledge/triggers.yml:3", "knowledge/triggers.yml:5"]
    result = runner.invoke(cli.app, ["validate"])
    assert result.exit_code == 1
    assert locations(result.stderr) == ["knowledge/triggers.yml:3", "knowledge/triggers.yml:5"]
    for problem in problems:
        assert flat(f"error {problem.location}: {problem.message} fix: {problem.fix}") in flat(result.stderr)
    path.write_text(GOOD)
    assert runner.invoke(cli.app, ["validate"]).exit_code == 0

"""The console's knowledge pages (`server/console/knowledge.py`) over a copy of the reference knowledge folder, the
fake encoder and a stub assistant: roles, CSRF, the edit written and live at once, invalid and stale edits, the
test panel, stored XSS, and the learning suggestions through the same `Learner` calls as /admin/learn."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.config import Settings
from bot.encoding import Encoded, FakeEncoder
from bot.faq.editing import file_hash, read_text
from bot.faq.index import NumpyIndex
from bot.faq.service import KnowledgeService
from bot.learning.changes import Overrides
from bot.learning.errors import FileChanged, SuggestionNotFound
from bot.learning.suggestions import Suggestion
from bot.types import IntentScore, Parse
from server.console import _console_error as console_error
from server.console import knowledge
from server.console.access import ConsoleError, StaffMember, StaffRole, StaticConsoleSession

ROOT = Path(__file__).resolve().parents[2]
CSRF = "test-csrf"
XSS_SCRIPT = "<script>alert('kb')</script>"
XSS_IMG = '<img src=x onerror="alert(1)">'
ENTRY = "klarna-pay-in-3"


class StubAssistant:
    """What the test panel needs of the assistant: one encoder pass and the parse (intent `faq`)."""

    def __init__(self, encoder: FakeEncoder, intent: str = "faq") -> None:
        self.encoder = encoder
        self.intent = intent

    def encode(self, texts: list[str]) -> Encoded:
        return Encoded(self.encoder.encode(texts), {})

    def parse(self, text: str, encoded: Encoded | None = None) -> Parse:
        names = [self.intent, "order_status", "greet", "human_handoff", "goodbye", "thanks"]
        ranking = tuple(IntentScore(n, round(0.9 / (i + 1), 3)) for i, n in enumerate(names))
        return Parse(text, ranking[0], (), ranking)


@dataclass
class FakeLearner:
    """The `Learner` calls the console makes, recorded."""

    open: list[Suggestion] = field(default_factory=list)
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def suggestions(self, state: str | None = "open", limit: int = 200) -> list[Suggestion]:
        return list(self.open)

    def preview(self, suggestion_id: int, overrides: Overrides | None = None) -> Any:
        return type("P", (), {"change": None, "conflict": False, "suggestion": self.open[0]})()

    def accept(self, suggestion_id: int, by: str, overrides: Overrides, *, expected_hash: str | None) -> None:
        self.calls.append(("accept", suggestion_id, by, overrides, expected_hash))
        if expected_hash == "stale":
            raise FileChanged(suggestion_id, "knowledge/payments.md")

    def reject(self, suggestion_id: int, by: str, note: str | None = None) -> None:
        if suggestion_id == 99:
            raise SuggestionNotFound(suggestion_id)
        self.calls.append(("reject", suggestion_id, by, note))


@dataclass
class Console:
    app: FastAPI
    project: Path
    audit: list[tuple[str, str]]
    learner: FakeLearner

    def client(self, role: StaffRole | None) -> TestClient:
        staff = StaffMember(1, f"{role.value}@shop.example", role.value.title(), role) if role else None
        return TestClient(StaticConsoleSession(self.app, staff, CSRF), follow_redirects=False)

    @property
    def knowledge(self) -> KnowledgeService:
        service: KnowledgeService = self.app.state.knowledge
        return service


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    app = FastAPI()  # the knowledge router alone: sign-in is `StaticConsoleSession`, whatever the real one does
    app.state.settings = Settings(project_dir=tmp_path, state_dir=tmp_path / "state", watch_knowledge=False)
    app.add_exception_handler(ConsoleError, console_error)  # type: ignore[arg-type]
    app.include_router(knowledge.router)
    encoder = FakeEncoder()
    service = KnowledgeService(tmp_path / "knowledge", encoder, root=tmp_path, index_factory=NumpyIndex)
    service.load()
    app.state.knowledge = service
    app.state.assistant = StubAssistant(encoder)
    learner = FakeLearner()
    app.state.learner = learner
    audit: list[tuple[str, str]] = []
    app.state.console_audit = lambda staff, action, target, detail: audit.append((action, target))
    yield Console(app, tmp_path, audit, learner)


def form_of(html: str) -> dict[str, str]:
    """The edit form's current values, as a browser would post them."""
    values = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    values["question"] = re.search(r'name="question" value="([^"]*)"', html).group(1)  # type: ignore[union-attr]
    for name in ("alternates", "answer"):
        values[name] = re.search(rf'name="{name}"[^>]*>(.*?)</textarea>', html, re.S).group(1)  # type: ignore[union-attr]
    import html as html_module

    return {k: html_module.unescape(v) for k, v in values.items()}


# -- browse ----------------------------------------------------------------------------------------------------
def test_the_list_groups_entries_by_topic_with_file_and_line(console: Console) -> None:
    page = console.client(StaffRole.AGENT).get("/console/knowledge")
    assert page.status_code == 200
    assert "Payments" in page.text and "knowledge/payments.md" in page.text
    entry = console.knowledge.snapshot.entry(ENTRY)
    assert entry is not None
    assert f'href="/console/knowledge/{ENTRY}"' in page.text
    assert f"knowledge/payments.md:{entry.line}" in page.text


def test_search_matches_questions_alternates_and_answers(console: Console) -> None:
    client = console.client(StaffRole.AGENT)
    by_alternate = client.get("/console/knowledge", params={"q": "buy now pay later"}).text
    assert f"/console/knowledge/{ENTRY}" in by_alternate
    assert "/console/knowledge/when-charged" not in by_alternate
    by_answer = client.get("/console/knowledge", params={"q": "interest-free"}).text
    assert f"/console/knowledge/{ENTRY}" in by_answer
    assert "0 of" in client.get("/console/knowledge", params={"q": "zzzz-nothing"}).text


def test_without_a_session_the_pages_redirect_to_sign_in(console: Console) -> None:
    client = console.client(None)
    for path in (
        "/console/knowledge",
        f"/console/knowledge/{ENTRY}",
        "/console/knowledge/test",
        "/console/suggestions",
    ):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/console/login"), path


# -- editing -----------------------------------------------------------------------------------------------------
def test_an_agent_sees_the_entry_read_only_and_cannot_post(console: Console) -> None:
    client = console.client(StaffRole.AGENT)
    page = client.get(f"/console/knowledge/{ENTRY}")
    assert page.status_code == 200 and "<textarea" not in page.text and "interest-free" in page.text
    before = read_text(console.project / "knowledge/payments.md")
    response = client.post(
        f"/console/knowledge/{ENTRY}",
        data={"csrf_token": CSRF, "question": "Q?", "answer": "A.", "file_hash": file_hash(before)},
    )
    assert response.status_code == 403
    assert read_text(console.project / "knowledge/payments.md") == before


def test_an_editor_saves_and_the_bot_answers_with_the_new_text_at_once(console: Console) -> None:
    client = console.client(StaffRole.EDITOR)
    values = form_of(client.get(f"/console/knowledge/{ENTRY}").text)
    values["answer"] = "Klarna splits it in **3 payments**, new text."
    response = client.post(f"/console/knowledge/{ENTRY}", data=values)
    assert response.status_code == 303 and response.headers["location"] == f"/console/knowledge/{ENTRY}?saved=1"
    assert "new text." in read_text(console.project / "knowledge/payments.md")
    entry = console.knowledge.snapshot.entry(ENTRY)
    assert entry is not None and entry.answer == values["answer"]  # reloaded without the watcher
    assert console.audit == [("knowledge.edit", f"knowledge/payments.md#{ENTRY}")]
    assert "Saved to knowledge/payments.md" in client.get(response.headers["location"]).text


def test_an_edit_without_the_csrf_token_is_refused(console: Console) -> None:
    client = console.client(StaffRole.EDITOR)
    values = form_of(client.get(f"/console/knowledge/{ENTRY}").text)
    values["csrf_token"] = "wrong"
    assert client.post(f"/console/knowledge/{ENTRY}", data=values).status_code == 403
    json_client = client.post(f"/console/knowledge/{ENTRY}", data=values, headers={"Accept": "application/json"})
    assert json_client.status_code == 403 and json_client.json()["error"]["code"] == "csrf_rejected"
    assert console.audit == []


def test_an_edit_with_an_out_of_date_token_keeps_the_text_and_saves_again(console: Console) -> None:
    client = console.client(StaffRole.EDITOR)  # signed in again since the page was loaded: a new CSRF token
    before = read_text(console.project / "knowledge/payments.md")
    values = form_of(client.get(f"/console/knowledge/{ENTRY}").text)
    values.update(csrf_token="token-of-the-session-that-ended", answer="Three payments: <my long careful text>.")
    kept = client.post(f"/console/knowledge/{ENTRY}", data=values)
    assert kept.status_code == 403 and "security token was out of date" in kept.text
    assert "Three payments: &lt;my long careful text&gt;." in kept.text  # nothing typed is lost (and it is text)
    assert read_text(console.project / "knowledge/payments.md") == before and console.audit == []
    again = form_of(kept.text)
    assert again["csrf_token"] == CSRF and again["answer"] == values["answer"]  # the form carries the new token
    saved = client.post(f"/console/knowledge/{ENTRY}", data=again)
    assert saved.status_code == 303 and "my long careful text" in read_text(console.project / "knowledge/payments.md")
    assert console.audit == [("knowledge.edit", f"knowledge/payments.md#{ENTRY}")]


def test_an_edit_posted_after_the_session_ended_keeps_the_text_and_asks_to_sign_in(console: Console) -> None:
    before = read_text(console.project / "knowledge/payments.md")
    values = form_of(console.client(StaffRole.EDITOR).get(f"/console/knowledge/{ENTRY}").text)
    values["answer"] = "An hour of careful writing."
    kept = console.client(None).post(f"/console/knowledge/{ENTRY}", data=values)  # the session expired meanwhile
    assert kept.status_code == 401 and "Your console session has ended" in kept.text
    assert "An hour of careful writing." in kept.text and values["question"] in kept.text
    assert f'href="/console/login?next=/console/knowledge/{ENTRY}" target="_blank"' in kept.text
    assert "keep.js" in kept.text  # refreshes the token after signing in again, before posting
    assert read_text(console.project / "knowledge/payments.md") == before and console.audit == []


def test_an_agent_is_refused_an_edit_whatever_the_token(console: Console) -> None:
    client = console.client(StaffRole.AGENT)
    values = {"csrf_token": "stale", "question": "Q?", "answer": "A.", "alternates": "", "file_hash": ""}
    refused = client.post(f"/console/knowledge/{ENTRY}", data=values)
    assert refused.status_code == 403 and "needs the editor role" in refused.text and "<textarea" not in refused.text


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        ("", "has no answer"),
        ("Free over {{ free_shiping }}.", "unknown variable"),
        ("Broken {{ customer_service_email ", "template error"),
    ],
)
def test_an_invalid_edit_is_shown_with_line_and_fix_and_nothing_is_written(
    console: Console, answer: str, shown: str
) -> None:
    client = console.client(StaffRole.EDITOR)
    before = read_text(console.project / "knowledge/payments.md")
    values = form_of(client.get(f"/console/knowledge/{ENTRY}").text)
    values["answer"] = answer
    response = client.post(f"/console/knowledge/{ENTRY}", data=values)
    assert response.status_code == 422
    assert shown in response.text and "nothing was written" in response.text and "Fix:" in response.text
    assert re.search(r"knowledge/payments\.md:\d+", response.text)
    assert read_text(console.project / "knowledge/payments.md") == before
    entry = console.knowledge.snapshot.entry(ENTRY)
    assert entry is not None and "interest-free" in entry.answer  # the last good version keeps serving
    assert console.audit == []


def test_a_duplicate_question_is_refused(console: Console) -> None:
    client = console.client(StaffRole.EDITOR)
    other = console.knowledge.snapshot.entry("when-charged")
    assert other is not None
    values = form_of(client.get(f"/console/knowledge/{ENTRY}").text)
    values["question"] = other.question
    response = client.post(f"/console/knowledge/{ENTRY}", data=values)
    assert response.status_code == 422 and "is also in entry" in response.text


def test_a_file_changed_since_the_page_was_loaded_is_refused_and_the_text_shown_back(console: Console) -> None:
    client = console.client(StaffRole.EDITOR)
    values = form_of(client.get(f"/console/knowledge/{ENTRY}").text)
    path = console.project / "knowledge/payments.md"
    changed = read_text(path).replace("30 and 60 days later", "30 and 60 days after")
    path.write_text(changed, encoding="utf-8")  # a colleague saved meanwhile
    values["answer"] = "My careful new wording."
    response = client.post(f"/console/knowledge/{ENTRY}", data=values)
    assert response.status_code == 409
    assert "changed by someone else" in response.text
    assert "My careful new wording." in response.text  # nothing lost
    assert read_text(path) == changed


# -- the test panel ----------------------------------------------------------------------------------------------
def test_the_test_panel_shows_five_entries_the_intents_and_the_answer(console: Console) -> None:
    page = console.client(StaffRole.AGENT).get("/console/knowledge/test", params={"q": "can I pay in 3 with klarna"})
    assert page.status_code == 200
    rows = re.findall(r"<tr><td>\d+</td><td><a href=\"/console/knowledge/([^\"]+)\"", page.text)
    assert len(rows) == 5
    intents = re.search(r'id="kb-intents">(.*?)</table>', page.text, re.S)
    assert intents is not None and intents.group(1).count("<tr><td>") == 5 and "order_status" in intents.group(1)
    answer = re.search(r'id="kb-customer-answer">(.*?)</section>', page.text, re.S)
    assert answer is not None and 'class="kb-reply"' in answer.group(1)


def test_the_test_panel_records_nothing(console: Console) -> None:
    recorded: list[str] = []
    snapshot = console.knowledge.snapshot
    snapshot.responder._recorder = type("R", (), {"record": lambda self, *a: recorded.append(a[0])})()
    console.client(StaffRole.AGENT).get("/console/knowledge/test", params={"q": "qwxz unrelated gibberish"})
    assert recorded == []


# -- stored XSS --------------------------------------------------------------------------------------------------
def test_knowledge_text_with_markup_renders_as_text(console: Console) -> None:
    client = console.client(StaffRole.EDITOR)
    values = form_of(client.get(f"/console/knowledge/{ENTRY}").text)
    values["answer"] = f"Careful {XSS_SCRIPT} and {XSS_IMG} here."
    values["alternates"] += f"\nklarna {XSS_IMG}"
    assert client.post(f"/console/knowledge/{ENTRY}", data=values).status_code == 303
    pages = [
        client.get(f"/console/knowledge/{ENTRY}").text,
        console.client(StaffRole.AGENT).get(f"/console/knowledge/{ENTRY}").text,
        client.get("/console/knowledge", params={"q": "careful"}).text,
        client.get("/console/knowledge/test", params={"q": "klarna pay in 3 careful"}).text,
    ]
    for html in pages:
        assert XSS_SCRIPT not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in pages[1] and "&lt;img src=x onerror=" in pages[1]


# -- suggestions -------------------------------------------------------------------------------------------------
def suggestion(**changes: Any) -> Suggestion:
    base = Suggestion(
        key="k1", kind="alternate", reason="the bot was not sure", count=3,
        examples=("klarna in 3 <script>x</script>",), first_seen=0.0, last_seen=0.0, signals={"unanswered": 3},
        target=ENTRY, phrasings=("klarna in 3",), file="knowledge/payments.md", id=7,
    )  # fmt: skip
    return Suggestion(**{**base.__dict__, **changes})


def test_suggestions_list_their_evidence_for_editors_only(console: Console) -> None:
    console.learner.open = [suggestion()]
    assert console.client(StaffRole.AGENT).get("/console/suggestions").status_code == 403
    page = console.client(StaffRole.EDITOR).get("/console/suggestions")
    assert page.status_code == 200
    assert "klarna in 3 &lt;script&gt;x&lt;/script&gt;" in page.text and "<script>x" not in page.text
    assert 'action="/console/suggestions/7/accept"' in page.text


def test_accept_and_reject_go_through_the_learner_and_are_audited(console: Console) -> None:
    console.learner.open = [suggestion()]
    client = console.client(StaffRole.EDITOR)
    accepted = client.post("/console/suggestions/7/accept", data={"csrf_token": CSRF, "base_hash": "abc"})
    assert accepted.status_code == 303
    rejected = client.post("/console/suggestions/7/reject", data={"csrf_token": CSRF, "note": "not ours"})
    assert rejected.status_code == 303
    assert console.learner.calls == [
        ("accept", 7, "editor@shop.example", Overrides(), "abc"),
        ("reject", 7, "editor@shop.example", "not ours"),
    ]
    assert console.audit == [("suggestion.accept", "suggestion/7"), ("suggestion.reject", "suggestion/7")]


def test_a_refused_decision_is_explained(console: Console) -> None:
    console.learner.open = [suggestion()]
    client = console.client(StaffRole.EDITOR)
    stale = client.post("/console/suggestions/7/accept", data={"csrf_token": CSRF, "base_hash": "stale"})
    assert stale.status_code == 409 and "sg-error" in stale.text
    missing = client.post("/console/suggestions/99/reject", data={"csrf_token": CSRF})
    assert missing.status_code == 404
    assert client.post("/console/suggestions/7/reject", data={}).status_code == 403  # no CSRF token
    assert console.audit == []


def test_a_task_question_is_shown_as_going_to_its_flow(console: Console) -> None:
    console.app.state.assistant = StubAssistant(FakeEncoder(), intent="order_status")
    page = console.client(StaffRole.AGENT).get("/console/knowledge/test", params={"q": "where is my order"})
    answer = re.search(r'id="kb-customer-answer">(.*?)</section>', page.text, re.S)
    assert answer is not None and "<strong>order_status</strong> flow" in answer.group(1)


def test_the_test_panel_waits_for_the_bot(console: Console) -> None:
    console.app.state.assistant = None
    page = console.client(StaffRole.AGENT).get("/console/knowledge/test", params={"q": "how can I pay"})
    assert page.status_code == 200 and "still starting" in page.text

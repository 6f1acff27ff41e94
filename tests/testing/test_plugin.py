"""The pytest plugin, driven by pytest's own `pytester`: collection, ids, pass/fail, failure text,
markers, -k, xfail, junit, file:line errors in case files, and no heavy imports."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bot.testing import plugin  # not `import tests_folder_of`: pytest would collect it as a test

pytest_plugins = ["pytester"]

# A scripted assistant: keyword rules instead of a model, the real engine types and tracker shape.
CONFTEST = """
from bot.dialogue.state import ConversationState, event
from bot.dialogue.tracker_store import InMemoryTrackerStore
from bot.types import Entity, IntentScore, Parse, Reply, Source
from bot.assistant import HandleResult

RULES = [("parcel", "order_status"), ("hello", "greet"), ("return", "start_return"), ("AN-", "inform")]


class ScriptedAssistant:
    def __init__(self):
        self.tracker_store = InMemoryTrackerStore()

    def parse(self, text):
        scores = {name: 0.05 for _, name in RULES}
        for word, name in RULES:
            if word.lower() in text.lower():
                scores[name] = 0.9
        ranking = tuple(IntentScore(n, c) for n, c in sorted(scores.items(), key=lambda kv: -kv[1]))
        entities = ()
        if "AN-" in text:
            start = text.index("AN-")
            entities = (Entity("order_number", text[start:start + 8], start, start + 8, "OrderNumberExtractor"),)
        if ranking[0].confidence < 0.5:
            fallback = IntentScore("nlu_fallback", 0.5)
            return Parse(text, fallback, entities, (fallback, *ranking), abstained=True)
        return Parse(text, ranking[0], entities, ranking)

    def handle_full(self, message):
        state = self.tracker_store.load(message.sender_id) or ConversationState(message.sender_id)
        parse = self.parse(message.text)
        replies = []
        if parse.intent.name == "start_return":
            state.active_loop = "return_form"
            state.run_action("return_form")
            replies.append(Reply("What is your order number?"))
        elif parse.intent.name == "inform" and state.active_loop:
            state.set_slot("order_number", parse.entities[0].value)
            state.run_action("return_form")
            replies.append(Reply("Which email did you use?"))
        elif "delivery" in message.text:
            replies.append(Reply("3 days.", sources=(Source("delivery-time", "Delivery", "k.md"),), kind="knowledge"))
        else:
            state.run_action("utter_" + parse.intent.name)
            replies.append(Reply("Hello!"))
        state.add(event("action", name="action_listen"))
        self.tracker_store.save(state)
        return HandleResult(parse, replies)


def pytest_supportbot_make_assistant(config, project_dir):
    return ScriptedAssistant()
"""

CASES = """
cases:
- text: where is my parcel
  intent: order_status
- text: hello there
  intent: greet
- text: my order is AN-12345 thanks
  entities: [{order_number: AN-12345}]
- text: what is the capital of Peru
  abstain: true
- text: how fast is delivery
  entry: delivery-time
conversations:
- name: return happy path
  steps:
  - user: I want to return my jacket
    intent: start_return
    action: return_form
    form: return_form
  - user: AN-10001
    slots: {order_number: AN-10001}
    reply_contains: email
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.mkdir("intents")
    pytester.mkdir("intents/tests")
    pytester.mkdir("knowledge")
    pytester.mkdir("knowledge/tests")
    return pytester


def write(pytester: pytest.Pytester, name: str, text: str) -> None:
    (pytester.path / name).write_text(textwrap.dedent(text))


def test_collects_cases_with_readable_ids(project: pytest.Pytester) -> None:
    write(project, "intents/tests/test_basics.yml", CASES)
    result = project.runpytest_subprocess("--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "intents/tests/test_basics.yml::where is my parcel",
            "intents/tests/test_basics.yml::hello there",
            "intents/tests/test_basics.yml::return happy path",
        ]
    )
    result.assert_outcomes()


def test_passing_cases_pass(project: pytest.Pytester) -> None:
    write(project, "intents/tests/test_basics.yml", CASES)
    result = project.runpytest_subprocess("-q")
    result.assert_outcomes(passed=6)


def test_wrong_intent_fails_with_ranking_and_location(project: pytest.Pytester) -> None:
    write(
        project,
        "intents/tests/test_wrong.yml",
        """
    cases:
    - text: where is my parcel
      intent: greet
    """,
    )
    result = project.runpytest_subprocess("-q", "-rf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["FAILED intents/tests/test_wrong.yml::where is my parcel - intent: expected*"])
    result.stdout.fnmatch_lines(
        [
            "intent: expected greet, got order_status (0.90)",
            "  at intents/tests/test_wrong.yml:3",
            "*user: where is my parcel",
            "*expected intent  greet",
            "*actual intent    order_status (0.90)",
            "*intent ranking:",
            "*order_status*0.900",
            "*greet*0.050  <- expected",
        ]
    )


def test_failing_conversation_names_step_and_transcript(project: pytest.Pytester) -> None:
    write(
        project,
        "intents/tests/test_conv.yml",
        """
    conversations:
    - name: return with a wrong slot
      steps:
      - user: I want to return my jacket
        action: return_form
      - user: AN-10001
        slots: {order_number: AN-99999}
    """,
    )
    result = project.runpytest_subprocess("-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "step 2 of 2: slot order_number: expected AN-99999, got AN-10001",
            "  at intents/tests/test_conv.yml:7 (conversation 'return with a wrong slot')",
            "*expected slot order_number  AN-99999",
            "*actual slot order_number    AN-10001",
            "*actions this turn: return_form",
            "*bot: Which email did you use?",
            "*conversation so far:",
            "*user: I want to return my jacket",
        ]
    )


def test_knowledge_and_abstention_failures(project: pytest.Pytester) -> None:
    write(
        project,
        "knowledge/tests/test_kb.yml",
        """
    cases:
    - text: how fast is delivery
      entry: returns-policy
    - text: where is my parcel
      abstain: true
    """,
    )
    result = project.runpytest_subprocess("-q")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        ["*expected knowledge entry  returns-policy", "*actual knowledge entry    delivery-time"]
    )
    result.stdout.fnmatch_lines(["*expected abstain  abstain (nlu_fallback or out_of_scope)"])


def test_k_markers_and_xfail(project: pytest.Pytester) -> None:
    write(project, "intents/tests/test_basics.yml", CASES)
    write(
        project,
        "intents/tests/test_known.yml",
        """
    cases:
    - text: hello again
      intent: order_status
      xfail: greetings are not orders (issue 7)
    - text: hello once more
      intent: greet
      marks: [slow]
    """,
    )
    project.makeini("[pytest]\nmarkers =\n    slow: slow tests\naddopts = --strict-markers\n")
    project.runpytest_subprocess("-q", "-k", "parcel").assert_outcomes(passed=1)
    project.runpytest_subprocess("-q", "-m", "conversation").assert_outcomes(passed=1)
    project.runpytest_subprocess("-q", "-m", "knowledge").assert_outcomes(passed=1)
    project.runpytest_subprocess("-q", "-m", "slow").assert_outcomes(passed=1)
    result = project.runpytest_subprocess("-q", "-rx")
    result.assert_outcomes(passed=7, xfailed=1)
    result.stdout.fnmatch_lines(["*greetings are not orders (issue 7)*"])


def test_unknown_marker_is_an_error_under_strict_markers(project: pytest.Pytester) -> None:
    write(
        project,
        "intents/tests/test_marks.yml",
        """
    cases:
    - text: hello
      intent: greet
      marks: [no_such_marker]
    """,
    )
    result = project.runpytest_subprocess("-q", "--strict-markers")
    result.stdout.fnmatch_lines(["*no_such_marker*not found in `markers`*"])


def test_junit_report_has_cases_and_failure_text(project: pytest.Pytester) -> None:
    write(
        project,
        "intents/tests/test_basics.yml",
        """
    cases:
    - text: where is my parcel
      intent: order_status
    - text: hello
      intent: order_status
    """,
    )
    project.runpytest_subprocess("-q", "--junitxml=report.xml")
    root = ET.parse(project.path / "report.xml").getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"where is my parcel", "hello"}
    assert cases["hello"].get("classname") == "intents.tests.test_basics.yml"
    failure = cases["hello"].find("failure")
    assert failure is not None
    assert "expected intent  order_status" in (failure.text or "")
    assert "actual intent    greet (0.90)" in (failure.text or "")
    properties = {p.get("name"): p.get("value") for p in cases["hello"].iter("property")}
    assert properties["actual intent"] == "greet (0.90)"


def test_invalid_case_file_names_file_and_line(project: pytest.Pytester) -> None:
    write(
        project,
        "intents/tests/test_broken.yml",
        """
    cases:
    - text: hello
      intnet: greet
    - intent: greet
    """,
    )
    result = project.runpytest_subprocess("-q")
    result.stdout.fnmatch_lines(
        [
            "*intents/tests/test_broken.yml:4: unknown key 'intnet' in a case*",
            "*intents/tests/test_broken.yml:5: a case needs `text:` with the message text*",
        ]
    )
    assert result.ret != 0


def test_assistant_is_built_once_per_session(project: pytest.Pytester) -> None:
    project.makeconftest(
        CONFTEST
        + "\nBUILT = []\n"
        + textwrap.dedent("""
    def pytest_supportbot_make_assistant(config, project_dir):
        BUILT.append(project_dir)
        assert len(BUILT) == 1, "built twice"
        return ScriptedAssistant()
    """)
    )
    write(project, "intents/tests/test_basics.yml", CASES)
    write(project, "knowledge/tests/test_more.yml", "cases:\n- text: hello\n  intent: greet\n")
    project.runpytest_subprocess("-q").assert_outcomes(passed=7)


def test_no_yaml_case_builds_no_assistant(project: pytest.Pytester) -> None:
    fail = "\ndef pytest_supportbot_make_assistant(config, project_dir):\n    raise SystemExit(3)\n"
    project.makeconftest(CONFTEST + fail)
    project.makepyfile(test_unit="def test_one():\n    assert True\n")
    project.runpytest_subprocess("-q").assert_outcomes(passed=1)


def test_importing_the_plugin_loads_no_model_code() -> None:
    heavy = "('torch', 'sentence_transformers', 'bot.assistant', 'numpy')"
    code = f"import sys, bot.testing.plugin; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    ("path", "folder"),
    [
        ("intents/tests/basics.yml", "intents/tests"),
        ("intents/tests/customers/heldout/booking.yml", "intents/tests"),
        ("knowledge/tests/sub/faq.yaml", "knowledge/tests"),
        ("intents/nlu/tests.yml", None),
        ("docs/tests/booking.yml", None),
        ("intents/tests/customers/notes.md", None),
    ],
)
def test_nested_case_files_belong_to_their_project(tmp_path: Path, path: str, folder: str | None) -> None:
    full = tmp_path / "project" / path
    assert plugin.is_case_file(full) is (folder is not None)
    if full.suffix in (".yml", ".yaml"):
        expected = tmp_path / "project" / folder if folder else None
        assert plugin.tests_folder_of(full) == expected

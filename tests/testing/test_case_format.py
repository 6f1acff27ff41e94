"""The YAML test format's conversation additions: `click:` steps, `reply_contains_any`,
`reply_not_contains`, `buttons`, `understood`, file `defaults:`, nested case folders — how they are
read (with file:line errors) and how the runner checks them against a scripted assistant."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.errors import DataError
from bot.testing import plugin  # not `import tests_folder_of`: pytest would collect it as a test
from bot.testing.cases import CaseFile, ConversationCase, MessageCase, case_files, load_case_file
from bot.testing.runner import CaseFailure, ConversationDriver, NoSuchButton, run_case
from bot.types import Button, IntentScore, Message, Parse, Reply

SHOWN = "intents/tests/customers/booking.yml"
TUESDAY = '/inform{"time": "2026-12-22"}'
WEDNESDAY = '/inform{"time": "2026-12-23"}'


# -- a scripted assistant: what the runner needs (`parse`, `handle_full`, `tracker_store`) ---------
@dataclass(frozen=True)
class Scripted:
    """What the bot does with one message: its intent, the actions it runs and its replies."""

    intent: str
    replies: tuple[Reply, ...]
    actions: tuple[str, ...] = ()


DONT_KNOW = Scripted(
    "nlu_fallback",
    (Reply("Sorry, I didn't get that.", buttons=(Button("Talk to a person", "/human_handoff"),)),),
    ("utter_default",),
)
SCRIPT = {
    "hello": Scripted("greet", (Reply("Hello! How can I help?"),), ("utter_greet",)),
    "book a fitting": Scripted(
        "book_appointment",
        (
            Reply(
                "Which day suits you?",
                buttons=(Button("Tuesday 22 December", TUESDAY), Button("Wednesday 23 December", WEDNESDAY)),
            ),
        ),
        ("appointment_form",),
    ),
    TUESDAY: Scripted("inform", (Reply("On Tuesday I have 10:00 and 11:00."),), ("appointment_form",)),
    WEDNESDAY: Scripted("inform", (Reply("On Wednesday I have 15:00."),), ("appointment_form",)),
    "what?": Scripted("inform", (Reply("On Wednesday I have 15:00."),), ("appointment_form",)),
}


@dataclass
class State:
    sender_id: str
    events: list[dict[str, Any]] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    active_loop: str | None = None


class Store:
    def __init__(self) -> None:
        self.states: dict[str, State] = {}

    def load(self, sender_id: str) -> State | None:
        return self.states.get(sender_id)


@dataclass(frozen=True)
class Handled:
    parse: Parse
    replies: list[Reply]


class ScriptedAssistant:
    def __init__(self) -> None:
        self.tracker_store = Store()
        self.received: list[str] = []
        self.parsed: list[str] = []

    def parse(self, text: str) -> Parse:
        self.parsed.append(text)
        intent = IntentScore(SCRIPT.get(text, DONT_KNOW).intent, 0.9)
        return Parse(text, intent, (), (intent,), abstained=intent.name == "nlu_fallback")

    def handle_full(self, message: Message) -> Handled:
        self.received.append(message.text)
        scripted = SCRIPT.get(message.text, DONT_KNOW)
        state = self.tracker_store.states.setdefault(message.sender_id, State(message.sender_id))
        state.events.append({"event": "user", "text": message.text})
        state.events.extend({"event": "action", "name": name} for name in (*scripted.actions, "action_listen"))
        state.active_loop = "appointment_form" if "appointment_form" in scripted.actions else None
        return Handled(self.parse(message.text), list(scripted.replies))


@pytest.fixture
def bot() -> ScriptedAssistant:
    return ScriptedAssistant()


def load(tmp_path: Path, text: str, name: str = "booking.yml") -> CaseFile:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return load_case_file(path, SHOWN)


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(DataError) as info:
        load(tmp_path, text)
    return [str(p) for p in info.value.problems]


def conversation(tmp_path: Path, steps: str, defaults: str = "") -> ConversationCase:
    body = textwrap.indent(textwrap.dedent(steps).lstrip("\n"), "  ")
    text = defaults + "conversations:\n- name: booking\n  steps:\n" + body
    (case,) = load(tmp_path, text).cases
    assert isinstance(case, ConversationCase)
    return case


def run(bot: ScriptedAssistant, tmp_path: Path, steps: str, defaults: str = "") -> CaseFailure | None:
    return run_case(bot, conversation(tmp_path, steps, defaults))


def mismatches(failure: CaseFailure | None) -> list[tuple[str, str]]:
    assert failure is not None, "the case passed"
    return [(m.what, m.expected) for m in failure.mismatches]


# -- reading ---------------------------------------------------------------------------------------
def test_click_steps_by_position_and_by_title(tmp_path: Path) -> None:
    case = conversation(
        tmp_path,
        """
        - user: book a fitting
          buttons: [Tuesday, Wednesday]
        - click: 2
          reply_contains: "15:00"
        - click: " tuesday "
          understood: true
        """,
    )
    first, by_position, by_title = case.steps
    assert (first.user, first.click, first.shown) == ("book a fitting", None, "book a fitting")
    assert (by_position.user, by_position.click, by_position.shown) == ("", 2, "[clicks button 2]")
    assert (by_title.user, by_title.click, by_title.shown) == ("", "tuesday", '[clicks "tuesday"]')
    assert [s.line for s in case.steps] == [4, 6, 8]


def test_reply_and_button_expectations_are_read_as_texts(tmp_path: Path) -> None:
    case = conversation(
        tmp_path,
        """
        - user: hello
          reply_contains_any: [help, assist]
          reply_not_contains: "+49"
          buttons: false
          understood: true
        - user: book a fitting
          reply_contains_any: 30
          reply_not_contains: [error, "sorry"]
          buttons: Tuesday
        - user: book a fitting
          buttons: [Tuesday, 23]
          understood: false
        - user: book a fitting
          buttons: true
        """,
    )
    hello, single, listed, some = (s.expect for s in case.steps)
    assert (hello.reply_contains_any, hello.reply_not_contains) == (("help", "assist"), ("+49",))
    assert (hello.buttons, hello.understood) == (False, True)
    assert (single.reply_contains_any, single.reply_not_contains, single.buttons) == (
        ("30",),
        ("error", "sorry"),
        ("Tuesday",),
    )
    assert (listed.buttons, listed.understood) == (("Tuesday", "23"), False)
    assert (some.buttons, some.understood) == (True, None)


@pytest.mark.parametrize(
    "key",
    ["reply_contains_any: [x]", "reply_not_contains: x", "buttons: false", "buttons: [Yes please]", "understood: true"],
)
def test_each_new_expectation_needs_the_dialogue(tmp_path: Path, key: str) -> None:
    (case,) = load(tmp_path, f"cases:\n- text: hello\n  {key}\n").cases
    assert isinstance(case, MessageCase)
    assert case.step.expect.needs_dialogue


def test_defaults_apply_to_every_step_and_a_step_overrides_them(tmp_path: Path) -> None:
    case = conversation(
        tmp_path,
        """
        - user: hello
        - user: blorf
          understood: false
          reply_not_contains: [Traceback]
        """,
        defaults="defaults:\n  understood: true\n  reply_not_contains: [error]\n",
    )
    plain, overridden = (s.expect for s in case.steps)
    assert (plain.understood, plain.reply_not_contains) == (True, ("error",))
    assert (overridden.understood, overridden.reply_not_contains) == (False, ("Traceback",))


def steps_file(*lines: str) -> str:
    """A case file with one conversation of these step lines (the first step is on line 4)."""
    return "conversations:\n- name: c\n  steps:\n" + "".join(f"  {line}\n" for line in lines)


CLICK_ERROR = (
    f"{SHOWN}:6: 'click' must be a button's position (1, 2 …) or text of its title — "
    'write `click: 1` or `click: "yes"`'
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            steps_file("- user: hi", "  buttons: true", "- click: 0", "  understood: true"),
            CLICK_ERROR,
        ),
        (
            steps_file("- user: hi", "  buttons: true", "- click: -2", "  understood: true"),
            CLICK_ERROR,
        ),
        (
            steps_file("- user: hi", "  buttons: true", "- click: yes", "  understood: true"),
            CLICK_ERROR,
        ),
        (
            "conversations:\n- name: c\n  steps:\n  - user: hi\n    buttons: true\n  - user: yes please\n"
            "    click: 1\n    understood: true\n",
            f"{SHOWN}:7: a step has both `user:` and `click:` — keep one: a typed message or a button press",
        ),
        (
            "conversations:\n- name: c\n  steps:\n  - user: hi\n    understood: maybe\n",
            f"{SHOWN}:5: 'understood' must be true or false — write `understood: true`",
        ),
        (
            "conversations:\n- name: c\n  steps:\n  - user: hi\n    buttons: []\n",
            f"{SHOWN}:5: 'buttons' must be text or a list of texts — write `buttons: order number` or "
            '`buttons: [AN-10001, "15:00"]` (quote yes/no/on/off)',
        ),
        (
            "conversations:\n- name: c\n  steps:\n  - user: hi\n    reply_not_contains: [yes]\n",
            f"{SHOWN}:5: 'reply_not_contains' must be text or a list of texts — write `reply_not_contains: order "
            'number` or `reply_not_contains: [AN-10001, "15:00"]` (quote yes/no/on/off)',
        ),
        (
            "defaults: [understood]\nconversations:\n- name: c\n  steps:\n  - user: hi\n    understood: true\n",
            f"{SHOWN}:1: 'defaults' must be a mapping of expectations — write `defaults: {{understood: true}}`",
        ),
        (
            "defaults:\n  understood: true\n  intent: greet\nconversations:\n- name: c\n  steps:\n  - user: hi\n",
            f"{SHOWN}:3: unknown key 'intent' in defaults — use one of: action, actions, slots, form, "
            "reply_contains, reply_contains_any, reply_not_contains, buttons, understood",
        ),
    ],
)
def test_bad_values_name_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    assert problems_of(tmp_path, text) == [expected]


def test_a_bad_default_names_the_defaults_line(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        "defaults:\n  understood: sometimes\nconversations:\n- name: c\n  steps:\n  - user: hi\n",
    )
    assert problems == [f"{SHOWN}:2: 'understood' must be true or false — write `understood: true`"]


def test_a_bad_default_is_reported_once(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        "defaults:\n  understood: sometimes\nconversations:\n- name: c\n  steps:\n  - user: hi\n  - user: bye\n",
    )
    assert problems == [f"{SHOWN}:2: 'understood' must be true or false — write `understood: true`"]


def test_a_bad_default_is_an_error_without_conversations(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "defaults:\n  understood: sometimes\ncases:\n- text: hi\n  intent: greet\n")
    assert problems == [f"{SHOWN}:2: 'understood' must be true or false — write `understood: true`"]


def test_a_step_with_only_defaults_expects_something(tmp_path: Path) -> None:
    case = conversation(tmp_path, "- user: hi\n", defaults="defaults:\n  understood: true\n")
    assert case.steps[0].expect.understood is True
    problems = problems_of(tmp_path, "conversations:\n- name: c\n  steps:\n  - user: hi\n")
    assert problems == [
        f"{SHOWN}:4: the step 'hi' expects nothing — add at least one of: intent, entities, abstain, entry, "
        "action, actions, slots, form, reply_contains, reply_contains_any, reply_not_contains, buttons, understood"
    ]


# -- nested case folders ---------------------------------------------------------------------------
def test_case_files_are_found_in_subfolders(tmp_path: Path) -> None:
    tests = tmp_path / "intents" / "tests"
    for name in ("customers/heldout/booking.yml", "customers/returns.yaml", "basics.yml", "customers/notes.md"):
        (tests / name).parent.mkdir(parents=True, exist_ok=True)
        (tests / name).write_text("cases: []\n", encoding="utf-8")
    (tests / "customers" / "folder.yml").mkdir()  # a folder named like a file is not a case file
    assert [p.relative_to(tests).as_posix() for p in case_files(tests)] == [
        "basics.yml",
        "customers/heldout/booking.yml",
        "customers/returns.yaml",
    ]
    assert case_files(tmp_path / "missing") == []


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


# -- running: clicks -----------------------------------------------------------------------------------
def test_a_click_sends_the_buttons_payload(bot: ScriptedAssistant, tmp_path: Path) -> None:
    failure = run(
        bot,
        tmp_path,
        """
        - user: book a fitting
          buttons: [tuesday, wednesday]
        - click: 2
          reply_contains: "15:00"
          understood: true
        """,
    )
    assert failure is None
    assert bot.received == ["book a fitting", WEDNESDAY]


def test_a_click_by_title_text_ignores_case(bot: ScriptedAssistant, tmp_path: Path) -> None:
    steps = '- user: book a fitting\n  buttons: true\n- click: "TUESDAY 22"\n  reply_contains: "10:00"\n'
    failure = run(bot, tmp_path, steps)
    assert failure is None
    assert bot.received == ["book a fitting", TUESDAY]


def test_the_driver_records_the_pressed_title(bot: ScriptedAssistant) -> None:
    driver = ConversationDriver(bot)
    driver.say("book a fitting")
    turn = driver.click("wednesday")
    assert (turn.text, turn.clicked) == (WEDNESDAY, "Wednesday 23 December")
    assert turn.actions == ["appointment_form"]


@pytest.mark.parametrize("which", [3, "friday"])
def test_a_missing_button_raises_listing_what_was_offered(bot: ScriptedAssistant, which: int | str) -> None:
    driver = ConversationDriver(bot)
    driver.say("book a fitting")
    with pytest.raises(NoSuchButton) as info:
        driver.button(which)
    assert str(info.value) == (
        f"no button {which!r} in the bot's previous turn (offered: 1. Tuesday 22 December; 2. Wednesday 23 December)"
    )


def test_a_click_before_any_turn_finds_no_buttons(bot: ScriptedAssistant) -> None:
    with pytest.raises(NoSuchButton, match=r"offered: no buttons"):
        ConversationDriver(bot).click(1)
    assert bot.received == []


def test_a_missing_button_fails_the_step_with_its_location(bot: ScriptedAssistant, tmp_path: Path) -> None:
    failure = run(bot, tmp_path, "- user: book a fitting\n  buttons: true\n- click: 3\n  understood: true\n")
    assert failure is not None
    assert [(m.what, m.expected) for m in failure.mismatches] == [("button", "3")]
    assert "offered: 1. Tuesday 22 December; 2. Wednesday 23 December" in failure.mismatches[0].actual
    assert failure.text.startswith("step 2 of 2: button: expected 3, got no button 3")
    assert f"  at {SHOWN}:6 (conversation 'booking')" in failure.text
    assert "  user: [clicks button 3]" in failure.text
    assert bot.received == ["book a fitting"]


# -- running: replies, buttons, understood ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("expectation", "failed"),
    [
        ("reply_contains_any: [assist, help]", None),
        ("reply_contains_any: [HOW CAN]", None),
        ("reply_contains_any: [assist, order number]", ("reply contains one of", "'assist', 'order number'")),
        ("reply_not_contains: [goodbye, error]", None),
        ("reply_not_contains: [error, hello]", ("reply does not contain", "'hello'")),
        ("buttons: false", None),
        ("buttons: true", ("buttons", "some buttons")),
        ("buttons: [Tuesday]", ("button", "'Tuesday'")),
    ],
)
def test_reply_expectations_after_hello(
    bot: ScriptedAssistant, tmp_path: Path, expectation: str, failed: tuple[str, str] | None
) -> None:
    failure = run(bot, tmp_path, f"- user: hello\n  {expectation}\n")
    if failed is None:
        assert failure is None
    else:
        assert mismatches(failure) == [failed]


@pytest.mark.parametrize(
    ("expectation", "failed"),
    [
        ("buttons: true", None),
        ("buttons: [tuesday, WEDNESDAY 23]", None),
        ("buttons: false", ("buttons", "no buttons")),
        ("buttons: [Tuesday, Friday, Saturday]", ("button", "'Friday'")),
    ],
)
def test_button_expectations_after_a_question_with_buttons(
    bot: ScriptedAssistant, tmp_path: Path, expectation: str, failed: tuple[str, str] | None
) -> None:
    failure = run(bot, tmp_path, f"- user: book a fitting\n  {expectation}\n")
    if failed is None:
        assert failure is None
    else:
        assert failure is not None and (failure.mismatches[0].what, failure.mismatches[0].expected) == failed
        assert failure.mismatches[0].actual == "Tuesday 22 December; Wednesday 23 December"


def test_every_missing_title_is_a_mismatch(bot: ScriptedAssistant, tmp_path: Path) -> None:
    failure = run(bot, tmp_path, "- user: book a fitting\n  buttons: [Friday, Tuesday, Saturday]\n")
    assert mismatches(failure) == [("button", "'Friday'"), ("button", "'Saturday'")]


def test_a_fallback_is_not_understood(bot: ScriptedAssistant, tmp_path: Path) -> None:
    assert run(bot, tmp_path, "- user: blorf\n  understood: false\n  buttons: [person]\n") is None
    failure = run(bot, tmp_path, "- user: blorf\n  understood: true\n")
    assert mismatches(failure) == [("understood", "handled (no fallback, no repeat)")]
    assert failure is not None
    assert failure.mismatches[0].actual == "fallback (utter_default): Sorry, I didn't get that."


def test_a_handled_message_is_understood(bot: ScriptedAssistant, tmp_path: Path) -> None:
    assert run(bot, tmp_path, "- user: hello\n  understood: true\n") is None
    failure = run(bot, tmp_path, "- user: hello\n  understood: false\n")
    assert mismatches(failure) == [("understood", "a fallback or 'I don't know'")]


def test_repeating_the_previous_turn_is_not_understood(bot: ScriptedAssistant, tmp_path: Path) -> None:
    steps = (
        "- user: book a fitting\n  buttons: true\n"
        "- click: wednesday\n  understood: true\n"
        "- user: what?\n  understood: true\n"  # the bot says the Wednesday times again
    )
    failure = run(bot, tmp_path, steps)
    assert failure is not None
    assert failure.text.startswith("step 3 of 3: understood: expected handled (no fallback, no repeat)")
    assert failure.mismatches[0].actual == "the same replies as the turn before: On Wednesday I have 15:00."


def test_file_defaults_are_checked_on_every_step(bot: ScriptedAssistant, tmp_path: Path) -> None:
    defaults = "defaults:\n  understood: true\n"
    assert run(bot, tmp_path, "- user: hello\n- user: blorf\n  understood: false\n", defaults) is None
    failure = run(bot, tmp_path, "- user: hello\n- user: blorf\n", defaults)
    assert failure is not None
    assert failure.text.startswith("step 2 of 2: understood:")
    assert f"  at {SHOWN}:7 (conversation 'booking')" in failure.text


def test_each_conversation_starts_with_the_reset_hook(bot: ScriptedAssistant, tmp_path: Path) -> None:
    calls: list[int] = []
    case = conversation(tmp_path, "- user: hello\n  understood: true\n")
    assert run_case(bot, case, before_conversation=lambda: calls.append(len(bot.received))) is None
    assert calls == [0]  # before the first message
    (message,) = load(tmp_path, "cases:\n- text: hello\n  understood: true\n", "cases.yml").cases
    assert run_case(bot, message, before_conversation=lambda: calls.append(-1)) is None
    assert calls == [0]  # a single-message case has no conversation to reset


def test_a_message_case_with_dialogue_expectations_runs_the_dialogue(bot: ScriptedAssistant, tmp_path: Path) -> None:
    (case,) = load(tmp_path, "cases:\n- text: book a fitting\n  buttons: [tuesday]\n").cases
    assert run_case(bot, case) is None
    assert bot.received == ["book a fitting"]
    (nlu_only,) = load(tmp_path, "cases:\n- text: hello\n  intent: greet\n", "nlu.yml").cases
    bot.received.clear()
    assert run_case(bot, nlu_only) is None
    assert bot.received == [] and bot.parsed[-1] == "hello"

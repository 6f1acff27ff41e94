"""Reading YAML case files (`bot.testing.cases`): the conversation additions — `click:` steps,
`reply_contains_any`, `reply_not_contains`, `buttons`, `understood`, file `defaults:` — bad values
named with their file:line, and case files in subfolders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.testing.cases import CaseFile, ConversationCase, MessageCase, case_files

SHOWN = "intents/tests/customers/booking.yml"  # how the `load` fixture shows the file
Load = Callable[..., CaseFile]
Problems = Callable[[str], list[str]]
Conversation = Callable[..., ConversationCase]


def test_click_steps_by_position_and_by_title(conversation: Conversation) -> None:
    case = conversation(
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


def test_reply_and_button_expectations_are_read_as_texts(conversation: Conversation) -> None:
    case = conversation(
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
def test_each_new_expectation_needs_the_dialogue(load: Load, key: str) -> None:
    (case,) = load(f"cases:\n- text: hello\n  {key}\n").cases
    assert isinstance(case, MessageCase)
    assert case.step.expect.needs_dialogue


def test_defaults_apply_to_every_step_and_a_step_overrides_them(conversation: Conversation) -> None:
    case = conversation(
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
            "reply_contains, reply_contains_any, reply_not_contains, buttons, understood, cards, cards_not",
        ),
    ],
)
def test_bad_values_name_file_and_line(problems_of: Problems, text: str, expected: str) -> None:
    assert problems_of(text) == [expected]


def test_a_bad_default_names_the_defaults_line(problems_of: Problems) -> None:
    problems = problems_of(
        "defaults:\n  understood: sometimes\nconversations:\n- name: c\n  steps:\n  - user: hi\n",
    )
    assert problems == [f"{SHOWN}:2: 'understood' must be true or false — write `understood: true`"]


def test_a_bad_default_is_reported_once(problems_of: Problems) -> None:
    problems = problems_of(
        "defaults:\n  understood: sometimes\nconversations:\n- name: c\n  steps:\n  - user: hi\n  - user: bye\n",
    )
    assert problems == [f"{SHOWN}:2: 'understood' must be true or false — write `understood: true`"]


def test_a_bad_default_is_an_error_without_conversations(problems_of: Problems) -> None:
    problems = problems_of("defaults:\n  understood: sometimes\ncases:\n- text: hi\n  intent: greet\n")
    assert problems == [f"{SHOWN}:2: 'understood' must be true or false — write `understood: true`"]


def test_a_step_with_only_defaults_expects_something(conversation: Conversation, problems_of: Problems) -> None:
    case = conversation("- user: hi\n", defaults="defaults:\n  understood: true\n")
    assert case.steps[0].expect.understood is True
    problems = problems_of("conversations:\n- name: c\n  steps:\n  - user: hi\n")
    assert problems == [
        f"{SHOWN}:4: the step 'hi' expects nothing — add at least one of: intent, entities, abstain, entry, "
        "action, actions, slots, form, reply_contains, reply_contains_any, reply_not_contains, buttons, understood, "
        "cards, cards_not"
    ]


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

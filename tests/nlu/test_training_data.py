"""Loading Rasa NLU YAML: every validation error with its exact file:line message."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.intents_loader import load_intents

GOOD = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - hello there
    - good morning
- intent: order_status
  examples: |
    - where is my order [AN-12345](order_number)?
    - status of [AN-54321]{"entity": "order_number"}
    - track my parcel please
- synonym: berlin
  examples: |
    - the Berlin store
- regex: order_number
  examples: |
    - AN-\\d{5}
- lookup: shop
  examples: |
    - Paris
    - Berlin
"""


def write(tmp_path: Path, text: str, name: str = "nlu.yml") -> Path:
    folder = tmp_path / "intents"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder


def messages(tmp_path: Path, text: str, min_examples: int = 3) -> list[str]:
    project = load_intents(write(tmp_path, text), root=tmp_path, min_examples=min_examples)
    return [str(p) for p in project.errors]


def test_good_file_loads_with_plain_text_and_annotations(tmp_path: Path) -> None:
    project = load_intents(write(tmp_path, GOOD), root=tmp_path)
    assert project.errors == []
    texts = {e.text: e for e in project.data.examples}
    example = texts["where is my order AN-12345?"]
    assert example.intent == "order_status"
    assert example.line == 10
    assert example.file == "intents/nlu.yml"
    (annotation,) = example.entities
    assert (annotation.entity, annotation.value, annotation.start, annotation.end) == (
        "order_number",
        "AN-12345",
        18,
        26,
    )
    assert project.data.synonyms == {"the berlin store": "berlin"}
    assert project.data.regexes == {"order_number": ["AN-\\d{5}"]}
    assert project.data.lookups == {"shop": ["Paris", "Berlin"]}


def test_unknown_top_level_key(tmp_path: Path) -> None:
    text = GOOD + "templates:\n  x: 1\n"
    assert messages(tmp_path, text) == [
        "intents/nlu.yml:23: unknown key 'templates' — use one of: actions, button_titles, entities, "
        "external_events, forms, intent_titles, intents, nlu, responses, rules, session_config, slots, stories, version"
    ]


def test_unknown_key_in_item(tmp_path: Path) -> None:
    text = GOOD.replace("- intent: greet\n", "- intent: greet\n  exemples: x\n")
    assert messages(tmp_path, text)[0] == (
        "intents/nlu.yml:4: unknown key 'exemples' in an nlu item — use one of: examples, intent, lookup, "
        "metadata, regex, synonym"
    )


def test_empty_intent(tmp_path: Path) -> None:
    text = GOOD + "- intent: cancel_order\n"
    assert messages(tmp_path, text) == [
        "intents/nlu.yml:23: intent 'cancel_order' has no examples — add examples as `examples: |` followed "
        "by `- ...` lines, or remove the intent"
    ]


def test_same_example_in_two_intents(tmp_path: Path) -> None:
    text = GOOD.replace("    - track my parcel please", "    - track my parcel please\n    - Hello There")
    assert messages(tmp_path, text) == [
        "intents/nlu.yml:13: 'Hello There' is an example of both 'greet' (intents/nlu.yml:6) and "
        "'order_status' — keep it in the one intent it belongs to"
    ]


def test_malformed_annotation(tmp_path: Path) -> None:
    text = GOOD.replace("[AN-12345](order_number)", "[AN-12345](order_number")
    assert messages(tmp_path, text, min_examples=1) == [
        "intents/nlu.yml:10: malformed entity annotation in 'where is my order [AN-12345](order_number?' — "
        'use [text](entity) or [text]{"entity": "name", "value": "canonical"}'
    ]


def test_annotation_with_bad_json(tmp_path: Path) -> None:
    text = GOOD.replace('{"entity": "order_number"}', "{entity: order_number}")
    (message,) = messages(tmp_path, text, min_examples=1)
    assert message.startswith("intents/nlu.yml:11: annotation [AN-54321]{entity: order_number} is not valid JSON")


def test_too_few_examples(tmp_path: Path) -> None:
    text = GOOD + "- intent: thanks\n  examples: |\n    - thank you\n"
    assert messages(tmp_path, text) == [
        "intents/nlu.yml:23: intent 'thanks' has 1 example(s); at least 3 are needed — add 2 more varied "
        "example(s) (20 or more work best)"
    ]


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    text = GOOD.replace("- intent: order_status", "- intent: order_status\n  examples: [unclosed")
    (message,) = messages(tmp_path, text)
    assert message.startswith("intents/nlu.yml:")
    assert "YAML syntax error" in message


def test_example_without_dash(tmp_path: Path) -> None:
    text = GOOD.replace("    - good morning", "    good morning")
    assert messages(tmp_path, text, min_examples=1) == [
        "intents/nlu.yml:7: 'good morning' is not a list item — start each example with '- ' (a dash and a space)"
    ]


def test_tests_folder_is_not_training_data(tmp_path: Path) -> None:
    folder = write(tmp_path, GOOD)
    (folder / "tests").mkdir()
    (folder / "tests" / "test_x.yml").write_text("not: [valid")
    assert load_intents(folder, root=tmp_path).errors == []


def test_rules_referencing_missing_response(tmp_path: Path) -> None:
    text = GOOD + "rules:\n- rule: greet\n  steps:\n  - intent: greet\n  - action: utter_greet\n"
    assert messages(tmp_path, text) == [
        "intents/nlu.yml:24: rule 'greet' uses response 'utter_greet', which is not defined — "
        "add `utter_greet:` under `responses:`"
    ]


@pytest.mark.parametrize(
    ("raw", "plain", "spans"),
    [
        ("[Paris](shop)", "Paris", [("shop", "Paris", 0, 5)]),
        ("in [NYC](city:New York) now", "in NYC now", [("city", "New York", 3, 6)]),
        ('[Berlin]{"entity": "shop", "value": "berlin"}', "Berlin", [("shop", "berlin", 0, 6)]),
        ("no annotation here", "no annotation here", []),
    ],
)
def test_annotation_forms(raw: str, plain: str, spans: list[tuple[str, str, int, int]]) -> None:
    from bot.nlu.annotations import parse_example

    text, annotations = parse_example(raw)
    assert text == plain
    assert [(a.entity, a.value, a.start, a.end) for a in annotations] == spans


def test_reference_data_is_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    project = load_intents(root / "intents", root=root)
    assert project.errors == []
    counts = {name: len(items) for name, items in project.data.examples_by_intent().items()}
    required = ["greet", "goodbye", "thanks", "bot_challenge", "affirm", "deny", "ask_hours", "order_status",
                "start_return", "book_appointment", "cancel_appointment", "cancel_order", "human_handoff",
                "out_of_scope"]  # fmt: skip
    for name in required:
        assert counts.get(name, 0) >= 20, name

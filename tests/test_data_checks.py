"""`check_training_data`: near-duplicates across intents, few examples, unproduced annotations,
missing responses — each a warning naming file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from bot.data_checks import check_training_data, missing_responses, near_duplicates
from bot.encoding import FakeEncoder
from bot.intents_loader import load_intents

NLU = """version: "3.1"
nlu:
- intent: order_status
  examples: |
    - where is my order please
    - track my parcel
    - has order [AN-12345](order_number) shipped
    - what about my [blue scarf](colour_item)
- intent: cancel_order
  examples: |
    - where is my order please!
    - cancel my order
    - stop my order
responses:
  utter_default: [{text: "Sorry."}]
  utter_menu:
  - text: "Pick one"
    buttons: [{title: Hours, payload: /ask_opening_times}]
forms:
  order_form:
    required_slots: [order_number]
"""


@pytest.fixture
def project(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "intents").mkdir()
    (tmp_path / "intents" / "nlu.yml").write_text(NLU)
    return load_intents(tmp_path / "intents", root=tmp_path, min_examples=2)


def messages(problems: list) -> list[str]:  # type: ignore[type-arg]
    return [f"{p.location}: {p.message}" for p in problems]


def test_near_duplicates_across_intents_name_both_lines(project) -> None:  # type: ignore[no-untyped-def]
    found = near_duplicates(project.data.examples, FakeEncoder())
    assert len(found) == 1
    problem = found[0]
    assert problem.severity == "warning"
    assert problem.location == "intents/nlu.yml:11"
    assert "'where is my order please!' (cancel_order)" in problem.message
    assert "'where is my order please' (order_status) at intents/nlu.yml:5" in problem.message


def test_exact_duplicates_are_left_to_the_loader() -> None:
    from bot.nlu.training_data import Example

    examples = [Example("hi there", "greet", (), "a.yml", 1), Example("Hi  there", "goodbye", (), "a.yml", 2)]
    assert near_duplicates(examples, FakeEncoder()) == []


def test_all_checks_together(project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(project_dir=tmp_path)
    found = messages(check_training_data(project, FakeEncoder(), settings=settings))
    assert any("is nearly the same as" in m for m in found)
    assert any("intent 'cancel_order' has only 3 examples; 10 or more" in m for m in found)
    assert not any("[AN-12345](order_number)" in m for m in found)  # the order-number extractor finds it
    assert not any("colour_item" in m for m in found)  # learned from the annotation: a lookup finds it
    assert any("response 'utter_ask_rephrase' is used by the dialogue engine but not defined" in m for m in found)
    assert any("response 'utter_ask_order_number' is used by form 'order_form'" in m for m in found)
    assert any("intents/nlu.yml:16: a button of 'utter_menu' sends intent 'ask_opening_times'" in m for m in found)


def test_annotation_no_extractor_finds(project) -> None:  # type: ignore[no-untyped-def]
    from bot.data_checks import unproduced_annotations
    from bot.nlu.entities import EmailExtractor, EntityPipeline

    pipeline = EntityPipeline([EmailExtractor()], {})
    found = messages(unproduced_annotations(project.data.examples, pipeline))
    assert found == [
        "intents/nlu.yml:7: the extractors do not find [AN-12345](order_number) in 'has order AN-12345 shipped' "
        "(they find nothing)",
        "intents/nlu.yml:8: entity 'colour_item' in [blue scarf](colour_item) is produced by no extractor",
    ]


def test_responses_used_by_handler_code(project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    handler = tmp_path / "handler.py"
    handler.write_text(
        'dispatcher.utter_message(response="utter_default")\ndispatcher.utter_message(response="utter_missing_one")\n'
    )
    found = messages(missing_responses(project, [handler]))
    assert f"{handler}:2: response 'utter_missing_one' is used by a handler but not defined" in found
    assert not any("utter_default" in m and "handler" in m for m in found)

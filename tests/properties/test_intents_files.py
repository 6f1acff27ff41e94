"""Properties of the intents loaders (Rasa NLU YAML, responses, domain): whatever a developer writes in
`intents/*.yml` — any text, any bytes, any YAML shape under any key — loading reports problems with a
file and a line and never raises; `require_valid` raises nothing but `TrainingDataError`."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain import DOMAIN_KEYS
from bot.errors import TemplateError, TrainingDataError
from bot.intents_loader import TOP_LEVEL_KEYS, IntentsProject, load_intents, require_valid
from bot.nlu.entities import build_entity_pipeline
from bot.responses import ResponseRenderer
from bot.yamlfile import load_yaml

BOUNDED = settings(
    max_examples=60,
    deadline=timedelta(seconds=5),  # a hang guard, not a performance target
    suppress_health_check=[HealthCheck.too_slow],
)

# -- strategies -------------------------------------------------------------------------------------------
printable = st.characters(blacklist_categories=("Cs",))
short_text = st.text(printable, max_size=12)
KEYS = [
    *TOP_LEVEL_KEYS, "intent", "synonym", "regex", "lookup", "examples", "metadata", "text", "buttons", "title",
    "payload", "condition", "steps", "action", "active_loop", "entities", "rule", "type", "mappings", "entity",
    "required_slots", "conditions", "requested_slot", "value", "image", "custom", "intent", "not_intent", "role",
]  # fmt: skip
key = st.sampled_from(KEYS) | short_text
scalar = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | short_text
value: st.SearchStrategy[Any] = st.recursive(
    scalar,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(key, children, max_size=4),
    max_leaves=16,
)
FRAGMENTS = [
    "[Berlin](shop)", "[Berlin](shop:berlin)", '[Berlin]{"entity": "shop", "value": "berlin"}',
    '[x][{"entity": "a"}, {"entity": "b", "role": "r"}]', "[x]()", "[x]{bad}", "[x][{", "](", "]{", "[", "]",
    '{"entity": 1}', "where is my order", "AN-10001", "{{ name }}", "\\", "(", ")", ":",
]  # fmt: skip
example_line = st.lists(st.sampled_from(FRAGMENTS) | short_text, max_size=4).map(" ".join)
examples_block = st.lists(st.tuples(st.sampled_from(["- ", "-", "", "  - ", "* "]), example_line), max_size=5).map(
    lambda lines: "\n".join(prefix + text for prefix, text in lines)
)
nlu_item = st.sampled_from(["intent", "synonym", "regex", "lookup"]).flatmap(
    lambda kind: st.fixed_dictionaries(
        {kind: short_text | value}, optional={"examples": examples_block | value, "metadata": value}
    )
)
step = st.fixed_dictionaries(
    {},
    optional={"intent": short_text | value, "action": short_text | value, "active_loop": value, "entities": value},
)
rule = st.fixed_dictionaries(
    {"rule": short_text | value}, optional={"steps": st.lists(step | value, max_size=4) | value, "condition": value}
)
variation = st.fixed_dictionaries(
    {}, optional={"text": short_text | value, "buttons": st.lists(value, max_size=3) | value, "condition": value}
)
slot = st.fixed_dictionaries({}, optional={"type": short_text, "mappings": st.lists(value, max_size=3) | value})
SHAPED: dict[str, st.SearchStrategy[Any]] = {
    "nlu": st.lists(nlu_item | value, max_size=4),
    "rules": st.lists(rule | value, max_size=3),
    "responses": st.dictionaries(short_text, st.lists(variation | value, max_size=3) | value, max_size=3),
    "slots": st.dictionaries(short_text, slot | value, max_size=3),
    "forms": st.dictionaries(short_text, st.fixed_dictionaries({}, optional={"required_slots": value}) | value),
    "other": st.dictionaries(st.sampled_from(sorted(TOP_LEVEL_KEYS | DOMAIN_KEYS)) | short_text, value, max_size=3),
}


def load_one_file(content: str | bytes, name: str = "data.yml") -> IntentsProject:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "intents"
        folder.mkdir()
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return load_intents(folder, root=Path(tmp), min_examples=1)


def assert_problems_are_located(project: IntentsProject) -> None:
    for problem in project.problems:
        assert problem.file == "intents/data.yml", problem
        assert problem.line is None or problem.line >= 1, problem
        assert problem.message, problem


def assert_only_training_data_errors(project: IntentsProject) -> None:
    try:
        require_valid(project)
    except TrainingDataError as e:
        assert e.errors, "a TrainingDataError lists at least one error"


# -- properties ---------------------------------------------------------------------------------------------
nested = st.sampled_from([3, 1200]).map(lambda n: "a: " + "[" * n + "]" * n)


@BOUNDED
@given(st.text(printable, max_size=300) | nested | st.sampled_from(["? [a, b]\n: c", "? {a: 1}\n: c", "a: \x1f"]))
def test_load_yaml_never_raises_on_any_text(text: str) -> None:
    _, problems = load_yaml(text, "f.yml")
    for problem in problems:
        assert problem.file == "f.yml" and (problem.line is None or 1 <= problem.line <= text.count("\n") + 2)


@BOUNDED
@given(st.binary(max_size=300))
def test_any_bytes_in_an_intents_file_are_problems_not_exceptions(content: bytes) -> None:
    project = load_one_file(content)
    assert_problems_are_located(project)
    assert_only_training_data_errors(project)


@pytest.mark.parametrize("section", sorted(SHAPED))
@BOUNDED
@given(data=st.data())
def test_any_yaml_shape_of_a_section_is_problems_not_exceptions(section: str, data: st.DataObject) -> None:
    content = data.draw(SHAPED[section])
    doc = content if section == "other" else {"version": "3.1", section: content}
    project = load_one_file(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    assert_problems_are_located(project)
    assert_only_training_data_errors(project)


placeholder = st.tuples(
    st.sampled_from(["", "name", "x", "0", "missing"]),
    st.sampled_from(["", "[0]", ".x", "[name]"]),
    st.sampled_from(["", "!r", "!s", "!x"]),
    st.sampled_from(["", ":>5", ":d", ":{name}", ":.2f", ":,"]),
).map(lambda parts: "{" + "".join(parts) + "}")
jinja = st.sampled_from(
    ["{{ name }}", "{{ x.y }}", "{{ missing }}", "{% if x %}a{% endif %}", "{% for %}", "{{ 1/0 }}"]
)
template = st.lists(placeholder | jinja | st.sampled_from(["{", "}", "{{", "}}"]) | short_text, max_size=4).map("".join)


@BOUNDED
@given(
    template, st.dictionaries(st.sampled_from(["name", "x", "0"]), scalar | st.lists(scalar, max_size=2), max_size=3)
)
def test_any_response_text_renders_or_raises_a_template_error(text: str, slots: dict[str, Any]) -> None:
    renderer = ResponseRenderer({"utter_x": [{"text": text, "buttons": [{"title": text, "payload": text}]}]})
    try:
        reply = renderer.render("utter_x", slots)
    except TemplateError:
        return
    assert reply is not None and isinstance(reply.text, str)


@BOUNDED
@given(st.lists(st.tuples(st.sampled_from(["intent", "synonym", "regex", "lookup"]), short_text, examples_block),
                min_size=1, max_size=4))  # fmt: skip
def test_valid_nlu_data_builds_an_entity_pipeline_that_reads_any_text(items: list[tuple[str, str, str]]) -> None:
    nlu = [{kind: name, "examples": block} for kind, name, block in items]
    project = load_one_file(yaml.safe_dump({"version": "3.1", "nlu": nlu}, allow_unicode=True))
    assert_problems_are_located(project)
    pipeline = build_entity_pipeline(project.data, order_number_pattern=r"\bAN-\d{5}\b")
    for text in ("where is my order AN-10001", *(name for _, name, _ in items)):
        for entity in pipeline.extract(text):
            assert text[entity.start : entity.end] == entity.text

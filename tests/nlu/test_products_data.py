"""The shopping training data (intents/nlu/products.yml), loaded with the project's loader: it
validates, its annotations are found again by the real entity pipeline with the same values, its
synonyms leave the other files' words alone, and messages written differently from the examples get
their category, colour, material, size and price."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.intents_loader import IntentsProject, load_intents
from bot.nlu.entities import EntityPipeline, build_entity_pipeline, entity_values
from bot.nlu.training_data import TrainingData, parse_nlu_section
from bot.yamlfile import read_yaml_file

ROOT = Path(__file__).resolve().parents[2]
PRODUCTS_FILE = "intents/nlu/products.yml"
PRODUCT_INTENTS = ("product_search", "product_availability", "product_pairing", "product_compare", "product_refine")
PRODUCT_ENTITIES = {"category", "colour", "material", "size", "refinement", "ordinal", "shop", "sku"}


@pytest.fixture(scope="module")
def project() -> IntentsProject:
    return load_intents(ROOT / "intents", root=ROOT)


@pytest.fixture(scope="module")
def pipeline(project: IntentsProject) -> EntityPipeline:
    settings = Settings(project_dir=ROOT)
    return build_entity_pipeline(
        project.data,
        order_number_pattern=settings.order_number_pattern,
        order_number_format=settings.order_number_format,
        timezone=settings.timezone,
    )


def file_data(name: str) -> TrainingData:
    """One intents file on its own."""
    data = TrainingData()
    parsed, problems = read_yaml_file(ROOT / name, name)
    assert problems == []
    assert parse_nlu_section(parsed["nlu"], name, 1, data) == []
    return data


def test_products_file_validates(project: IntentsProject) -> None:
    assert [str(p) for p in project.errors] == []
    assert [str(p) for p in project.warnings if p.file == PRODUCTS_FILE] == []


@pytest.mark.parametrize("intent", PRODUCT_INTENTS)
def test_each_product_intent_has_35_to_60_examples(project: IntentsProject, intent: str) -> None:
    examples = project.data.examples_by_intent()[intent]
    assert {e.file for e in examples} == {PRODUCTS_FILE}
    assert 35 <= len(examples) <= 60


def test_annotations_use_the_shopping_entities_with_known_values(project: IntentsProject) -> None:
    """Every annotated value is a value of its entity's lookup table (through the synonyms)."""
    known = entity_values(project.data)
    for example in project.data.examples:
        if example.intent not in PRODUCT_INTENTS:
            continue
        for annotation in example.entities:
            assert annotation.entity in PRODUCT_ENTITIES, f"{example.file}:{example.line}: {annotation}"
            assert annotation.value.lower() in known[annotation.entity], f"{example.file}:{example.line}: {annotation}"


def test_the_pipeline_finds_every_annotation_again_with_its_value(
    project: IntentsProject, pipeline: EntityPipeline
) -> None:
    missed = []
    for example in project.data.examples:
        if example.intent not in PRODUCT_INTENTS:
            continue
        found = pipeline.extract(example.text)
        for a in example.entities:
            same = [e for e in found if e.entity == a.entity and e.start < a.end and a.start < e.end]
            if [str(e.value) for e in same] != [a.value]:
                missed.append(f"{example.file}:{example.line}: [{a.text}]({a.entity}={a.value}) -> {same}")
    assert missed == []


def test_every_word_of_the_lookup_tables_is_normalised_by_a_synonym() -> None:
    """ "Gray" becomes "grey" and "Black" "black": each word of a table (the values too) is in a synonym
    block, so whatever its case the pipeline gives the value."""
    data = file_data(PRODUCTS_FILE)
    for entity in ("category", "colour", "material"):
        missing = [word for word in data.lookups[entity] if word.lower() not in data.synonyms]
        assert missing == [], f"{entity}: add these words to a `- synonym:` block"
    ordinals = {data.synonyms.get(word.lower()) for word in data.lookups["ordinal"]}
    assert ordinals == {"1", "2", "3", "4", "5", "-1"}


def test_products_synonyms_leave_the_other_files_words_alone() -> None:
    """One word has one normalised value: products.yml must not remap a word another file maps."""
    mine = file_data(PRODUCTS_FILE).synonyms
    for name in ("intents/nlu/entities.yml", "intents/nlu/tasks.yml", "intents/nlu/smalltalk.yml"):
        theirs = file_data(name).synonyms
        assert {word: value for word, value in mine.items() if word in theirs} == {}


def test_shop_is_not_redefined() -> None:
    data = file_data(PRODUCTS_FILE)
    assert "shop" not in data.lookups
    assert not {"paris", "berlin", "london"} & set(data.synonyms.values())


def values(pipeline: EntityPipeline, text: str) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for entity in pipeline.extract(text):
        found.setdefault(entity.entity, []).append(entity.value)
    return found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "got any charcoal jumpers under 120 quid?",
            {"colour": ["charcoal"], "category": ["sweater"], "price_max": [120.0]},
        ),
        ("Gray Trainers in a 41 pls", {"colour": ["grey"], "category": ["sneakers"], "size": ["41"]}),
        (
            "navy blue linen pants, size L, between 60 and 90 euros",
            {
                "colour": ["navy"],
                "material": ["linen"],
                "category": ["trousers"],
                "size": ["L"],
                "price_min": [60.0],
                "price_max": [90.0],
            },
        ),
        ("Tees in XS?", {"category": ["t-shirt"], "size": ["XS"]}),
        (
            "a handbag in cream leather for about €200",
            {"category": ["bag"], "colour": ["ivory"], "material": ["leather"], "price_min": [160.0]},
        ),
        ("Knitwear in medium", {"category": ["knitwear"], "size": ["M"]}),
        ("outerwear for men over 250", {"category": ["coats"], "price_min": [250.0]}),
        ("a goose down puffer", {"material": ["down"], "category": ["parka"]}),
        ("denim jackets", {"material": ["denim"], "category": ["jacket"]}),
        ("the last one", {"ordinal": ["-1"]}),
        ("Number 2 pls", {"ordinal": ["2"]}),
        ("something a bit Warmer", {"refinement": ["warmer"]}),
        ("less expensive ones", {"refinement": ["cheaper"]}),
        ("more", {"refinement": ["more"]}),
        ("only in Berlin", {"shop": ["berlin"]}),
        ("do you have sneakers in teal", {"category": ["sneakers"], "colour": ["teal"]}),
        ("red linen dress XS london", {"colour": ["red"], "size": ["XS"], "shop": ["london"]}),
        ("is KN-104 in stock in M?", {"sku": ["KN-104"], "size": ["M"], "order_number": None}),
    ],
)
def test_shopping_messages_get_their_entities(
    pipeline: EntityPipeline, text: str, expected: dict[str, list[Any]]
) -> None:
    found = values(pipeline, text)
    assert {entity: found.get(entity) for entity in expected} == expected


@pytest.mark.parametrize(
    ("text", "unwanted"),
    [
        ("I'm looking for my order, it's AN-10001", {"size", "ordinal", "refinement", "price_min", "price_max"}),
        ("first time ordering here, can I pay later?", {"ordinal"}),
        ("something more casual", {"refinement"}),
        ("more than 50 euros", {"refinement"}),
        ("calm down and size down", {"material", "size"}),
        ("give me a second", {"ordinal"}),
    ],
)
def test_ordinary_words_are_no_shopping_entities(pipeline: EntityPipeline, text: str, unwanted: set[str]) -> None:
    assert unwanted & set(values(pipeline, text)) == set()


@pytest.mark.parametrize(
    ("text", "entity", "expected"),
    [
        ("can I exchange these jeans for another size", "item", ["jeans"]),
        ("I'd like to send back the wool coat", "item", ["wool coat"]),
        ("the dress is too small, I want to return it", "return_reason", ["too_small"]),
        ("the dress is too small, I want to return it", "size", None),
        ("return my order AN-48213", "order_number", ["AN-48213"]),
        ("book a fitting in Paris tomorrow at 3pm", "shop", ["paris"]),
    ],
)
def test_returns_and_bookings_keep_their_entities(
    pipeline: EntityPipeline, text: str, entity: str, expected: list[str] | None
) -> None:
    assert values(pipeline, text).get(entity) == expected

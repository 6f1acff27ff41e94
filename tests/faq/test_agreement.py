"""What an answer is about (`Country:`, `Shop:`, `Product:` lines) and what the customer named:
loading, `bot.faq.agreement`, the responder's choice (bonus, follow-ups, no repeat), scoped synonyms.

The responder tests use hand-made unit vectors and plain cosine scores (no context, no BM25,
confidence = top score), so every score below is exact and the expected entry follows from it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.faq.agreement import ENTITIES_OF, agreement, named_values
from bot.faq.entry import KnowledgeEntry
from bot.faq.index import NumpyIndex
from bot.faq.markdown_loader import parse_markdown
from bot.faq.responder import AGREEMENT_BONUS, REPEAT_MARGIN, KnowledgeResponder, KnowledgeResult
from bot.faq.scoring import EntryScorer, ScoringConfig
from bot.faq.templates import ReplyTemplates
from bot.faq.thresholds import Thresholds
from bot.nlu.annotations import Annotation
from bot.nlu.entities import EntityPipeline, LookupEntityExtractor, build_entity_pipeline, entity_values
from bot.nlu.training_data import Example, TrainingData
from bot.types import KnowledgeQuery

from .conftest import ServiceFactory, write

F = "knowledge/shipping.md"
DIM = 8


# -- loading ---------------------------------------------------------------------------------------
def test_about_lines_are_read_lower_case_before_the_alternates() -> None:
    text = (
        "# Shipping\n\n"
        "## How long does delivery to Austria take? {#delivery-eu}\n"
        "Countries: Austria, Belgium\n"
        "Shop: Berlin\n"
        "Product:  Wool coat ,Trench coat \n"
        "\n"
        "Also asked:\n"
        "- delivery time austria\n"
        "\n"
        "3–5 working days.\n"
    )
    entries, problems = parse_markdown(text, F)
    assert problems == []
    (entry,) = entries
    assert entry.about == (
        ("country", ("austria", "belgium")),
        ("product", ("wool coat", "trench coat")),
        ("shop", ("berlin",)),
    )
    assert entry.about_values("country") == ("austria", "belgium")
    assert entry.about_values("shop") == ("berlin",)
    assert entry.about_values("colour") == ()
    assert entry.alternates == ("delivery time austria",)
    assert entry.alternate_lines == (9,)
    assert (entry.answer, entry.answer_line) == ("3–5 working days.", 11)


def test_a_line_with_another_key_is_answer_text() -> None:
    entries, problems = parse_markdown("## Can I pick up my order?\nNote: bring your receipt.\n", F)
    assert problems == []
    assert entries[0].about == ()
    assert entries[0].answer == "Note: bring your receipt."


def test_an_entry_without_about_lines_is_about_nothing_specific() -> None:
    entries, _ = parse_markdown("## Do you ship abroad?\n\nYes, to 40 countries.\n", F)
    assert entries[0].about == ()
    assert all(entries[0].about_values(kind) == () for kind in ENTITIES_OF)


def test_what_an_entry_is_about_changes_its_content_hash() -> None:
    (germany,), _ = parse_markdown("## Delivery time?\nCountry: Germany\n\n2 days.\n", F)
    (austria,), _ = parse_markdown("## Delivery time?\nCountry: Austria\n\n2 days.\n", F)
    assert germany.content_hash != austria.content_hash


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "## Delivery time?\nCountry:\n\n2 days.\n",
            "knowledge/shipping.md:2: 'Country:' names nothing — list what the answer is about, "
            "e.g. 'Country: Austria, Belgium', or remove the line",
        ),
        (
            "# Shipping\n\n## Delivery time?\nShop: Berlin\nProducts: , ,\n\n2 days.\n",
            "knowledge/shipping.md:5: 'Products:' names nothing — list what the answer is about, "
            "e.g. 'Products: Austria, Belgium', or remove the line",
        ),
        (
            "## Delivery time?\nCountry: France\nCountries: Spain\n\n2 days.\n",
            "knowledge/shipping.md:3: 'Countries:' appears twice under this question — put all the values "
            "on one line, separated by commas",
        ),
    ],
)
def test_about_line_problems_name_file_and_line(text: str, expected: str) -> None:
    _, problems = parse_markdown(text, F)
    assert [str(p) for p in problems] == [expected]
    assert problems[0].severity == "error"


def test_a_repeated_key_keeps_the_first_values() -> None:
    entries, _ = parse_markdown("## Delivery time?\nCountry: France\nCountry: Spain\n\n2 days.\n", F)
    assert entries[0].about == (("country", ("france",)),)


# -- agreement -------------------------------------------------------------------------------------
def entry(entry_id: str, **about: tuple[str, ...]) -> KnowledgeEntry:
    return KnowledgeEntry(
        id=entry_id,
        question=f"Question {entry_id}?",
        answer=f"Answer {entry_id}.",
        file=F,
        line=1,
        title="Shipping",
        about=tuple(sorted(about.items())),
    )


def named(**values: Sequence[str]) -> dict[str, frozenset[str]]:
    return {kind: frozenset(v) for kind, v in values.items()}


def test_named_values_group_entities_by_kind() -> None:
    entities = named(country=["austria"], item=["wool coat"], product=["coat"], shop=["berlin"], email=["a@b.c"])
    assert named_values(entities) == {
        "country": frozenset({"austria"}),
        "shop": frozenset({"berlin"}),
        "product": frozenset({"wool coat", "coat"}),
    }
    assert named_values(named(email=["a@b.c"], country=[])) == {}


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ({}, 0),  # nothing named: every entry is eligible
        (named(country=["austria"]), 1),
        (named(country=["belgium", "japan"]), 1),  # one of the named values is enough
        (named(country=["germany"]), None),
        (named(shop=["berlin"]), 0),  # the entry says nothing about shops
        (named(country=["austria"], shop=["berlin"]), 1),
    ],
)
def test_agreement_with_a_country_entry(said: dict[str, frozenset[str]], expected: int | None) -> None:
    assert agreement(entry("eu", country=("austria", "belgium")), said) == expected


def test_agreement_counts_every_kind_and_any_mismatch_excludes() -> None:
    specific = entry("berlin-austria", country=("austria",), shop=("berlin",))
    assert agreement(specific, named(country=["austria"], shop=["berlin"])) == 1  # a shop filters, never lifts
    assert agreement(specific, named(country=["austria"], shop=["paris"])) is None
    assert agreement(entry("generic"), named(country=["austria"], shop=["paris"])) == 0


@pytest.mark.parametrize(
    ("said", "agrees"),
    [
        ("wool coat", True),
        ("coat", True),  # fewer words: all of them in the entry's product
        ("black wool coat", True),  # more words: the entry's product is among them
        ("trench coat", False),
        ("scarf", False),
    ],
)
def test_products_match_by_words(said: str, agrees: bool) -> None:
    matched = agreement(entry("coats", product=("wool coat",)), named(product=[said]))
    assert (matched is not None) is agrees


def test_countries_and_shops_match_only_exactly() -> None:
    assert agreement(entry("us", country=("united states",)), named(country=["states"])) is None
    assert agreement(entry("us", country=("united states",)), named(country=["united states"])) == 1
    assert agreement(entry("berlin", shop=("berlin",)), named(shop=["berlin shop"])) is None


# -- the responder ---------------------------------------------------------------------------------
def axis(i: int) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[i] = 1.0
    return vector


def mix(*parts: tuple[int, float]) -> np.ndarray:
    """A unit vector with the given components; the rest goes on its own axis `rest`."""
    vector = np.zeros(DIM, dtype=np.float32)
    for i, value in parts:
        vector[i] = value
    return vector / np.linalg.norm(vector)


def at_cosine(cosine: float, rest: int) -> np.ndarray:
    """A unit vector whose cosine with `axis(0)` is exactly `cosine`."""
    return mix((0, cosine), (rest, math.sqrt(1 - cosine * cosine)))


def responder(
    items: Sequence[tuple[KnowledgeEntry, np.ndarray]], agreement_bonus: float = AGREEMENT_BONUS
) -> KnowledgeResponder:
    entries = [e for e, _ in items]
    config = ScoringConfig(context_weight=0.0, bm25_weight=0.0, confidence="margin", margin_weight=0.0)
    index = NumpyIndex(DIM)
    scorer = EntryScorer([v.reshape(1, -1) for _, v in items], [1] * len(items), index, config)
    index.add(scorer.vector_ids(), scorer.matrix())
    answers = {e.id: e.answer for e in entries}
    return KnowledgeResponder(
        entries, answers, scorer, Thresholds(answer=0.5, suggest=0.2), ReplyTemplates(), agreement_bonus=agreement_bonus
    )


def ask(bot: KnowledgeResponder, embedding: np.ndarray, **query: object) -> KnowledgeResult:
    return bot.answer(KnowledgeQuery("how long does delivery take", embedding, **query))  # type: ignore[arg-type]


def answered(result: KnowledgeResult) -> str:
    assert result.decision == "answer", result
    (reply,) = result.replies
    return reply.sources[0].id


def hit_ids(result: KnowledgeResult) -> list[str]:
    return [h.entry.id for h in result.hits]


@pytest.fixture
def shipping() -> KnowledgeResponder:
    """Germany's entry is closest to the question, then the generic table, then the EU entry."""
    return responder(
        [
            (entry("delivery-germany", country=("germany",)), at_cosine(0.90, 1)),
            (entry("delivery-prices"), at_cosine(0.85, 2)),
            (entry("delivery-eu", country=("austria", "belgium")), at_cosine(0.82, 3)),
        ]
    )


def test_without_a_named_country_the_closest_entry_answers(shipping: KnowledgeResponder) -> None:
    result = ask(shipping, axis(0))
    assert answered(result) == "delivery-germany"
    assert hit_ids(result) == ["delivery-germany", "delivery-prices", "delivery-eu"]


def test_an_entry_about_another_country_never_answers(shipping: KnowledgeResponder) -> None:
    result = ask(shipping, axis(0), entities=named(country=["austria"]))
    assert "delivery-germany" not in hit_ids(result)
    assert answered(result) == "delivery-eu"  # 0.82 + the 0.05 bonus beats the generic 0.85
    assert result.hits[0].score == pytest.approx(0.87, abs=1e-5)


def test_the_specific_entry_wins_only_through_its_bonus() -> None:
    items = [
        (entry("delivery-prices"), at_cosine(0.85, 2)),
        (entry("delivery-eu", country=("austria", "belgium")), at_cosine(0.82, 3)),
    ]
    austria = named(country=["austria"])
    assert answered(ask(responder(items), axis(0), entities=austria)) == "delivery-eu"
    assert answered(ask(responder(items, agreement_bonus=0.0), axis(0), entities=austria)) == "delivery-prices"


def test_generic_entries_stay_eligible_for_any_country(shipping: KnowledgeResponder) -> None:
    result = ask(shipping, axis(0), entities=named(country=["japan"]))
    assert hit_ids(result) == ["delivery-prices"]
    assert answered(result) == "delivery-prices"


def test_the_named_country_lifts_its_own_entry(shipping: KnowledgeResponder) -> None:
    result = ask(shipping, axis(0), entities=named(country=["germany"]))
    assert hit_ids(result) == ["delivery-germany", "delivery-prices"]
    assert result.hits[0].score == pytest.approx(0.95, abs=1e-5)


def test_a_kind_no_entry_is_about_excludes_nothing(shipping: KnowledgeResponder) -> None:
    result = ask(shipping, axis(0), entities=named(shop=["berlin"], email=["anna@example.com"]))
    assert hit_ids(result) == ["delivery-germany", "delivery-prices", "delivery-eu"]


def test_entities_from_the_parse_reach_the_agreement(shipping: KnowledgeResponder) -> None:
    from bot.types import Entity, IntentScore, Parse

    parse = Parse(
        "how long to Austria?",
        IntentScore("faq", 0.9),
        (Entity("country", "Austria", 12, 19, "LookupEntityExtractor"),),
    )
    query = KnowledgeQuery.from_parse(parse, axis(0))
    assert query.entities == {"country": frozenset({"austria"})}
    assert answered(shipping.answer(query)) == "delivery-eu"


# follow-ups: "and with PayPal?" right after the Klarna answer
KLARNA, PAYPAL, CARDS = "pay-klarna", "pay-paypal", "pay-cards"
AND_PAYPAL = axis(1)  # the message alone


@pytest.fixture
def payments() -> KnowledgeResponder:
    """Alone, the message is closest to cards (0.70 vs 0.65); combined with Klarna's question
    ((klarna + message) / √2), Klarna scores 0.707, PayPal 0.672 and cards 0.495."""
    return responder(
        [
            (entry(KLARNA), axis(0)),
            (entry(PAYPAL), mix((0, 0.3), (1, 0.65), (2, math.sqrt(1 - 0.09 - 0.4225)))),
            (entry(CARDS), mix((1, 0.7), (3, math.sqrt(1 - 0.49)))),
        ]
    )


def test_a_message_alone_is_ranked_without_the_previous_entry(payments: KnowledgeResponder) -> None:
    assert answered(ask(payments, AND_PAYPAL)) == CARDS


def test_a_follow_up_is_ranked_with_the_previous_question(payments: KnowledgeResponder) -> None:
    result = ask(payments, AND_PAYPAL, follow_up=KLARNA)
    assert hit_ids(result) == [KLARNA, PAYPAL, CARDS]
    assert result.hits[0].score == pytest.approx(1 / math.sqrt(2), abs=1e-5)


def test_a_continuing_follow_up_never_returns_the_previous_entry(payments: KnowledgeResponder) -> None:
    result = ask(payments, AND_PAYPAL, follow_up=KLARNA, continues=True)
    assert answered(result) == PAYPAL
    assert KLARNA not in hit_ids(result)


def test_a_follow_up_of_an_unknown_entry_is_an_ordinary_question(payments: KnowledgeResponder) -> None:
    result = ask(payments, AND_PAYPAL, follow_up="no-such-entry", continues=True)
    assert answered(result) == CARDS


def test_a_follow_up_keeps_the_country_rule() -> None:
    bot = responder(
        [
            (entry("delivery-germany", country=("germany",)), at_cosine(0.90, 1)),
            (entry("delivery-eu", country=("austria", "belgium")), at_cosine(0.80, 2)),
            (entry("delivery-prices"), at_cosine(0.70, 3)),
        ]
    )
    result = ask(bot, at_cosine(0.5, 4), follow_up="delivery-germany", entities=named(country=["belgium"]))
    assert "delivery-germany" not in hit_ids(result)
    assert answered(result) == "delivery-eu"


# the previous answer is not repeated when a runner-up is this close
@pytest.mark.parametrize(
    ("runner_up", "previous", "expected"),
    [
        (0.78, "a", "b"),  # 0.02 behind the previous answer: the runner-up answers
        (0.80 - REPEAT_MARGIN + 0.005, "a", "b"),  # just within the margin
        (0.80 - REPEAT_MARGIN - 0.005, "a", "a"),  # just outside it
        (0.75, "a", "a"),  # 0.05 behind: the previous answer is still the best one
        (0.78, None, "a"),  # no previous answer
        (0.78, "b", "a"),  # the previous answer is not the top one
    ],
)
def test_a_close_runner_up_beats_repeating_the_previous_answer(
    runner_up: float, previous: str | None, expected: str
) -> None:
    bot = responder(
        [
            (entry("a"), at_cosine(0.80, 1)),
            (entry("b"), at_cosine(runner_up, 2)),
            (entry("c"), at_cosine(0.60, 3)),
        ]
    )
    result = ask(bot, axis(0), previous=previous)
    assert answered(result) == expected
    assert hit_ids(result)[2] == "c"


# -- through the service, with the fake encoder ------------------------------------------------------
DELIVERY = """\
---
title: Shipping
url: https://shop.example/help/shipping
---
# Shipping

## How long does delivery to Germany take? {#delivery-germany}
Country: Germany

Delivery to Germany takes 1–2 working days.

## How long does delivery to Austria or Belgium take? {#delivery-eu}
Countries: Austria, Belgium

Delivery to Austria and Belgium takes 3–5 working days.

## How long does delivery take? {#delivery-time}

Delivery takes 2–7 working days depending on the country.
"""


def test_the_service_answers_from_the_files_about_lines(tmp_path: Path, make_service: ServiceFactory) -> None:
    folder = tmp_path / "knowledge"
    write(folder / "shipping.md", DELIVERY)
    service = make_service(folder)
    service.load()
    text = "how long does delivery to Germany take"
    plain = service.answer(KnowledgeQuery(text))
    assert plain.top is not None and plain.top.entry.id == "delivery-germany"
    # the same words naming Austria (as the NLU would read them): never the Germany answer
    austria = service.answer(KnowledgeQuery(text, entities=named(country=["austria"])))
    assert "delivery-germany" not in hit_ids(austria)
    assert set(hit_ids(austria)) == {"delivery-eu", "delivery-time"}
    japan = service.answer(KnowledgeQuery(text, entities=named(country=["japan"])))
    assert hit_ids(japan) == ["delivery-time"]
    eu = service.answer(KnowledgeQuery("how long does delivery to Austria take", entities=named(country=["austria"])))
    assert eu.top is not None and eu.top.entry.id == "delivery-eu"


# -- synonyms scoped to their entity ------------------------------------------------------------------
def annotated(text: str, intent: str, entity_name: str, value: str, span: str) -> Example:
    start = text.index(span)
    annotation = Annotation(entity_name, value, start, start + len(span), span)
    return Example(text, intent, (annotation,), "intents/nlu/tasks.yml", 1)


GERMANY_SHOP = annotated("book me in the Germany shop", "book_appointment", "shop", "berlin", "Germany")
"""Teaches the synonym Germany → berlin, for the shop."""


def pipeline_of(data: TrainingData) -> EntityPipeline:
    return build_entity_pipeline(data, order_number_pattern=r"\bAN-\d{5}\b")


def found(pipeline: EntityPipeline, text: str) -> set[tuple[str, str]]:
    return {(e.entity, str(e.value).lower()) for e in pipeline.extract(text)}


@pytest.fixture
def annotated_countries() -> EntityPipeline:
    """Countries taught by annotated examples (`[Germany](country)`: the value is the text), shops by a
    lookup table and the annotation above."""
    return pipeline_of(
        TrainingData(
            examples=[
                GERMANY_SHOP,
                annotated("how long is shipping to Germany", "faq", "country", "Germany", "Germany"),
                annotated("do you ship to Deutschland", "faq", "country", "germany", "Deutschland"),
                annotated("do you ship to France", "faq", "country", "France", "France"),
            ],
            synonyms={"the berlin store": "berlin"},
            lookups={"shop": ["Paris", "Berlin"]},
        )
    )


def test_germany_as_a_country_is_not_the_berlin_shop(annotated_countries: EntityPipeline) -> None:
    assert found(annotated_countries, "is shipping to Germany free?") == {("country", "germany"), ("shop", "berlin")}
    assert annotated_countries.canonical("country", "Germany") is None  # not mapped: its own value stays
    assert annotated_countries.canonical("shop", "Germany") == "berlin"


def test_a_synonym_still_applies_to_its_own_entity(annotated_countries: EntityPipeline) -> None:
    assert found(annotated_countries, "shipping to Deutschland") == {("country", "germany")}
    assert annotated_countries.canonical("country", "DEUTSCHLAND") == "germany"
    assert annotated_countries.canonical("shop", "the  Berlin store") == "berlin"
    assert annotated_countries.canonical("shop", "Deutschland") is None
    assert annotated_countries.canonical("shop", "unknown words") is None


def test_entity_values_are_each_entitys_canonical_values() -> None:
    data = TrainingData(
        examples=[GERMANY_SHOP, annotated("do you ship to Austria", "faq", "country", "austria", "Austria")],
        synonyms={"the paris store": "paris", "osterreich": "austria"},
        lookups={"shop": ["Paris", "the Paris store"], "country": ["France", "osterreich"]},
    )
    assert entity_values(data) == {"shop": {"paris", "berlin"}, "country": {"france", "austria"}}


def test_entities_without_known_values_take_every_synonym() -> None:
    extractors = [LookupEntityExtractor({"country": ["germany"], "place": ["germany"]})]
    scoped = EntityPipeline(extractors, {"germany": "berlin"}, {"country": {"germany"}})
    assert {(e.entity, e.value) for e in scoped.extract("Germany")} == {("country", "Germany"), ("place", "berlin")}
    unscoped = EntityPipeline(extractors, {"germany": "berlin"})
    assert {(e.entity, e.value) for e in unscoped.extract("Germany")} == {("country", "berlin"), ("place", "berlin")}


def test_a_country_from_a_lookup_table_is_not_the_berlin_shop() -> None:
    """The reference bot's countries are a lookup table (intents/nlu/entities.yml)."""
    data = TrainingData(
        examples=[GERMANY_SHOP], lookups={"shop": ["Paris", "Berlin"], "country": ["france", "germany"]}
    )
    assert entity_values(data)["country"] == {"france", "germany"}
    assert ("country", "germany") in found(pipeline_of(data), "is shipping to Germany free?")

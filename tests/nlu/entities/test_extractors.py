"""Lookup values survive one typo ("Berln", "Londn"), short ones and other first letters do not."""

from __future__ import annotations

import pytest

from bot.nlu.entities.extractors import LookupEntityExtractor, one_typo_apart


@pytest.mark.parametrize(
    ("a", "b", "close"),
    [
        ("berln", "berlin", True),  # a letter missing
        ("londonn", "london", True),  # a letter added
        ("lomdon", "london", True),  # a letter changed
        ("lodnon", "london", True),  # two neighbours swapped
        ("bern", "berlin", False),
        ("paris", "paris", True),
        ("londres", "london", False),
    ],
)
def test_one_typo_apart(a: str, b: str, close: bool) -> None:
    assert one_typo_apart(a, b) is close


def test_a_typo_of_a_long_one_word_value_is_found_with_the_value() -> None:
    extractor = LookupEntityExtractor({"shop": ["Berlin", "London", "Paris"], "country": ["spain", "turin"]})
    found = [(e.entity, e.value, e.text) for e in extractor.extract("a fitting in Berln or at the londn shop")]
    assert found == [("shop", "berlin", "Berln"), ("shop", "london", "londn")]


def test_short_values_and_other_first_letters_never_match_fuzzily() -> None:
    extractor = LookupEntityExtractor({"country": ["spain", "turin", "basel"], "shop": ["berlin"]})
    assert extractor.extract("will it stain? turn it inside out, based in merlin") == []

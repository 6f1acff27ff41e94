"""The real language detector (lingua, offline): which messages count as written in another language."""

from __future__ import annotations

import pytest

from bot.nlu.language import LinguaLanguageDetector


@pytest.fixture(scope="module")
def detector() -> LinguaLanguageDetector:
    return LinguaLanguageDetector()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("vous avez des pulls en cachemire ?", "fr"),  # French 0.59 but far ahead of English: clearly French
        ("vous avez des pulls en  ?", "fr"),  # as NLU sees it, the product word blanked: French 0.52, English 0.21
        ("bonjour, vous avez des pulls en cachemire ?", "fr"),
        ("haben Sie Pullover aus Kaschmir?", "de"),
        ("je voudrais parler à quelqu'un", "fr"),
    ],
)
def test_a_message_clearly_in_another_language_is_recognised(
    detector: LinguaLanguageDetector, text: str, language: str
) -> None:
    found = detector.detect(text)
    assert found is not None and found[0] == language


@pytest.mark.parametrize(
    "text",
    [
        "where is my order AN-10001",
        "cashmere sweater",  # two words: a shopper's phrase, not a language
        "slim fit jeans in grey",
        "pls cancel my fitting FT-DEMO2",
        "shirts in white please",  # what is left of a shopper's phrase once some of its words are entities
        "anna@example.com",
    ],
)
def test_english_and_short_product_phrases_are_not_taken_for_another_language(
    detector: LinguaLanguageDetector, text: str
) -> None:
    found = detector.detect(text)
    assert found is None or found[0] == "en"

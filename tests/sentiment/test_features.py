from __future__ import annotations

import pytest

from bot.sentiment.features import FEATURE_NAMES, VaderScorer, emoji_counts, repeated_marks, shouting, text_features


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("WHERE IS MY ORDER", 1.0),
        ("where is my order", 0.0),
        ("my order AN-10001 is late", 0.0),  # codes with digits are not shouting
        ("this is the THIRD time", 0.25),
        ("👍", 0.0),
    ],
)
def test_shouting_is_the_share_of_words_in_capitals(text: str, expected: float) -> None:
    assert shouting(text) == pytest.approx(expected)


def test_repeated_marks_count_runs_not_single_marks() -> None:
    assert repeated_marks("where is it??") == 1
    assert repeated_marks("why?! now!!! really??") == 3
    assert repeated_marks("where is it? now!") == 0


def test_emoji_of_either_polarity_are_counted() -> None:
    assert emoji_counts("😡😡 again") == (2, 0)
    assert emoji_counts("thanks 🙏😊") == (0, 2)
    assert emoji_counts("plain text") == (0, 0)


def test_text_features_have_one_column_per_name_and_vader_sees_the_polarity() -> None:
    x = text_features(VaderScorer(), ["this is terrible", "thank you, that is great"])
    assert x.shape == (2, len(FEATURE_NAMES))
    compound = FEATURE_NAMES.index("vader_compound")
    assert x[0, compound] < -0.3 < 0.3 < x[1, compound]

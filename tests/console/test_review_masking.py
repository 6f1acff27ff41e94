"""`mask_personal`: what is hidden from agents and editors, and what is left alone."""

from __future__ import annotations

import pytest

from bot.review.masking import mask_personal


@pytest.mark.parametrize(
    ("text", "names", "expected"),
    [
        ("write to jo.doe+shop@example.co.uk please", (), "write to [email] please"),
        ("JANE@EXAMPLE.COM", (), "[email]"),
        ("call +33 6 12 34 56 78 tonight", (), "call [phone] tonight"),
        ("call (020) 7946-0958", (), "call ([phone]"),
        ("my number is 0612345678.", (), "my number is [phone]."),
        ("order AN-12345 and an-99999 and AN12345", (), "order [order] and [order] and [order]"),
        ("I'm Jane Roe, jane is fine", ("Jane", "Roe"), "I'm [name] [name], [name] is fine"),
        ("Janet is not Jane", ("Jane",), "Janet is not [name]"),
        ("Jo Doe wrote", ("Jo Doe", "Jo"), "[name] wrote"),  # the longest name first
        ("a name of one letter is left: J", ("J",), "a name of one letter is left: J"),
        ("size 42, 3 items, on 12/03/2026 at 10:30", (), "size 42, 3 items, on 12/03/2026 at 10:30"),
        ("the price is €189 for 2", (), "the price is €189 for 2"),
        ("", ("Jane",), ""),
    ],
)
def test_mask_personal(text: str, names: tuple[str, ...], expected: str) -> None:
    assert mask_personal(text, names) == expected


def test_a_name_with_regex_characters_is_matched_literally() -> None:
    assert mask_personal("hi (Ann) and Ann.", ["(Ann)"]) == "hi [name] and Ann."

"""Reading preferences and "forget …" out of a message."""

from __future__ import annotations

from typing import Any

import pytest

from bot.customers.preferences import ForgetScope, forget_scope, preferences_of, says_forget_that
from bot.types import Entity, IntentScore, Parse


def parse(text: str, *entities: tuple[str, Any]) -> Parse:
    found = []
    for name, value in entities:
        start = text.lower().find(str(value).lower())
        found.append(Entity(name, value, start, start + len(str(value)), "test"))
    return Parse(text, IntentScore("remember_preference", 0.9), tuple(found))


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (parse("remember that I'm an M", ("size", "M")), {"size_tops": "M"}),
        (parse("my shoe size is 42", ("size", "42")), {"size_shoes": "42"}),
        (parse("I take a 32 in jeans", ("size", "32")), {"size_bottoms": "32"}),
        (
            parse("I'm an M and 42 in shoes", ("size", "M"), ("size", "42")),
            {"size_tops": "M", "size_shoes": "42"},
        ),
        (parse("remember Berlin is my shop", ("shop", "berlin")), {"shop": "berlin"}),
        (parse("customer service is my favourite", ("shop", "customer_service")), {}),
        (parse("I like a skinny fit"), {"fit": "slim"}),
        (parse("always oversized for me"), {"fit": "oversized"}),
        (parse("remember my preferences"), {}),
    ],
)
def test_preferences_of_a_message(message: Parse, expected: dict[str, str]) -> None:
    assert preferences_of(message) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (parse("forget me"), ForgetScope("all")),
        (parse("forget everything you know about me"), ForgetScope("all")),
        (parse("forget my shoe size"), ForgetScope("items", ("size_shoes",))),
        (parse("forget my sizes"), ForgetScope("items", ("size_tops", "size_bottoms", "size_shoes"))),
        (parse("forget that I'm an M", ("size", "M")), ForgetScope("items", ("size_tops",))),
        (parse("forget my shop"), ForgetScope("items", ("shop",))),
        (parse("forget the products I looked at"), ForgetScope("items", ("products",))),
        (parse("forget that"), ForgetScope("last")),
    ],
)
def test_what_forget_is_about(message: Parse, expected: ForgetScope) -> None:
    assert forget_scope(message) == expected


def test_forget_that_is_told_from_other_stops() -> None:
    assert says_forget_that("forget that") and says_forget_that("please forget it")
    assert not says_forget_that("stop") and not says_forget_that("forget about the return, I'll keep it")

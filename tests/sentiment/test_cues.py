from __future__ import annotations

import pytest

from bot.sentiment.cues import says_repeated, says_waiting, threatens_to_leave


@pytest.mark.parametrize(
    "text",
    [
        "this is the third time I ask",
        "3rd time asking!!",
        "how many times do I have to say it",
        "you keep telling me the same things",
        "Das ist jetzt schon das dritte Mal!",
        "c'est la troisième fois que je demande",
    ],
)
def test_saying_it_again_is_recognised(text: str) -> None:
    assert says_repeated(text)


@pytest.mark.parametrize(
    "text", ["it's been 3 weeks", "still nothing", "seit zwei Wochen warte ich", "depuis deux semaines"]
)
def test_a_long_wait_is_recognised(text: str) -> None:
    assert says_waiting(text)


@pytest.mark.parametrize(
    "text",
    [
        "I'm going to shop elsewhere",
        "never ordering from you again",
        "I'll dispute the charge with my bank",
        "I'm done",
    ],
)
def test_threats_to_leave_are_recognised(text: str) -> None:
    assert threatens_to_leave(text)


@pytest.mark.parametrize(
    "text",
    [
        "I'd like to cancel my order",  # a request, not a threat
        "can I book a second fitting",
        "is the Berlin shop open at the same time as Paris",
        "where is my order",
        "I want to talk to someone about a return",
    ],
)
def test_ordinary_requests_raise_nothing(text: str) -> None:
    assert not says_repeated(text) and not says_waiting(text) and not threatens_to_leave(text)

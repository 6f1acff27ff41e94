"""The shipped corpus of generic off-topic messages used as out-of-scope negatives."""

from __future__ import annotations

from importlib import resources


def generic_oos_texts() -> list[str]:
    """Generic off-topic sentences (weather, trivia, maths, chit-chat, ...), one per line."""
    text = resources.files("bot.nlu").joinpath("data/generic_oos.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]

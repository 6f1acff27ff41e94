"""The shipped corpus of generic off-topic messages, embedded as out-of-scope negatives."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import resources

import numpy as np

from bot.encoding import Encoded

Embed = Callable[[Sequence[str]], Encoded]


def generic_oos_texts() -> list[str]:
    """Generic off-topic sentences (weather, trivia, maths, chit-chat, ...), one per line."""
    text = resources.files("bot.nlu.classifier").joinpath("generic_oos.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def generic_negatives(
    embed: Embed, in_scope: np.ndarray, names: Sequence[str], max_similarity: float
) -> tuple[Encoded, list[str]]:
    """The corpus embedded by `embed` with the layer features `names`, and its texts, without the
    sentences whose cosine similarity to an in-scope example (`in_scope`, unit rows) reaches
    `max_similarity`: those look like one of this bot's own intents."""
    texts = generic_oos_texts()
    encoded = embed(texts)
    keep = (encoded.vectors @ in_scope.T).max(1) < max_similarity
    kept = [t for t, k in zip(texts, keep, strict=True) if k]
    return encoded.only(names).rows(np.flatnonzero(keep)), kept

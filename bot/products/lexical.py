"""Word overlap between a message and each product: the exact words a shopper types ("Breton", "high
waisted", "cigarette") that a small sentence encoder blurs.

Each product's words come from its name, kind and tags (`FIELD_WEIGHT`), then its description (less); a
word counts by its rarity in the catalogue (IDF), so "dress" in a dress search weighs little and
"selvedge" much. Words lose a final "s" and are cut to their first `STEM` letters ("striped" / "stripe", "womens" /
"women").
The score of a product is the share of the message's catalogue words it holds, in [0, 1]. Postings are
kept per word, so a message costs one small sum per word it shares with the catalogue.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from bot.products.catalogue import Product

STEM = 5
NAME_WEIGHT, DESCRIPTION_WEIGHT = 1.0, 0.4
_WORD = re.compile(r"[a-z][a-z]+")
_STOP = frozenset(
    {
        "the",
        "and",
        "for",
        "with",
        "you",
        "your",
        "our",
        "any",
        "can",
        "has",
        "have",
        "that",
        "this",
        "are",
        "was",
        "but",
        "not",
        "all",
        "its",
        "too",
        "into",
        "very",
        "from",
        "some",
        "something",
        "anything",
        "looking",
        "want",
        "need",
        "show",
        "please",
        "pls",
        "got",
        "does",
        "what",
        "which",
        "one",
        "ones",
        "size",
        "sizes",
        "who",
        "how",
        "would",
        "could",
        "should",
        "like",
        "just",
        "also",
        "more",
        "less",
        "than",
        "over",
        "under",
        "about",
    }
)


def stem(word: str) -> str:
    """The first `STEM` letters of the word without a plural or possessive "s" ("mens" -> "men")."""
    if word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:STEM]


def words(text: str) -> set[str]:
    """The stems of `text`'s content words."""
    return {stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP}


class LexicalIndex:
    def __init__(self, products: Sequence[Product]) -> None:
        weights: dict[str, dict[int, float]] = defaultdict(dict)
        for i, product in enumerate(products):
            named = words(" ".join((product.name, product.kind, *product.tags, *product.materials)))
            for w in words(product.description):
                weights[w][i] = DESCRIPTION_WEIGHT
            for w in named:
                weights[w][i] = NAME_WEIGHT
        self.size = len(products)
        self.postings: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
        for w, row in weights.items():
            idf = math.log((1 + self.size) / (1 + len(row)))
            if idf > 0:
                positions = np.fromiter(row.keys(), dtype=np.int64, count=len(row))
                values = np.fromiter(row.values(), dtype=np.float32, count=len(row))
                self.postings[w] = (positions, values, idf)

    def scores(self, text: str) -> np.ndarray:
        """Each product's share (0 to 1) of the IDF weight of the message's catalogue words."""
        out = np.zeros(self.size, dtype=np.float32)
        hits = [self.postings[w] for w in words(text) if w in self.postings]
        total = sum(idf for _, _, idf in hits)
        for positions, values, idf in hits:
            out[positions] += values * (idf / total)
        return out

"""Which language a message is written in, so the bot can say in that language what it speaks.

`LinguaLanguageDetector` uses the `lingua-language-detector` package (its models ship inside the
wheel: nothing is downloaded), restricted to the languages the bot should recognise and loaded on
first use. A message counts as written in a language only when lingua is confident enough for its
length and it does not read as English ("is it DHL or Colissimo"); the NLU masks entities (order
numbers, emails, shop and country names) before asking, so "Torstraße 88" never switches anything.
`FakeLanguageDetector` answers from a table for unit tests.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

_WORD = re.compile(r"[^\W\d_]{2,}")
_ENGLISH = frozenset(
    [
        "the",
        "is",
        "it",
        "my",
        "you",
        "your",
        "do",
        "does",
        "can",
        "could",
        "i",
        "what",
        "where",
        "when",
        "how",
        "or",
        "and",
        "to",
        "of",
        "for",
        "with",
        "this",
        "that",
        "my",
        "me",
        "are",
        "was",
        "will",
        "would",
        "please",
        "pls",
        "thanks",
        "hi",
        "hello",
    ]
)
"""English function words: two of them in a message keep it English unless lingua is very sure."""


class LanguageDetector(Protocol):
    def detect(self, text: str) -> tuple[str, float] | None:
        """(ISO 639-1 code, confidence) when the text is confidently in one language, else None."""
        ...


@dataclass
class LinguaLanguageDetector:
    """`min_confidence` for a message of three words or more; a shorter one needs `short_confidence`. A message
    of `clear_words` words or more, none of them English, is also taken when its language leads every other by
    `clear_margin` ("vous avez des pulls en ?", its product word blanked: French 0.52, English 0.21)."""

    languages: Sequence[str] = ("en", "fr", "de", "es", "it")
    min_confidence: float = 0.6
    short_confidence: float = 0.85
    sure: float = 0.9
    clear_words: int = 4
    clear_margin: float = 0.3
    _detector: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def warm_up(self) -> None:
        self._build()

    def _build(self) -> Any:
        with self._lock:
            if self._detector is None:
                from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

                chosen = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in self.languages]
                self._detector = (
                    LanguageDetectorBuilder.from_languages(*chosen).with_preloaded_language_models().build()
                )
            return self._detector

    def detect(self, text: str) -> tuple[str, float] | None:
        words = [w.lower() for w in _WORD.findall(text)]
        if not words:
            return None
        values = self._build().compute_language_confidence_values(text)
        if not values:
            return None
        code, confidence = values[0].language.iso_code_639_1.name.lower(), float(values[0].value)
        english = sum(w in _ENGLISH for w in words)
        runner_up = float(values[1].value) if len(values) > 1 else 0.0
        clear = len(words) >= self.clear_words and not english and confidence - runner_up >= self.clear_margin
        needed = self.min_confidence if len(words) >= 3 else self.short_confidence
        if (confidence < needed and not clear) or (confidence < self.sure and english >= 2):
            return None
        return code, confidence


@dataclass
class FakeLanguageDetector:
    """Deterministic: a message containing one of a language's marker words is in that language."""

    markers: Mapping[str, Sequence[str]] = field(
        default_factory=lambda: {"fr": ("bonjour", "commande", "où"), "de": ("wann", "bestellung", "geöffnet")}
    )

    def detect(self, text: str) -> tuple[str, float] | None:
        words = set(_WORD.findall(text.lower()))
        for language, markers in self.markers.items():
            if words & set(markers):
                return language, 1.0
        return None

"""Which language a message is written in, so the bot can say in that language what it speaks.

`LinguaLanguageDetector` uses the `lingua-language-detector` package (its models ship inside the
wheel: nothing is downloaded), restricted to the languages the bot should recognise and loaded on
first use. A message counts as written in a language only when lingua is confident
(`min_confidence`) and it has at least `min_words` words, so "merci", "ok" or an address such as
"Torstraße 88" never switch anything. `FakeLanguageDetector` answers from a table for unit tests.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

_WORD = re.compile(r"[^\W\d_]{2,}")


class LanguageDetector(Protocol):
    def detect(self, text: str) -> tuple[str, float] | None:
        """(ISO 639-1 code, confidence) when the text is confidently in one language, else None."""
        ...


@dataclass
class LinguaLanguageDetector:
    languages: Sequence[str] = ("en", "fr", "de", "es", "it")
    min_confidence: float = 0.8
    min_words: int = 2
    _detector: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def warm_up(self) -> None:
        self._build()

    def _build(self) -> Any:
        with self._lock:
            if self._detector is None:
                from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

                chosen = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in self.languages]
                self._detector = LanguageDetectorBuilder.from_languages(*chosen).with_preloaded_language_models().build()
            return self._detector

    def detect(self, text: str) -> tuple[str, float] | None:
        if len(_WORD.findall(text)) < self.min_words:
            return None
        values = self._build().compute_language_confidence_values(text)
        if not values or values[0].value < self.min_confidence:
            return None
        return values[0].language.iso_code_639_1.name.lower(), float(values[0].value)


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

"""Catalogue words typed with a letter doubled or undoubled: "linnen" is linen, "dres" is a dress.

The NLU's lookup tables forgive one typo only in words of six letters or more, because a typo of a short
word is too often another word ("cost" / "coat", "silk" / "sick"). Doubling or undoubling a letter is the
one slip that is safe on short words too: two words differing only by repeated letters are hardly ever
both English words a shopper types ("dres", "linnen", "wol", "bots"). `CatalogueSpelling` reads those
words against the catalogue's own kinds, materials and colours, so a misspelt constraint still filters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MIN_LETTERS = 3
"""Shorter words are left alone ("to" / "too")."""
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


def collapse(word: str) -> str:
    """The word with every run of one letter written once ("linnen" -> "linen", "dress" -> "dres")."""
    return re.sub(r"(.)\1+", r"\1", word)


class CatalogueSpelling:
    """Words of a message one doubled or undoubled letter away from a catalogue term, as entities."""

    def __init__(self, terms: Mapping[str, Iterable[str]], known: Iterable[str] = ()) -> None:
        """`terms`: entity name ("category", "material", "colour") -> the catalogue's words for it;
        `known`: other words that are right as typed (tags, the terms themselves)."""
        self.known = {t.lower() for t in known}
        by_form: dict[str, set[tuple[str, str]]] = {}
        for entity, values in terms.items():
            for value in values:
                term = value.strip().lower()
                self.known.add(term)
                if len(term) >= MIN_LETTERS and _WORD.fullmatch(term):
                    by_form.setdefault(collapse(term), set()).add((entity, term))
        # a form two different terms share is ambiguous: neither is guessed
        self.by_form = {form: found for form, found in by_form.items() if len({t for _, t in found}) == 1}

    def entities(self, text: str) -> list[tuple[str, str, int]]:
        """(entity, catalogue term, start) of each misspelt catalogue word in `text`."""
        found = []
        for match in _WORD.finditer(text.lower()):
            word = match.group(0)
            if len(word) < MIN_LETTERS or word in self.known:
                continue
            for entity, term in sorted(self.by_form.get(collapse(word), ())):
                found.append((entity, term, match.start()))
        return found

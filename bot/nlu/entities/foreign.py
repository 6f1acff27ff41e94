"""Days and times written in German or French ("am Mittwoch um 15 Uhr", "mercredi à 15h30").

The date extractor reads English; `to_english` rewrites the few day and time words of the shops' other
languages into English ("on Wed at 15:00") and keeps a map from each character of the rewritten text
back to the message, so a found date points at the customer's own words. A message without such words
is returned unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FOREIGN_WEEKDAYS = {
    "montag": "monday",
    "dienstag": "tuesday",
    "mittwoch": "wednesday",
    "donnerstag": "thursday",
    "freitag": "friday",
    "samstag": "saturday",
    "sonnabend": "saturday",
    "sonntag": "sunday",
    "lundi": "monday",
    "mardi": "tuesday",
    "mercredi": "wednesday",
    "jeudi": "thursday",
    "vendredi": "friday",
    "samedi": "saturday",
    "dimanche": "sunday",
    "lunedì": "monday",
    "martedì": "tuesday",
    "mercoledì": "wednesday",
    "giovedì": "thursday",
    "venerdì": "friday",
    "sabato": "saturday",
    "domenica": "sunday",
}
"""German, French and Italian weekday names and the English day they name."""

FOREIGN_WEEKDAY = re.compile(rf"(?<!\w)({'|'.join(FOREIGN_WEEKDAYS)})s?(?!\w)", re.IGNORECASE)
_UHR = re.compile(r"(?<![\w:])(\d{1,2})\s?uhr(?:\s?(\d{2}))?(?!\w)", re.IGNORECASE)  # 15 Uhr, 15 Uhr 30
_HEURE = re.compile(r"(?:(?<=\bà )|(?<=\ba )|(?<=\bvers ))(\d{1,2})h(\d{2})?(?!\w)", re.IGNORECASE)  # à 15h, vers 15h30
_ON = re.compile(r"(?<!\w)(?:am|le)(?=\s+(?:" + "|".join(FOREIGN_WEEKDAYS) + r"))", re.IGNORECASE)
_AT = re.compile(r"(?<!\w)(?:um|à|a|alle)(?=\s+\d)", re.IGNORECASE)


@dataclass(frozen=True)
class Rewritten:
    """The rewritten text and, for each of its characters, the index of the message character it stands for."""

    text: str
    origin: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The message's span for a span of the rewritten text."""
        if end <= start:
            return self.origin[start], self.origin[start]
        return self.origin[start], self.origin[end - 1] + 1


def to_english(text: str) -> Rewritten | None:
    """`text` with German and French days and times in English; None when it has none."""
    times = [*_UHR.finditer(text), *_HEURE.finditer(text)]
    if not (FOREIGN_WEEKDAY.search(text) or times):
        return None
    edits: list[tuple[int, int, str]] = []
    for m in FOREIGN_WEEKDAY.finditer(text):
        edits.append((m.start(), m.end(), FOREIGN_WEEKDAYS[m.group(1).lower()].capitalize()))
    for m in times:
        hour = int(m.group(1))
        if hour <= 23:
            edits.append((m.start(), m.end(), f"{hour:02d}:{m.group(2) or '00'}"))
    for m in _ON.finditer(text):
        edits.append((m.start(), m.end(), "on"))
    for m in _AT.finditer(text):
        edits.append((m.start(), m.end(), "at"))
    edits.sort()
    out: list[str] = []
    origin: list[int] = []
    cursor = 0
    for start, end, words in edits:
        if start < cursor:
            continue  # overlapping edits: the first one wins
        out.append(text[cursor:start])
        origin.extend(range(cursor, start))
        out.append(words)
        origin.extend(end - 1 if i == len(words) - 1 else min(start + i, end - 1) for i in range(len(words)))
        cursor = end
    out.append(text[cursor:])
    origin.extend(range(cursor, len(text)))
    return Rewritten("".join(out), tuple(origin))

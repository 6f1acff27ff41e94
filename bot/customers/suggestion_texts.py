"""A person's messages inside the learning suggestions (`learning_suggestions`, `bot.learning.store`).

A suggestion quotes customer messages: its `examples` (the messages as typed), its `phrasings` (the lines to
add) and a new entry's drafted `question`. For export, delete and the retention purge they are customer
text like any other:

- export lists the suggestions that quote the person, with the quoted texts;
- delete removes the person's texts from every suggestion (the same text in any case or spacing, or any
  text with their email); an open suggestion left with no example is dropped;
- the purge drops open suggestions last seen before the cut-off (the messages behind them are purged too)
  and blanks the examples of suggestions decided before it — and the phrasings and question of rejected
  ones (accepted lines now live in the shop's own knowledge and intents files).

The table is read by reflection, so this module does not depend on the learning package.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, delete, select, update

from bot.customers.database import Deleted
from bot.customers.identity import normalise_email
from bot.faq.entry import normalise_question


@dataclass(frozen=True)
class PersonTexts:
    """What one person typed, in the form suggestions are compared in, and their email."""

    texts: frozenset[str]
    email: str | None = None

    @classmethod
    def of(cls, typed: Iterable[str], email: str | None) -> PersonTexts:
        forms = {normalise_question(t) for t in typed}
        return cls(frozenset(f for f in forms if f), normalise_email(email) if email else None)

    def quotes(self, line: str | None) -> bool:
        if not line:
            return False
        return normalise_question(line) in self.texts or (self.email is not None and self.email in line.casefold())


def _lines(raw: str | None) -> list[str]:
    value = json.loads(raw or "[]")
    return [str(v) for v in value] if isinstance(value, list) else []


def quoting(conn: Connection, table: Table | None, person: PersonTexts) -> list[dict[str, Any]]:
    """The suggestions quoting the person: id, state and the quoted texts."""
    if table is None:
        return []
    found = []
    t = table.c
    for row in conn.execute(select(t.id, t.state, t.examples, t.phrasings, t.question)):
        texts = [x for x in [*_lines(row.examples), *_lines(row.phrasings), row.question] if person.quotes(x)]
        if texts:
            found.append({"suggestion": int(row.id), "state": row.state, "texts": list(dict.fromkeys(texts))})
    return found


def remove_person(conn: Connection, table: Table | None, person: PersonTexts, deleted: Deleted) -> None:
    """Remove the person's texts from every suggestion; count the suggestions changed or dropped."""
    if table is None:
        return
    t = table.c
    for row in conn.execute(select(t.id, t.state, t.examples, t.phrasings, t.question)).all():
        examples, phrasings = _lines(row.examples), _lines(row.phrasings)
        kept_examples = [x for x in examples if not person.quotes(x)]
        kept_phrasings = [x for x in phrasings if not person.quotes(x)]
        quoted_question = person.quotes(row.question)
        if kept_examples == examples and kept_phrasings == phrasings and not quoted_question:
            continue
        if row.state == "open" and not kept_examples:
            conn.execute(delete(table).where(t.id == row.id))
            deleted.add(table.name, 1)
            continue
        values: dict[str, Any] = {
            "examples": json.dumps(kept_examples, ensure_ascii=False),
            "phrasings": json.dumps(kept_phrasings, ensure_ascii=False),
        }
        if quoted_question:
            values["question"] = None
        conn.execute(update(table).where(t.id == row.id).values(**values))
        deleted.add(f"{table.name} (texts)", 1)


def purge_before(conn: Connection, table: Table | None, cutoff: float, purged: Deleted) -> None:
    """The retention purge of suggestions (see the module's docstring)."""
    if table is None:
        return
    t = table.c
    stale = (t.state == "open") & (t.last_seen < cutoff)
    purged.add(table.name, int(conn.execute(delete(table).where(stale)).rowcount or 0))
    decided = (t.state != "open") & (t.decided_at < cutoff)
    blanked = conn.execute(update(table).where(decided & (t.examples != "[]")).values(examples="[]")).rowcount
    rejected = decided & (t.state == "rejected") & ((t.phrasings != "[]") | t.question.is_not(None))
    blanked += conn.execute(update(table).where(rejected).values(phrasings="[]", question=None)).rowcount
    purged.add(f"{table.name} (texts)", int(blanked or 0))

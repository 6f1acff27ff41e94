"""Checking one turn against its expectation: every expectation not met is one `Mismatch`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.testing.case_types import ANY_VALUE, Expectation
from bot.testing.turn import TurnResult, answered_entry, describe_answer, is_abstention, is_repeat, quote_replies, show


@dataclass(frozen=True)
class Mismatch:
    what: str
    expected: str
    actual: str


def check(expect: Expectation, turn: TurnResult, previous: TurnResult | None = None) -> list[Mismatch]:
    """Every expectation the turn did not meet (`previous`: the turn before, for `understood`)."""
    found = _understanding(expect, turn.parse)
    if expect.entry is not None and answered_entry(turn) != expect.entry:
        found.append(Mismatch("knowledge entry", expect.entry, describe_answer(turn)))
    found += _dialogue(expect, turn)
    found += _replies(expect, turn)
    found += _buttons(expect, turn)
    found += _cards(expect, turn)
    found += _understood(expect, turn, previous)
    return found


def _understanding(expect: Expectation, parse: Any) -> list[Mismatch]:
    """Intent, abstention and entities."""
    found: list[Mismatch] = []
    if expect.intent is not None:
        if expect.intent == "nlu_fallback":
            ok = parse is not None and bool(parse.abstained)
        else:
            ok = parse is not None and parse.intent.name == expect.intent and not parse.abstained
        if not ok:
            found.append(Mismatch("intent", expect.intent, _intent_of(parse)))
    if expect.abstain is not None and is_abstention(parse) != expect.abstain:
        wanted = "abstain (nlu_fallback or out_of_scope)" if expect.abstain else "an in-scope intent"
        found.append(Mismatch("abstain", wanted, _intent_of(parse)))
    if expect.entities is not None:
        mismatch = _entity_mismatch(expect.entities, parse)
        if mismatch:
            found.append(mismatch)
    return found


def _dialogue(expect: Expectation, turn: TurnResult) -> list[Mismatch]:
    """Actions, slots and the active form."""
    found: list[Mismatch] = []
    for action in expect.actions_include:
        if action not in turn.actions:
            found.append(Mismatch("action", action, ", ".join(turn.actions) or "(no action)"))
    if expect.actions_exact is not None and tuple(turn.actions) != expect.actions_exact:
        found.append(
            Mismatch("actions", ", ".join(expect.actions_exact) or "(none)", ", ".join(turn.actions) or "(none)")
        )
    for name, value in expect.slots.items():
        actual = turn.slots.get(name)
        ok = actual is None if value is None else _same(value, actual)
        if not ok:
            found.append(Mismatch(f"slot {name}", show(value), show(actual)))
    if expect.checks_form and turn.form != expect.form:
        found.append(Mismatch("active form", show(expect.form), show(turn.form)))
    return found


def _replies(expect: Expectation, turn: TurnResult) -> list[Mismatch]:
    found: list[Mismatch] = []
    said = turn.said.lower()
    quoted = quote_replies(turn) or "(no reply)"
    for fragment in expect.reply_contains:
        if fragment.lower() not in said:
            found.append(Mismatch("reply contains", repr(fragment), quoted))
    if expect.reply_contains_any and not any(f.lower() in said for f in expect.reply_contains_any):
        found.append(Mismatch("reply contains one of", ", ".join(map(repr, expect.reply_contains_any)), quoted))
    for fragment in expect.reply_not_contains:
        if fragment.lower() in said:
            found.append(Mismatch("reply does not contain", repr(fragment), quoted))
    return found


def _buttons(expect: Expectation, turn: TurnResult) -> list[Mismatch]:
    titles = [str(b.title) for b in turn.buttons]
    return _shown(expect.buttons, titles, "buttons", "button", "buttons")


def _cards(expect: Expectation, turn: TurnResult) -> list[Mismatch]:
    cards = [f"{c.title} ({c.id})" for c in turn.cards]
    found = [
        Mismatch("no card contains", repr(fragment), f"{c.title} ({c.id}): {c.subtitle}")
        for fragment in expect.cards_not
        for c in turn.cards
        if fragment.lower() in f"{c.title} {c.id} {c.subtitle}".lower()
    ]
    return found + _shown(expect.cards, cards, "cards", "card", "product cards")


def _shown(expected: bool | tuple[str, ...] | None, items: list[str], what: str, one: str, noun: str) -> list[Mismatch]:
    """`buttons:` / `cards:` — true (some), false (none), or texts each found in one of `items`."""
    if expected is None:
        return []
    shown = "; ".join(items) or f"(no {what})"
    if expected is True and not items:
        return [Mismatch(what, f"some {noun}", shown)]
    if expected is False and items:
        return [Mismatch(what, f"no {noun}", shown)]
    if isinstance(expected, tuple):
        return [
            Mismatch(one, repr(fragment), shown)
            for fragment in expected
            if not any(fragment.lower() in item.lower() for item in items)
        ]
    return []


def _understood(expect: Expectation, turn: TurnResult, previous: TurnResult | None) -> list[Mismatch]:
    if expect.understood is None:
        return []
    quoted = quote_replies(turn) or "(no reply)"
    fallbacks = turn.fallback_actions
    if expect.understood and (fallbacks or is_repeat(turn, previous)):
        why = f"fallback ({', '.join(fallbacks)})" if fallbacks else "the same replies as the turn before"
        return [Mismatch("understood", "handled (no fallback, no repeat)", f"{why}: {quoted}")]
    if expect.understood is False and not fallbacks:
        return [Mismatch("understood", "a fallback or 'I don't know'", quoted)]
    return []


def _same(expected: Any, actual: Any) -> bool:
    if expected == ANY_VALUE:
        return actual is not None
    if expected == actual:
        return True
    if isinstance(expected, (str, int, float)) and isinstance(actual, (str, int, float)):
        return str(expected).strip().lower() == str(actual).strip().lower()
    return False


def _intent_of(parse: Any) -> str:
    if parse is None:
        return "(no NLU result: the message was handled before the classifier)"
    return f"{parse.intent.name} ({parse.intent.confidence:.2f})"


def _entity_mismatch(expected: Sequence[tuple[str, Any]], parse: Any) -> Mismatch | None:
    actual = [(e.entity, e.value) for e in (parse.entities if parse is not None else ())]
    unmatched = list(actual)
    missing = []
    for name, value in expected:
        hit = next((a for a in unmatched if a[0] == name and _same(value, a[1])), None)
        if hit is None:
            missing.append((name, value))
        else:
            unmatched.remove(hit)
    if not missing and not unmatched:
        return None
    return Mismatch("entities", _pairs(expected), _pairs(actual))


def _pairs(pairs: Sequence[tuple[str, Any]]) -> str:
    return ", ".join(f"{n}={show(v)}" for n, v in pairs) or "(none)"

"""Reading preferences out of a message, and what "forget …" is about. Pure functions over a `Parse`.

"remember that I'm an M" → `{"size_tops": "M"}`; "my shoe size is 42 and I shop in Berlin" →
`{"size_shoes": "42", "shop": "berlin"}`; "I like a slim fit" → `{"fit": "slim"}`. A size goes to the
group the words around it name (shoes, bottoms), else to tops, as `bot.products.ranking.size_group` sorts
products. "forget my shoe size" → `["size_shoes"]`; "forget me" → everything; "forget that" → the last
thing remembered.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.customers.profile import PREFERENCES, SIZE_PREFERENCES
from bot.types import Entity, Parse

SHOPS = frozenset({"paris", "berlin", "london"})
"""Shops a customer can call theirs (the `shop` entity's values; customer service is not one)."""
_SHOES = re.compile(r"\b(shoes?|boots?|sneakers?|trainers?|sandals?|loafers?|heels|flats|espadrilles|feet)\b", re.I)
_BOTTOMS = re.compile(r"\b(jeans|trousers|chinos|shorts|skirts?|pants|waist|bottoms?|leggings)\b", re.I)
_TOPS = re.compile(
    r"\b(tops?|shirts?|blouses?|sweaters?|jumpers?|knitwear|coats?|jackets?|dress(es)?|t-shirts?)\b", re.I
)
_FIT = re.compile(r"\b(slim|skinny|regular|relaxed|loose|tailored|straight|oversized?)[\s-]*(?:fit|fits|cut)\b", re.I)
_OVERSIZED = re.compile(r"\boversized?\b", re.I)
_FIT_VALUES = {"skinny": "slim", "loose": "relaxed", "oversize": "oversized", "straight": "regular"}
_CLAUSE = re.compile(r"\s*(?:,|;|\band\b|\bbut\b|\balso\b)\s*", re.I)
_ALL = re.compile(r"\b(me|everything|all|anything|my data|my profile|about me|whole)\b|\b(alles|mich|tout|moi)\b", re.I)
_ITEM_WORDS = (
    ("shop", re.compile(r"\b(shops?|stores?|boutique|location)\b", re.I)),
    ("fit", re.compile(r"\bfit\b", re.I)),
    ("language", re.compile(r"\blanguages?\b", re.I)),
    ("products", re.compile(r"\b(products?|items?|looked at|viewed|recommend\w*)\b", re.I)),
    ("conversations", re.compile(r"\b(conversations?|chats?|history)\b", re.I)),
)
_SIZE_WORD = re.compile(r"\bsizes?\b", re.I)
_FORGET_THAT = re.compile(
    r"^\s*(?:please\s+|pls\s+|ok\s+|actually\s+)?(?:forget|delete|remove|erase)\s+(?:that|it|this)\b", re.I
)


@dataclass(frozen=True)
class ForgetScope:
    """What the customer wants forgotten: `all`, the named `items`, or the `last` thing remembered."""

    kind: Literal["all", "items", "last"]
    items: tuple[str, ...] = ()


def size_group(text: str) -> str:
    """The size group the words of `text` name: shoes, bottoms, else tops."""
    if _SHOES.search(text):
        return "shoes"
    if _BOTTOMS.search(text):
        return "bottoms"
    return "tops"


def _clause(text: str, entity: Entity) -> str:
    """The part of `text` (between commas and "and"s) the entity sits in."""
    start = 0
    for separator in _CLAUSE.finditer(text):
        if separator.start() >= entity.end:
            return text[start : separator.start()]
        start = separator.end()
    return text[start:]


def sizes_of(parse: Parse) -> dict[str, str]:
    """Size preferences named in the message: preference name -> size."""
    found: dict[str, str] = {}
    sizes = [e for e in parse.entities if e.entity == "size" and isinstance(e.value, str) and e.value != "one size"]
    for entity in sizes:
        clause = _clause(parse.text, entity)
        group = size_group(clause)
        if group == "tops" and not _TOPS.search(clause) and len(sizes) == 1:
            group = size_group(parse.text)  # "I'm a 42 — in shoes I mean"
        found.setdefault(SIZE_PREFERENCES[group], entity.value.upper())
    return found


def fit_of(text: str) -> str | None:
    match = _FIT.search(text)
    if match:
        word = match.group(1).lower()
        return _FIT_VALUES.get(word, word)
    return "oversized" if _OVERSIZED.search(text) else None


def shop_of(parse: Parse) -> str | None:
    shops = [str(v).lower() for v in parse.entity_values("shop") if str(v).lower() in SHOPS]
    return shops[0] if shops else None


def preferences_of(parse: Parse) -> dict[str, str]:
    """Every preference the message names (shop, sizes, fit), for "remember that …"."""
    found = dict(sizes_of(parse))
    shop = shop_of(parse)
    if shop:
        found["shop"] = shop
    fit = fit_of(parse.text)
    if fit:
        found["fit"] = fit
    return {name: found[name] for name in PREFERENCES if name in found}


def forget_scope(parse: Parse) -> ForgetScope:
    """What "forget …" is about: named items first ("forget my shoe size"), then everything ("forget
    me"), else the last thing remembered ("forget that")."""
    text = parse.text
    items = [name for name, pattern in _ITEM_WORDS if pattern.search(text)]
    if shop_of(parse) and "shop" not in items:
        items.insert(0, "shop")
    named_sizes = sizes_of(parse)
    if named_sizes:
        items += list(named_sizes)
    elif _SIZE_WORD.search(text):
        groups = [
            g for g, pattern in (("shoes", _SHOES), ("bottoms", _BOTTOMS), ("tops", _TOPS)) if pattern.search(text)
        ]
        items += [SIZE_PREFERENCES[g] for g in groups] or list(SIZE_PREFERENCES.values())
    if items:
        return ForgetScope("items", tuple(dict.fromkeys(items)))
    if _ALL.search(text):
        return ForgetScope("all")
    return ForgetScope("last")


def says_forget_that(text: str) -> bool:
    """ "forget that", "delete it": what the stop intent also covers ("forget it" = never mind)."""
    return _FORGET_THAT.match(text) is not None


def ordered(names: Sequence[str]) -> list[str]:
    """Preference names in `PREFERENCES` order, then the others in theirs."""
    known = [n for n in PREFERENCES if n in names]
    return known + [n for n in names if n not in PREFERENCES]

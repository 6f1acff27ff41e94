"""`ProductAdvisor`: a shopping message in, what to say and which products to show out.

It answers the five shopping intents over a `ProductIndex`: search, availability ("the wool coat in M in
Berlin?"), pairing ("what goes with black jeans?"), comparing two products, and refining the previous
result ("cheaper ones", "in blue?", "the second one", "show me more"). It returns `ProductAnswer`s: the
name of the response to say, the values it is filled with and the products to show as cards. Wording
lives in the responses file; this module only decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from bot import intent_names
from bot.products.catalogue import LOCATIONS, Product
from bot.products.index import ProductIndex
from bot.products.pairing import PairingTable, goes_with
from bot.products.query import ProductQuery
from bot.products.ranking import Ranking, ShopperPreferences, rank, similar

AVAILABILITY = intent_names.PRODUCT_AVAILABILITY
PAIRING = intent_names.PRODUCT_PAIRING
COMPARE = intent_names.PRODUCT_COMPARE
REFINE = intent_names.PRODUCT_REFINE
PAGE = 5
_WORD = re.compile(r"[a-z0-9][a-z0-9-]*")
_SPLIT = re.compile(r"\b(?:and|vs\.?|versus|or|with|from|against|than)\b|,|/", re.IGNORECASE)
_PAIR_JOIN = re.compile(r"\b(?:with|over|under|for|match(?:es)?|suits?)\b", re.IGNORECASE)
"""The word between what is wanted and the piece it should go with ("a scarf to go WITH the wool coat")."""
UNSAID_NAME_WORD = 0.25
"""Taken off a product's name match per word of its name the message does not say."""
_PIECE_ENTITIES = frozenset({"category", "material", "sku"})
"""Entities that name the piece a pairing question is about."""
_STOP = frozenset(
    {"the", "a", "an", "my", "your", "this", "that", "these", "those", "of", "in", "on", "for", "with", "to"}
    | {"and", "or", "vs", "is", "are", "what", "whats", "what's", "which", "difference", "between", "compare"}
    | {"better", "warmer", "one", "ones"}
)


@dataclass(frozen=True)
class ShoppingContext:
    """What a conversation remembers of its shopping: the last search, what was shown, the product in focus."""

    query: ProductQuery | None = None
    embedding: tuple[float, ...] = ()
    shown: tuple[str, ...] = ()
    offset: int = 0
    focus: str | None = None
    stock_asked: bool = False
    """the last answer was about the stock of the product in focus ("where can I get one in M?" is too)"""

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query.to_json() if self.query else None,
            "embedding": np.round(np.asarray(self.embedding, dtype=np.float64), 5).tolist(),
            "shown": list(self.shown),
            "offset": self.offset,
            "focus": self.focus,
            "stock_asked": self.stock_asked,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ShoppingContext:
        if not data:
            return cls()
        query = data.get("query")
        return cls(
            query=ProductQuery.from_json(query) if isinstance(query, Mapping) else None,
            embedding=tuple(float(v) for v in data.get("embedding") or ()),
            shown=tuple(str(s) for s in data.get("shown") or ()),
            offset=int(data.get("offset") or 0),
            focus=data.get("focus"),
            stock_asked=bool(data.get("stock_asked")),
        )

    def vector(self) -> np.ndarray | None:
        return np.asarray(self.embedding, dtype=np.float32) if self.embedding else None


@dataclass(frozen=True)
class ProductAnswer:
    response: str
    values: Mapping[str, Any] = field(default_factory=dict)
    products: tuple[Product, ...] = ()


@dataclass(frozen=True)
class ProductRequest:
    intent: str
    text: str
    entities: Mapping[str, Sequence[Any]]
    embedding: np.ndarray | None = None
    context: ShoppingContext = field(default_factory=ShoppingContext)
    preferences: ShopperPreferences | None = None
    spans: tuple[tuple[str, Any, int], ...] = ()
    """(entity, value, start) of the message's entities, where the order in the text matters
    ("which scarf goes with the wool coat": the scarf is wanted, the coat is the anchor)"""


@dataclass
class ProductOutcome:
    answers: list[ProductAnswer] = field(default_factory=list)
    context: ShoppingContext = field(default_factory=ShoppingContext)

    def say(self, response: str, values: Mapping[str, Any] | None = None, products: Iterable[Product] = ()) -> None:
        self.answers.append(ProductAnswer(response, dict(values or {}), tuple(products)))


def product_values(product: Product, shop: str | None = None) -> dict[str, Any]:
    """Template values of one product."""
    return {
        "sku": product.sku,
        "name": product.name,
        "price": f"{product.price:.0f}" if product.price.is_integer() else f"{product.price:.2f}",
        "colours": list(product.colours),
        "materials": list(product.materials),
        "tags": list(product.tags),
        "description": product.description,
        "sizes_in_stock": list(product.sizes_in_stock(shop)),
        "kind": product.kind,
        "category": product.category,
    }


class ProductAdvisor:
    def __init__(self, index: ProductIndex, pairings: PairingTable) -> None:
        self.index = index
        self.pairings = pairings

    @property
    def tag_words(self) -> frozenset[str]:
        """The words of the catalogue's tags ("sustainable", "office", "wide", "leg"), lower case."""
        return self.index.tag_words

    def answer(self, request: ProductRequest) -> ProductOutcome:
        request = self._spelled(request)
        outcome = ProductOutcome(context=request.context)
        unknown = [
            s for s in ProductQuery.from_entities(request.text, request.entities).skus if not self.index.product(s)
        ]
        if unknown:  # "is KN-999 in stock?": say so rather than show anything
            outcome.say("utter_product_unknown_sku", {"sku": unknown[0]})
            return outcome
        handler = {
            AVAILABILITY: self._availability,
            PAIRING: self._pairing,
            COMPARE: self._compare,
            REFINE: self._refine,
        }.get(request.intent, self._search)
        handler(request, outcome)
        return outcome

    def _spelled(self, request: ProductRequest) -> ProductRequest:
        """The request with the catalogue words it misspells ("linnen", "dres") as entities too."""
        spelled = [
            (entity, term, start)
            for entity, term, start in self.index.spelling.entities(request.text)
            if term not in {str(v).lower() for v in request.entities.get(entity, ())}
        ]
        if not spelled:
            return request
        entities = {name: list(values) for name, values in request.entities.items()}
        for entity, term, _ in spelled:
            entities.setdefault(entity, []).append(term)
        spans = tuple(sorted((*request.spans, *spelled), key=lambda span: span[2]))
        return replace(request, entities=entities, spans=spans)

    # -- search ----------------------------------------------------------------------------------
    def _search(self, request: ProductRequest, outcome: ProductOutcome) -> None:
        query = ProductQuery.from_entities(request.text, request.entities)
        if query.skus and not query.named() and self.index.product(query.skus[0]):
            self._detail(self.index.product(query.skus[0]), outcome)  # type: ignore[arg-type]
            return
        self._show(query, request.embedding, outcome, request.preferences)

    def _show(
        self,
        query: ProductQuery,
        embedding: np.ndarray | None,
        outcome: ProductOutcome,
        preferences: ShopperPreferences | None,
        *,
        offset: int = 0,
        ranking: Ranking | None = None,
    ) -> None:
        """Say the page of `query`'s products from `offset` (`ranking`, when the caller already ranked them)."""
        problem = query.price_problem
        if problem:
            outcome.say("utter_product_price_problem", {"problem": problem, **query.describe()})
        if ranking is None:
            ranking = rank(self.index, query, embedding, offset=offset, limit=PAGE, preferences=preferences)
        vector = tuple(float(v) for v in embedding) if embedding is not None else ()
        outcome.context = ShoppingContext(query.sane_prices(), vector, tuple(p.sku for p in ranking.products), offset)
        self._say_ranking(query, ranking, outcome)

    def _say_ranking(self, asked: ProductQuery, ranking: Ranking, outcome: ProductOutcome) -> None:
        values = {**asked.sane_prices().describe(), "count": len(ranking.products), "total": ranking.total}
        if not ranking.products:
            outcome.say("utter_product_none" if ranking.offset == 0 else "utter_product_no_more", values)
        elif ranking.relaxed:
            closest = product_values(ranking.products[0])
            outcome.say(
                "utter_product_relaxed", {**values, "dropped": ranking.relaxed[0], "closest": closest}, ranking.products
            )
        elif ranking.offset:
            outcome.say("utter_product_more", values, ranking.products)
        else:
            outcome.say("utter_product_results", values, ranking.products)

    # -- refine ----------------------------------------------------------------------------------
    def _refine(self, request: ProductRequest, outcome: ProductOutcome) -> None:
        context = request.context
        newer = ProductQuery.from_entities(request.text, request.entities)
        refinements = {str(v).lower() for v in request.entities.get("refinement", ())}
        ordinals = [v for v in request.entities.get("ordinal", ()) if _int(v) is not None]
        if ordinals and context.shown:
            n = _int(ordinals[0]) or 1
            sku = context.shown[-1] if n < 0 else context.shown[min(max(n, 1), len(context.shown)) - 1]
            product = self.index.product(sku)
            if product is not None:
                self._detail(product, outcome)
                return
        if context.stock_asked and context.focus and not refinements and _only_where(newer):
            self._availability(request, outcome)  # "so where can i get one in M?" after "not in Berlin"
            return
        anchor = self._anchor(newer, context)
        if "similar" in refinements and anchor is not None:
            ranking = similar(self.index, anchor, limit=PAGE)
            outcome.context = replace(
                context, shown=tuple(p.sku for p in ranking.products), offset=0, focus=anchor.sku, stock_asked=False
            )
            outcome.say("utter_product_similar", product_values(anchor), ranking.products)
            return
        if context.query is None:
            if newer.named() or newer.skus:
                self._search(request, outcome)
            else:
                outcome.say("utter_product_no_context")
            return
        query = context.query.merge(newer)
        seen = [p for p in (self.index.product(s) for s in context.shown) if p is not None]
        if "cheaper" in refinements and seen:
            query = replace(query, price_max=min(p.price for p in seen), price_min=None, price_strict=True)
        if "more_expensive" in refinements and seen:
            query = replace(query, price_min=max(p.price for p in seen), price_max=None, price_strict=True)
        for word, tag in (("warmer", "warm winter"), ("lighter", "lightweight summer")):
            if word in refinements:
                query = replace(query, text=f"{query.text} {tag}")
        remembered = context.vector()
        embedding = remembered if remembered is not None else request.embedding
        if "more" in refinements and not newer.named():
            self._show(query, embedding, outcome, request.preferences, offset=context.offset + len(context.shown))
            return
        # "cheaper ones" answers with other products than those just shown, even when a constraint has to be
        # dropped; when the catalogue has no other at all, it says the cheapest (dearest) shown is the end
        shown_again = tuple(p.sku for p in seen) if refinements & {"cheaper", "more_expensive"} else ()
        ranking = rank(self.index, query, embedding, limit=PAGE, exclude=shown_again, preferences=request.preferences)
        if shown_again and not ranking.products:
            cheaper = "cheaper" in refinements
            end = min(seen, key=lambda p: p.price) if cheaper else max(seen, key=lambda p: p.price)
            values = {**context.query.describe(), "closest": product_values(end), "count": 1, "total": 1}
            outcome.say(
                "utter_product_price_end", {**values, "direction": "cheaper" if cheaper else "more_expensive"}, [end]
            )
            outcome.context = replace(context, shown=(end.sku,), offset=0, focus=end.sku)
            return
        self._show(query, embedding, outcome, request.preferences, ranking=ranking)

    def _anchor(self, query: ProductQuery, context: ShoppingContext) -> Product | None:
        for sku in (*query.skus, context.focus, *context.shown[:1]):
            product = self.index.product(sku) if sku else None
            if product is not None:
                return product
        return None

    def _detail(self, product: Product, outcome: ProductOutcome) -> None:
        outcome.context = replace(outcome.context, focus=product.sku, stock_asked=False)
        outcome.say("utter_product_detail", product_values(product), [product])

    # -- availability ----------------------------------------------------------------------------
    def _availability(self, request: ProductRequest, outcome: ProductOutcome) -> None:
        query = ProductQuery.from_entities(request.text, request.entities)
        product = self.find(request, query)
        if product is None:
            self._show(query, request.embedding, outcome, request.preferences)
            return
        sizes = sorted(query.sizes)
        size = sizes[0] if sizes else None
        outcome.context = replace(outcome.context, focus=product.sku, stock_asked=True)
        values = {**product_values(product, query.shop), "size": size, "shop": query.shop}
        if size is not None and size.upper() not in {s.upper() for s in product.sizes}:
            outcome.say("utter_product_size_unknown", {**values, "sizes": list(product.sizes)}, [product])
            return
        places = [loc for loc in LOCATIONS if product.units(size, loc) > 0]
        values["places"] = places
        if query.shop:
            here = product.units(size, query.shop) > 0
            outcome.say("utter_product_in_stock" if here else "utter_product_not_in_stock", values, [product])
        else:
            outcome.say("utter_product_stock" if places else "utter_product_sold_out", values, [product])

    def find(self, request: ProductRequest, query: ProductQuery) -> Product | None:
        """The one product the message names: a SKU, else the best name match, else the product in focus."""
        for sku in query.skus:
            product = self.index.product(sku)
            if product is not None:
                return product
        named = self._by_name(request.text, query, request.embedding)
        if named is not None:
            return named
        return self._anchor(ProductQuery(), request.context) if not query.kinds else None

    def _by_name(self, text: str, query: ProductQuery, embedding: np.ndarray | None) -> Product | None:
        named = self._ranked_by_name(text, query, embedding)
        return named[0] if named else None

    def _ranked_by_name(self, text: str, query: ProductQuery, embedding: np.ndarray | None) -> list[Product]:
        """Products whose name, kind, materials or colours share words with `text`, best first."""
        return [product for _, product in self._scored_by_name(text, query, embedding)]

    def _scored_by_name(
        self, text: str, query: ProductQuery, embedding: np.ndarray | None
    ) -> list[tuple[float, Product]]:
        """(score, product) of the products whose name, kind, materials or colours share words with
        `text`, best first; the words of the description count a little ("the long trench")."""
        words = {w for w in _WORD.findall(text.lower()) if w not in _STOP}
        if not words:
            return []
        keep = self.index.mask(ProductQuery(kinds=query.kinds, colours=query.colours, materials=query.materials))
        semantic = self.index.similarity(embedding)
        lexical = self.index.lexical.scores(text)
        scored = []
        for i in np.flatnonzero(keep):
            product = self.index.products[i]
            overlap = len(words & _product_words(product))
            if overlap:
                unsaid = len(_name_words(product) - words)  # "the cashmere sweater" is not the V-neck one
                score = overlap - UNSAID_NAME_WORD * unsaid + 0.5 * float(semantic[i]) + 0.5 * float(lexical[i])
                scored.append((score, int(i)))
        scored.sort(key=lambda item: (-item[0], item[1]))
        return [(score, self.index.products[i]) for score, i in scored]

    # -- pairing ---------------------------------------------------------------------------------
    def _pairing(self, request: ProductRequest, outcome: ProductOutcome) -> None:
        wanted, anchor_request = self._pairing_parts(request)
        query = ProductQuery.from_entities(anchor_request.text, anchor_request.entities)
        anchor = self.find(anchor_request, query)
        if anchor is None and query.named():
            ranking = rank(self.index, query, request.embedding, limit=1)
            anchor = ranking.products[0] if ranking.products else None
        if anchor is None:
            outcome.say("utter_product_pairing_which")
            return
        shop = ProductQuery.from_entities(request.text, request.entities).shop
        matches = goes_with(self.index, self.pairings, anchor, limit=PAGE, shop=shop, kinds=wanted)
        outcome.context = replace(
            outcome.context, shown=tuple(p.sku for p in matches), offset=0, focus=anchor.sku, stock_asked=False
        )
        if not matches:
            outcome.say("utter_product_pairing_none", product_values(anchor))
            return
        outcome.say("utter_product_pairing", product_values(anchor), matches)

    def _pairing_parts(self, request: ProductRequest) -> tuple[frozenset[str], ProductRequest]:
        """What kind is wanted and the request about the piece to match: "which scarf goes with the wool
        coat" -> ({scarf}, "the wool coat"). The piece follows the first joining word that a product word
        follows ("what else do I need with the down parka for a cold trip"); without one ("what should I
        wear with it?" after naming the skirt), nothing is wanted in particular and the whole message
        names the piece."""
        named = [start for e, _, start in request.spans if e in _PIECE_ENTITIES]
        cuts = [m.end() for m in _PAIR_JOIN.finditer(request.text) if any(start >= m.end() for start in named)]
        if not cuts:
            return frozenset(), request
        cut = cuts[0]
        wanted = frozenset(str(v).lower() for e, v, start in request.spans if e == "category" and start < cut)
        entities: dict[str, list[Any]] = {}
        for e, v, start in request.spans:
            if start >= cut or e not in ("category", "colour", "material"):
                entities.setdefault(e, []).append(v)
        return wanted, replace(request, text=request.text[cut:], entities=entities)

    # -- compare ---------------------------------------------------------------------------------
    def _compare(self, request: ProductRequest, outcome: ProductOutcome) -> None:
        query = ProductQuery.from_entities(request.text, request.entities)
        products = [p for p in (self.index.product(s) for s in query.skus) if p is not None]
        if len(products) < 2:
            products = self._two_named(request.text, query, request.embedding, products)
        if len(products) < 2:
            shown = [p for p in (self.index.product(s) for s in request.context.shown[:2]) if p is not None]
            products = (products + [p for p in shown if p not in products])[:2]
        if len(products) < 2:
            outcome.say("utter_product_compare_which")
            return
        first, second = products[:2]
        outcome.context = replace(
            outcome.context, shown=(first.sku, second.sku), offset=0, focus=first.sku, stock_asked=False
        )
        outcome.say(
            "utter_product_compare", {"first": product_values(first), "second": product_values(second)}, [first, second]
        )

    def _two_named(
        self, text: str, query: ProductQuery, embedding: np.ndarray | None, found: list[Product]
    ) -> list[Product]:
        """Two products named in `text`, one per part ("the merino | the cashmere sweater"); a part naming
        no kind ("the wool-blend ones") looks among the kind of the other part's product."""
        parts = [p for p in _SPLIT.split(text) if p.strip()]
        if not found and query.kinds:
            pair = self._best_pair([self._scored_by_name(part, query, embedding)[:PAGE] for part in parts])
            if pair:
                return pair
        chosen = list(found)
        for part in parts:
            kinds = query.kinds or (frozenset({chosen[0].kind}) if chosen else frozenset())
            for product in self._ranked_by_name(part, ProductQuery(kinds=kinds), embedding):
                if product not in chosen:
                    chosen.append(product)
                    break
        return chosen[:2]

    @staticmethod
    def _best_pair(candidates: Sequence[Sequence[tuple[float, Product]]]) -> list[Product]:
        """Two different products from two different parts with the highest score together, in the parts'
        order ("the long trench | the short one": not the short trench twice)."""
        best: tuple[float, list[Product]] = (0.0, [])
        for a, first in enumerate(candidates):
            for second in candidates[a + 1 :]:
                for score_1, product_1 in first:
                    for score_2, product_2 in second:
                        if product_1 is not product_2 and score_1 + score_2 > best[0]:
                            best = (score_1 + score_2, [product_1, product_2])
        return best[1]


def _name_words(product: Product) -> set[str]:
    return set(_WORD.findall(product.name.lower())) - _STOP


def _product_words(product: Product) -> set[str]:
    words = set(_WORD.findall(f"{product.name} {product.kind}".lower()))
    words |= {m.lower() for m in product.materials} | {c.lower() for c in product.colours}
    return words - _STOP


def _only_where(query: ProductQuery) -> bool:
    """The query names at most a size and a shop: a question about where the product in focus is."""
    return (
        not (query.kinds or query.colours or query.materials or query.skus)
        and query.price_min is None
        and (query.price_max is None)
    )


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None

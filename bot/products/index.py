"""`ProductIndex`: the catalogue as arrays, so filtering and scoring a message costs well under a millisecond.

Products are embedded once through the shared encoder (its on-disk cache is keyed by content hash, so an
unchanged product is never embedded again and a catalogue change embeds only what changed). Hard filters
are boolean masks over precomputed arrays (price, kind, category, colour, material, stock per size and
location); the semantic score is one matrix-vector product with the message's one embedding.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bot.encoding import Encoder
from bot.products.catalogue import LOCATIONS, Catalogue, Product
from bot.products.lexical import LexicalIndex
from bot.products.query import ProductQuery
from bot.products.spelling import CatalogueSpelling


def catalogue_fingerprint(products: Sequence[Product]) -> str:
    """A content hash of the catalogue (any change to any product changes it)."""
    digest = hashlib.sha256()
    for p in products:
        digest.update(repr(p).encode())
    return digest.hexdigest()


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


@dataclass
class _Vocabulary:
    names: dict[str, int]

    @classmethod
    def of(cls, values: Iterable[str]) -> _Vocabulary:
        return cls({v: i for i, v in enumerate(sorted(set(values)))})

    def matrix(self, rows: Sequence[Iterable[str]]) -> np.ndarray:
        out = np.zeros((len(rows), max(len(self.names), 1)), dtype=bool)
        for r, values in enumerate(rows):
            for v in values:
                column = self.names.get(v)
                if column is not None:
                    out[r, column] = True
        return out


class ProductIndex:
    """The catalogue, embedded and laid out as arrays. Rebuilt when the catalogue changes (`refresh`)."""

    def __init__(
        self, catalogue: Catalogue, encoder: Encoder, colour_families: Mapping[str, str] | None = None
    ) -> None:
        self.catalogue = catalogue
        self.encoder = encoder
        self.colour_families = {k.lower(): v.lower() for k, v in (colour_families or {}).items()}
        self.fingerprint = ""
        self.products: list[Product] = []
        self.refresh()

    # -- building --------------------------------------------------------------------------------
    def refresh(self) -> bool:
        """Re-read the catalogue; rebuild only when it changed. True when it was rebuilt."""
        products = list(self.catalogue.products())
        fingerprint = catalogue_fingerprint(products)
        if fingerprint == self.fingerprint:
            return False
        self._build(products)
        self.fingerprint = fingerprint
        return True

    def _build(self, products: list[Product]) -> None:
        self.products = products
        self.by_sku = {p.sku.upper(): i for i, p in enumerate(products)}
        texts = [p.text() for p in products]
        self.vectors = (
            np.asarray(self.encoder.encode(texts), dtype=np.float32)
            if texts
            else np.zeros((0, self.encoder.dim), dtype=np.float32)
        )
        self.prices = np.array([p.price for p in products], dtype=np.float64)
        self.kind_vocab = _Vocabulary.of(t for p in products for t in self._kind_terms(p))
        self.kind_matrix = self.kind_vocab.matrix([self._kind_terms(p) for p in products])
        self.colour_vocab = _Vocabulary.of(t for p in products for t in self._colour_terms(p))
        self.colour_matrix = self.colour_vocab.matrix([self._colour_terms(p) for p in products])
        self.material_vocab = _Vocabulary.of(t for p in products for t in self._material_terms(p))
        self.material_matrix = self.material_vocab.matrix([self._material_terms(p) for p in products])
        self.tag_vocab = _Vocabulary.of(t.lower() for p in products for t in p.tags)
        self.tag_words = frozenset(w for tag in self.tag_vocab.names for w in re.findall(r"[^\W\d_]+", tag))
        self.tag_matrix = self.tag_vocab.matrix([[t.lower() for t in p.tags] for p in products])
        self.categories = np.array([p.category for p in products], dtype=object)
        self.lexical = LexicalIndex(products)
        self.spelling = CatalogueSpelling(
            {
                "category": self.kind_vocab.names,
                "material": self.material_vocab.names,
                "colour": self.colour_vocab.names,
            },
            known=self.tag_vocab.names,
        )
        sizes = sorted({s.upper() for p in products for s in p.sizes})
        self.size_index = {s: i for i, s in enumerate(sizes)}
        self.stock = np.zeros((max(len(sizes), 1), len(products), len(LOCATIONS)), dtype=np.int32)
        for r, p in enumerate(products):
            for c, location in enumerate(LOCATIONS):
                for size, units in p.stock.get(location, {}).items():
                    s = self.size_index.get(size.upper())
                    if s is not None:
                        self.stock[s, r, c] = units
        self.units = self.stock.sum(axis=0)  # products x locations
        self.available = self.units.sum(axis=1) > 0  # in stock somewhere

    def _kind_terms(self, p: Product) -> set[str]:
        """What a customer may call this product: its kind, the kind's last word ("trench coat" -> coat)
        and its category ("coats": coats and jackets). A parka is not a "coat", a blazer not a "jacket"."""
        kind = p.kind.lower()
        return {kind, kind.split()[-1], p.category.lower()}

    @staticmethod
    def _material_terms(p: Product) -> set[str]:
        """A material and its last word ("recycled wool" is a wool; merino and cashmere are their own)."""
        return {t for m in p.materials for t in (m.lower(), m.lower().split()[-1])}

    def _colour_terms(self, p: Product) -> set[str]:
        """A colour and its family ("navy" is a blue), and the colour's last word ("light blue" -> blue)."""
        terms = set()
        for colour in p.colours:
            c = colour.lower()
            terms |= {c, c.split()[-1]}
            family = self.colour_families.get(c)
            if family:
                terms.add(family)
        return terms

    # -- querying --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.products)

    def product(self, sku: str) -> Product | None:
        i = self.by_sku.get(sku.strip().upper())
        return None if i is None else self.products[i]

    def position(self, sku: str) -> int | None:
        return self.by_sku.get(sku.strip().upper())

    def known(self, constraint: str, values: Iterable[str]) -> set[str]:
        """The values of `constraint` ("kinds", "colours", "materials", "sizes") the catalogue knows."""
        vocab = {
            "kinds": self.kind_vocab.names,
            "colours": self.colour_vocab.names,
            "materials": self.material_vocab.names,
            "sizes": self.size_index,
        }[constraint]
        return {v for v in values if (v.upper() if constraint == "sizes" else self._term(v)) in vocab}

    @staticmethod
    def _term(value: str) -> str:
        return value.strip().lower()

    def _any(
        self, matrix: np.ndarray, vocab: _Vocabulary, values: Iterable[str], *, singular: bool = False
    ) -> np.ndarray:
        columns = []
        for v in values:
            term = self._term(v)
            column = vocab.names.get(term)
            if column is None and singular:
                column = vocab.names.get(_singular(term))
            if column is not None:
                columns.append(column)
        if not columns:
            return np.zeros(len(self.products), dtype=bool)
        return np.asarray(matrix[:, columns].any(axis=1), dtype=bool)

    def in_stock(self, sizes: Iterable[str], shop: str | None) -> np.ndarray:
        """Products holding at least one unit of any of `sizes` (any size when empty) at `shop` (anywhere when None)."""
        columns = [LOCATIONS.index(shop)] if shop in LOCATIONS else list(range(len(LOCATIONS)))
        size_rows = [self.size_index[s.upper()] for s in sizes if s.upper() in self.size_index]
        if sizes and not size_rows:
            return np.zeros(len(self.products), dtype=bool)
        if not sizes:
            result: np.ndarray = self.units[:, columns].sum(axis=1) > 0
            return result
        held = self.stock[size_rows][:, :, columns].sum(axis=(0, 2))
        mask: np.ndarray = held > 0
        return mask

    def mask(self, query: ProductQuery) -> np.ndarray:
        """Products meeting every hard constraint of `query`."""
        keep: np.ndarray = np.ones(len(self.products), dtype=bool)
        if query.kinds:
            keep &= self._any(self.kind_matrix, self.kind_vocab, query.kinds, singular=True)
        if query.colours:
            keep &= self._any(self.colour_matrix, self.colour_vocab, query.colours)
        if query.materials:
            keep &= self._any(self.material_matrix, self.material_vocab, query.materials)
        if query.price_min is not None:
            keep &= self.prices > query.price_min if query.price_strict else self.prices >= query.price_min
        if query.price_max is not None:
            keep &= self.prices < query.price_max if query.price_strict else self.prices <= query.price_max
        if query.sizes or query.shop:
            keep &= self.in_stock(query.sizes, query.shop)
        return keep

    def tag_hits(self, words: Iterable[str]) -> np.ndarray:
        """How many of each product's tags are among `words`."""
        columns = [self.tag_vocab.names[w] for w in words if w in self.tag_vocab.names]
        if not columns:
            return np.zeros(len(self.products), dtype=np.float32)
        hits: np.ndarray = self.tag_matrix[:, columns].sum(axis=1).astype(np.float32)
        return hits

    def similarity(self, embedding: np.ndarray | None) -> np.ndarray:
        """Cosine similarity of every product to the message (zeros without an embedding)."""
        if embedding is None or not len(self.products):
            return np.zeros(len(self.products), dtype=np.float32)
        vector = np.asarray(embedding, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self.vectors.shape[1]:
            return np.zeros(len(self.products), dtype=np.float32)
        scores: np.ndarray = self.vectors @ vector
        return scores

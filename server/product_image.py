"""The product images the project draws: a flat silhouette per kind of garment, filled with the product's
first colour, as SVG (`GET /products/{sku}/image.svg`). Nothing is downloaded and no file is stored.

    shape_of(product)                 "coat", "sweater", "shirt", "trousers", "dress", "shoe", "bag",
                                      "scarf" or "generic", from the product's kind, else its category
    ColourTable.load(path).fill(name) "#1f2a44" for "navy"; a name's words from the last; else neutral
    product_svg(product, colours)     the SVG text, rendered from `server/templates/product_image.svg`
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot import errors
from bot.products.catalogue import Product
from server.routes.pages import STATIC_DIR, templates

COLOURS_FILE = STATIC_DIR / "colours.json"
IMAGE_TEMPLATE = "product_image.svg"
SHAPES = ("coat", "sweater", "shirt", "trousers", "dress", "shoe", "bag", "scarf", "generic")
_KIND_WORDS = {
    "coat": "coat overcoat jacket parka blazer trench anorak gilet puffer raincoat peacoat",
    "sweater": "sweater jumper cardigan pullover hoodie sweatshirt knit crew-neck crewneck turtleneck rollneck",
    "shirt": "shirt overshirt blouse tee t-shirt top polo",
    "trousers": "trousers trouser jeans chinos pants shorts joggers leggings",
    "dress": "dress skirt jumpsuit",
    "shoe": "shoe sneaker trainer boot loafer sandal heel mule derby derbies brogue flat",
    "bag": "bag tote backpack clutch wallet purse satchel crossbody",
    "scarf": "scarf scarves shawl stole snood",
}
KIND_SHAPES: Mapping[str, str] = {word: shape for shape, words in _KIND_WORDS.items() for word in words.split()}
CATEGORY_SHAPES: Mapping[str, str] = {
    "coats": "coat",
    "knitwear": "sweater",
    "shirts": "shirt",
    "trousers": "trousers",
    "dresses": "dress",
    "shoes": "shoe",
    "accessories": "generic",
}
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def shape_of(product: Product) -> str:
    """The silhouette for the product: its kind's words from the last ("wool coat" → coat, plurals too),
    else its category's, else "generic"."""
    kind = product.kind.strip().lower()
    if kind in KIND_SHAPES:
        return KIND_SHAPES[kind]
    for word in reversed(re.split(r"[^a-z-]+", kind)):
        for candidate in (word, word.removesuffix("s"), word.removesuffix("es")):
            if candidate in KIND_SHAPES:
                return KIND_SHAPES[candidate]
    return CATEGORY_SHAPES.get(product.category.strip().lower(), "generic")


@dataclass(frozen=True)
class ColourTable:
    """Colour name (lower case) → `#rrggbb`, and the neutral fill for names it does not know."""

    colours: Mapping[str, str]
    neutral: str

    @classmethod
    def load(cls, path: Path = COLOURS_FILE) -> ColourTable:
        """The table in `path`, read again when the file changes. Raises `bot.errors.ConfigError` naming
        the file, the entry and the fix when it is not valid."""
        return _load(path, path.stat().st_mtime_ns)

    def fill(self, name: str | None) -> str:
        key = " ".join((name or "").lower().split())
        if key in self.colours:
            return self.colours[key]
        for word in reversed(key.split(" ")):
            if word in self.colours:
                return self.colours[word]
        return self.neutral


@lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int) -> ColourTable:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise errors.ConfigError(f"{path}:{e.lineno}: not valid JSON ({e.msg}) — fix the syntax there") from e
    colours = data.get("colours") if isinstance(data, dict) else None
    if not isinstance(colours, dict):
        raise errors.ConfigError(f'{path}: no "colours" object — write {{"neutral": "#a7a39c", "colours": {{…}}}}')
    neutral = data.get("neutral", "#a7a39c")
    for name, value in [("neutral", neutral), *((f"colours.{k}", v) for k, v in colours.items())]:
        if not isinstance(value, str) or not _HEX.match(value):
            raise errors.ConfigError(f'{path}: {name} is {value!r} — write a colour as "#rrggbb", e.g. "#1f2a44"')
    return ColourTable({" ".join(str(k).lower().split()): v for k, v in colours.items()}, neutral)


def product_svg(product: Product, colours: ColourTable) -> str:
    """The product's image: its silhouette in its first colour, its name as the SVG's `<title>`."""
    first = product.colours[0] if product.colours else None
    template = templates.env.get_template(IMAGE_TEMPLATE)
    return template.render(title=product.name, shape=shape_of(product), fill=colours.fill(first))

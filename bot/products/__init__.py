"""Products: the catalogue seam, shopping queries, ranking, pairing and product cards.

- `catalogue`: `Product`, `Pairing`, the `Catalogue` and `CatalogueWriter` protocols;
- `memory`: `InMemoryCatalogue`.
"""

from bot.products.catalogue import CATEGORIES, LOCATIONS, Catalogue, CatalogueWriter, Pairing, Product
from bot.products.memory import InMemoryCatalogue

__all__ = ["CATEGORIES", "LOCATIONS", "Catalogue", "CatalogueWriter", "InMemoryCatalogue", "Pairing", "Product"]

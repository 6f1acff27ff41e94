"""`ProductService`: a shop's catalogue made searchable — the index, the pairing data and the advisor —
built from any `Catalogue` and kept up to date (`refresh` rebuilds only when the catalogue changed, and
the encoder's content-hash cache re-embeds only the products that changed)."""

from __future__ import annotations

import logging
import threading

from bot.encoding import Encoder
from bot.products.advisor import ProductAdvisor
from bot.products.catalogue import Catalogue
from bot.products.index import ProductIndex
from bot.products.pairing import PairingTable

log = logging.getLogger(__name__)


class ProductService:
    def __init__(self, catalogue: Catalogue, encoder: Encoder) -> None:
        self.catalogue = catalogue
        self.index = ProductIndex(catalogue, encoder, catalogue.colour_families())
        self.advisor = ProductAdvisor(self.index, self._pairing_table())
        self._lock = threading.Lock()

    def _pairing_table(self) -> PairingTable:
        return PairingTable(self.catalogue.pairings(), self.catalogue.co_purchases())

    def refresh(self) -> bool:
        """Pick up a changed catalogue (a CSV import, a stock update). True when something changed."""
        with self._lock:
            self.index.colour_families = {k.lower(): v.lower() for k, v in self.catalogue.colour_families().items()}
            changed = self.index.refresh()
            if changed:
                self.advisor.pairings = self._pairing_table()
                log.info("catalogue reloaded: %d products", len(self.index))
            return changed

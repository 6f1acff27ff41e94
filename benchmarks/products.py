"""Product search: relevance, constraint violations and routing, on hand-labelled data.

    python benchmarks/products.py [--failures N]

- Ranking: for each of the labelled shopper queries (benchmarks/data/product_queries.yml, never used for
  training or tuning) the message goes through the real NLU (one encoder pass: intent, entities, embedding)
  and the advisor answers it as its labelled intent; the products it shows are scored against the graded
  labels: precision@1 (the first product is relevant), nDCG@5, and the share of shown products that
  violate a constraint the query states (rules in benchmarks/data/README.md; searches and pairings only:
  availability and compare questions name their products; queries with no exact match in the catalogue are
  left out, since showing the closest is what they should get).
- Routing, as customers meet it: each message sent to the whole bot in a new conversation; a product
  query should be answered by product search, a knowledge question or task message (routing_messages.yml)
  must not be. The classifier's own routing (intent only) is reported too.

Prints one JSON object and merges it into benchmarks/results/products.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO_ROOT, machine, write_result  # noqa: E402

DATA = REPO_ROOT / "benchmarks" / "data"
FILTERING = {"product_search", "product_pairing"}
"""Intents whose shown products must meet the stated constraints (availability and compare name products:
their size or shop is a question about that product, not a filter)."""
CATEGORIES = {"coats", "knitwear", "shirts", "trousers", "dresses", "shoes", "accessories"}


def colour_families() -> dict[str, str]:
    path = REPO_ROOT / "bot" / "actions" / "backend" / "demo" / "colours.csv"
    with path.open(encoding="utf-8") as handle:
        return {row["colour"]: row["family"] for row in csv.DictReader(handle)}


def violates(product: Any, constraints: dict[str, Any], families: dict[str, str]) -> list[str]:
    """The constraints (README rules) `product` does not meet."""
    broken = []
    category = constraints.get("category")
    if category:
        kind = product.kind.lower()
        ok = (
            product.category == category
            if category in CATEGORIES
            else kind == category or kind.endswith(" " + category)
        )
        if not ok:
            broken.append("category")
    colour = constraints.get("colour")
    if colour:
        is_family = colour in set(families.values())
        colours = [c.lower() for c in product.colours]
        ok = any(families.get(c) == colour for c in colours) if is_family else colour in colours
        if is_family and colour in colours:
            ok = True
        if not ok:
            broken.append("colour")
    material = constraints.get("material")
    if material and not any(m.lower() == material or m.lower().endswith(" " + material) for m in product.materials):
        broken.append("material")
    if constraints.get("price_max") is not None and product.price > float(constraints["price_max"]):
        broken.append("price_max")
    if constraints.get("price_min") is not None and product.price < float(constraints["price_min"]):
        broken.append("price_min")
    size, shop = constraints.get("size"), constraints.get("shop")
    if (size or shop) and product.units(str(size) if size else None, shop) <= 0:
        broken.append("size/shop")
    return broken


def ndcg(grades: list[int], ideal: list[int], k: int = 5) -> float:
    def dcg(values: list[int]) -> float:
        return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(values[:k]))

    best = dcg(sorted(ideal, reverse=True))
    return dcg(grades) / best if best else 0.0


def run(failures: int) -> dict[str, Any]:
    from bot import bootstrap, intent_names
    from bot.actions.backend import get_backend
    from bot.config import Settings
    from bot.dialogue.tracker_store import InMemoryTrackerStore
    from bot.products.advisor import ProductRequest
    from bot.types import Message

    queries = yaml.safe_load((DATA / "product_queries.yml").read_text())
    routing = yaml.safe_load((DATA / "routing_messages.yml").read_text())
    families = colour_families()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(project_dir=REPO_ROOT, database_url=f"sqlite:///{tmp}/bench.db")
        get_backend(settings.resolved_database_url)
        serving = bootstrap.load_serving(settings, tracker_store=InMemoryTrackerStore())
        assert serving.products is not None, "no catalogue: check catalogue_provider"
        assistant, advisor = serving.assistant, serving.products.advisor

        rows = []
        for item in queries:
            text = item["query"]
            encoded = assistant.encode([text])
            parse = assistant.parse(text, encoded)
            entities: dict[str, list[Any]] = {}
            for e in parse.entities:
                entities.setdefault(e.entity, []).append(e.value)
            spans = tuple((e.entity, e.value, e.start) for e in parse.entities)
            request = ProductRequest(item["intent"], text, entities, encoded.vectors[0], spans=spans)
            outcome = advisor.answer(request)
            shown = next((list(a.products) for a in outcome.answers if a.products), [])
            relevant: dict[str, int] = {str(k).upper(): int(v) for k, v in (item.get("relevant") or {}).items()}
            grades = [relevant.get(p.sku.upper(), 0) for p in shown]
            constraints = item.get("constraints") or {}
            broken = [(p.sku, violates(p, constraints, families)) for p in shown]
            rows.append(
                {
                    "query": text,
                    "intent": item["intent"],
                    "routed": parse.intent.name,
                    "exact": not item.get("no_exact_match"),
                    "p1": bool(grades and grades[0] > 0),
                    "ndcg": ndcg(grades, list(relevant.values())),
                    "shown": [p.sku for p in shown],
                    "violations": [(s, b) for s, b in broken if b],
                    "n_shown": len(shown),
                    "responses": [a.response for a in outcome.answers],
                }
            )

        def answered_by_products(text: str) -> bool:
            """The whole bot's answer (a new conversation): did product search answer it?"""
            replies = assistant.handle_full(Message(f"route-{uuid.uuid4().hex}", text)).replies
            return any(r.kind == "products" for r in replies)

        def share(items: list[str]) -> float:
            return round(sum(answered_by_products(t) for t in items) / len(items), 4)

        def classifier_share(items: list[str]) -> float:
            parses = assistant.parse_many(items)
            return round(sum(p.intent.name in intent_names.PRODUCTS for p in parses) / len(items), 4)

        exact = [r for r in rows if r["exact"] and r["intent"] in FILTERING]
        shown_exact = sum(r["n_shown"] for r in exact)
        by_intent = {}
        for name in sorted({r["intent"] for r in rows}):
            part = [r for r in rows if r["intent"] == name]
            by_intent[name] = {
                "n": len(part),
                "p_at_1": round(sum(r["p1"] for r in part) / len(part), 4),
                "ndcg_at_5": round(sum(r["ndcg"] for r in part) / len(part), 4),
            }
        result = {
            "queries": len(rows),
            "p_at_1": round(sum(r["p1"] for r in rows) / len(rows), 4),
            "ndcg_at_5": round(sum(r["ndcg"] for r in rows) / len(rows), 4),
            "constraint_violation_rate": round(sum(len(r["violations"]) for r in exact) / max(shown_exact, 1), 4),
            "constraint_violations": sum(len(r["violations"]) for r in exact),
            "no_exact_match_queries": len(rows) - len(exact),
            "by_intent": by_intent,
            "product_routed_to_products": share([r["query"] for r in rows]),
            "knowledge_taken_by_products": share(routing["knowledge"]),
            "tasks_taken_by_products": share(routing["tasks"]),
            "classifier": {
                "product_to_product_intents": classifier_share([r["query"] for r in rows]),
                "knowledge_to_product_intents": classifier_share(routing["knowledge"]),
                "tasks_to_product_intents": classifier_share(routing["tasks"]),
            },
            "n_knowledge": len(routing["knowledge"]),
            "n_tasks": len(routing["tasks"]),
            "machine": machine(),
        }
        misses = [r for r in rows if not r["p1"] or r["violations"] or r["routed"] not in intent_names.PRODUCTS]
        for r in misses[:failures]:
            print(
                json.dumps({k: r[k] for k in ("query", "intent", "routed", "shown", "violations", "responses")}),
                file=sys.stderr,
            )
        if failures:
            for t in routing["knowledge"] + routing["tasks"]:
                if answered_by_products(t):
                    print(json.dumps({"taken_by_products": t}), file=sys.stderr)
            for r in rows:
                if not answered_by_products(r["query"]):
                    print(json.dumps({"not_answered_by_products": r["query"], "intent": r["routed"]}), file=sys.stderr)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--failures", type=int, default=0, help="print up to N failing queries to stderr")
    args = parser.parse_args()
    result = run(args.failures)
    write_result("products", {"products": result})
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Latency of one message through `Assistant.handle` (warm, in-process) and the memory of `supportbot serve`.

    python benchmarks/latency.py [--messages 400]

Reports p50/p95/p99 of `Assistant.handle` over a realistic single-message mix (knowledge questions,
task requests, small talk; each message a new conversation so forms do not carry over), the encoder's own
share, and the peak RSS of a real `supportbot serve` process after it has answered the mix over HTTP.
It also compares a product turn with a knowledge turn (p50, interleaved in one run) on the demo catalogue
and on a synthesised catalogue of 10,000 products (`--only-products` runs just those rows).
It also compares turns of a customer proven by a signed customer token (with a remembered profile) with
anonymous ones (p50, interleaved; `--only-identified` runs just that row).
Results are merged into benchmarks/results/latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO_ROOT, machine, peak_rss_mb, percentile_ms, write_result  # noqa: E402

MIX = [
    "how long does delivery to Germany take",
    "where is my parcel",
    "hi there",
    "are you open on sunday in london",
    "can I pay with klarna",
    "I want to return my jacket",
    "how do I wash cashmere",
    "thanks a lot",
    "book a fitting in Berlin tomorrow at 3pm",
    "do you ship to the US",
    "talk to a human please",
    "what's the weather like",
    "is my order AN-10001 shipped",
    "what sizes do your jeans come in",
    "bye",
    "can I use two gift cards",
]


def in_process(n: int) -> dict[str, object]:
    from bot import bootstrap
    from bot.config import Settings
    from bot.dialogue.tracker_store import InMemoryTrackerStore
    from bot.nlu.model import NluModel, find_model
    from bot.types import Message

    settings = Settings(project_dir=REPO_ROOT)
    serving = bootstrap.load_serving(settings, tracker_store=InMemoryTrackerStore())
    model_dir = find_model(bootstrap.models_dir(settings))
    loads = []
    for _ in range(5):
        start = time.perf_counter()
        NluModel.load(model_dir, serving.assistant.nlu.entities)
        loads.append(time.perf_counter() - start)
    assistant = serving.assistant
    assistant.warm_up()
    for text in MIX:  # warm caches and lazy imports
        assistant.handle(Message("warm", text))
    handle, encode = [], []
    for i in range(n):
        text = MIX[i % len(MIX)]
        start = time.perf_counter()
        assistant.encoder.encode([text])
        encode.append(time.perf_counter() - start)
        start = time.perf_counter()
        assistant.handle(Message(f"bench-{i}", text))
        handle.append(time.perf_counter() - start)
    return {
        "messages": n,
        "handle_p50_ms": percentile_ms(handle, 50),
        "handle_p95_ms": percentile_ms(handle, 95),
        "handle_p99_ms": percentile_ms(handle, 99),
        "encoder_p50_ms": percentile_ms(encode, 50),
        "in_process_peak_rss_mb": peak_rss_mb(),
        "trained_model_load_ms": percentile_ms(loads, 50),
    }


KNOWLEDGE_TURNS = [
    "how long does delivery to Germany take",
    "can I pay with klarna",
    "how do I wash cashmere",
    "do you ship to the US",
    "can I use two gift cards",
    "what is your return policy",
]
PRODUCT_TURNS = [
    "a warm coat under 200",
    "linen shirts in white",
    "black sneakers in 42",
    "show me cashmere sweaters",
    "a dress for a summer wedding",
    "navy trousers in M in Berlin",
]


def identified_turns(n: int) -> dict[str, object]:
    """The same messages from an anonymous customer and from one proven by a signed customer token (with a
    remembered shop and size), interleaved in one run, each a new conversation; on a copy of the database."""
    import shutil

    from bot import bootstrap
    from bot.config import Settings
    from bot.customers.identity import Identity, sign_customer_token
    from bot.customers.profile import Consent
    from bot.customers.sql import SqlCustomerStore
    from bot.dialogue.tracker_store import InMemoryTrackerStore
    from bot.types import Message

    secret = "benchmark-secret-benchmark-secret-0123"
    with tempfile.TemporaryDirectory(prefix="supportbot-latency-") as tmp:
        base = Settings(project_dir=REPO_ROOT)
        database = Path(tmp) / "supportbot.db"
        if (base.state_path / "supportbot.db").exists():
            shutil.copy(base.state_path / "supportbot.db", database)
        settings = base.with_overrides(database_url=f"sqlite:///{database}", customer_token_secret=secret)
        serving = bootstrap.load_serving(settings, tracker_store=InMemoryTrackerStore())
        store = SqlCustomerStore.from_url(settings.resolved_database_url)
        assistant = serving.assistant
        assistant.warm_up()
        token = sign_customer_token(secret, "bench-customer", int(time.time()) + 86_400)
        metadata = {"customer_token": token}
        profile = store.set_consent(
            Identity("shop", "bench-customer"), Consent.GIVEN, {"shop": "berlin", "size_tops": "M"}
        )
        for text in MIX:
            assistant.handle(Message("warm-a", text))
            assistant.handle(Message("warm-i", text, metadata))
        anonymous, identified = [], []
        for i in range(n):
            text = MIX[i % len(MIX)]
            start = time.perf_counter()
            assistant.handle(Message(f"anon-{i}", text))
            anonymous.append(time.perf_counter() - start)
            start = time.perf_counter()
            assistant.handle(Message(f"known-{i}", text, metadata))
            identified.append(time.perf_counter() - start)
    return {
        "messages": n,
        "profile_preferences": dict(profile.preferences),
        "anonymous_p50_ms": percentile_ms(anonymous, 50),
        "identified_p50_ms": percentile_ms(identified, 50),
        "identified_minus_anonymous_p50_ms": round(percentile_ms(identified, 50) - percentile_ms(anonymous, 50), 3),
        "anonymous_p95_ms": percentile_ms(anonymous, 95),
        "identified_p95_ms": percentile_ms(identified, 95),
    }


def _synthetic_catalogue(base: list[object], size: int) -> list[object]:
    """`size` products made from the real ones (new SKUs, names and prices), for the scale row."""
    from dataclasses import replace

    out = []
    for i in range(size):
        p = base[i % len(base)]
        out.append(
            replace(  # type: ignore[type-var]
                p,
                sku=f"SY-{i:05d}",
                name=f"{p.name} {i}",  # type: ignore[attr-defined]
                price_cents=p.price_cents + (i * 37) % 5000,  # type: ignore[attr-defined]
            )
        )
    return out


def product_turns(n: int, synthetic: int) -> dict[str, object]:
    """p50 of a product turn vs a knowledge turn, interleaved in one run (the catalogue of the demo shop
    and a synthesised one of `synthetic` products), each message a new conversation."""
    from bot import bootstrap
    from bot.config import Settings
    from bot.dialogue.tracker_store import InMemoryTrackerStore
    from bot.products import InMemoryCatalogue
    from bot.products.service import ProductService
    from bot.types import Message

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(project_dir=REPO_ROOT, database_url=f"sqlite:///{tmp}/bench.db")
        encoder = bootstrap.make_encoder(settings)
        serving = bootstrap.load_serving(settings, encoder=encoder, tracker_store=InMemoryTrackerStore())
        assert serving.products is not None
        assistant = serving.assistant
        assistant.warm_up()
        rows: dict[str, object] = {}
        catalogue = serving.products.catalogue
        big = InMemoryCatalogue(
            _synthetic_catalogue(list(catalogue.products()), synthetic),  # type: ignore[arg-type]
            catalogue.pairings(),
            catalogue.co_purchases(),
            catalogue.colour_families(),
        )
        build = time.perf_counter()
        big_service = ProductService(big, encoder)
        rows["synthetic_index_build_s"] = round(time.perf_counter() - build, 1)
        for label, service in (("demo", serving.products), (f"{synthetic}_products", big_service)):
            assistant.engine.shopping.advisor = service.advisor
            for text in KNOWLEDGE_TURNS + PRODUCT_TURNS:
                assistant.handle(Message("warm", text))
            knowledge, products = [], []
            for i in range(n):
                for texts, samples in ((KNOWLEDGE_TURNS, knowledge), (PRODUCT_TURNS, products)):
                    start = time.perf_counter()
                    assistant.handle(Message(f"lat-{label}-{i}-{len(samples)}", texts[i % len(texts)]))
                    samples.append(time.perf_counter() - start)
            rows[label] = {
                "products": len(service.index),
                "knowledge_turn_p50_ms": percentile_ms(knowledge, 50),
                "product_turn_p50_ms": percentile_ms(products, 50),
                "product_minus_knowledge_p50_ms": round(percentile_ms(products, 50) - percentile_ms(knowledge, 50), 2),
            }
        return rows


def serve_rss() -> dict[str, object]:
    import httpx

    from server.testing import ServerProcess, free_port, serve_command

    port = free_port()
    env = {**os.environ, "SUPPORTBOT_PROJECT_DIR": str(REPO_ROOT), "SUPPORTBOT_WATCH_KNOWLEDGE": "false"}
    with tempfile.TemporaryDirectory() as tmp:
        env["SUPPORTBOT_DATABASE_URL"] = f"sqlite:///{tmp}/bench.db"
        with ServerProcess(
            serve_command(port), port=port, env=env, cwd=REPO_ROOT, log=Path(tmp) / "serve.log"
        ) as server:
            ready_seconds = server.wait_ready(180)
            idle = peak_rss_mb(server.pid)
            with httpx.Client(timeout=30) as client:
                for i, text in enumerate(MIX * 5):
                    client.post(f"{server.url}/chat", json={"sender": f"rss-{i}", "message": text}).raise_for_status()
            return {
                "serve_ready_seconds": round(ready_seconds, 2),
                "serve_peak_rss_mb_after_start": idle,
                "serve_peak_rss_mb": peak_rss_mb(server.pid),
            }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--only-products", action="store_true", help="only the product-turn rows")
    parser.add_argument("--synthetic-products", type=int, default=10_000)
    parser.add_argument("--only-identified", action="store_true", help="only identified vs anonymous turns")
    args = parser.parse_args()
    identified = {**identified_turns(max(args.messages // 2, 60)), "machine": machine()}
    write_result("latency", {"identified_turns": identified})
    print(json.dumps({"identified_turns": identified}))
    if args.only_identified:
        return
    products = {**product_turns(max(args.messages // 4, 30), args.synthetic_products), "machine": machine()}
    write_result("latency", {"product_turns": products})
    print(json.dumps({"product_turns": products}))
    if args.only_products:
        return
    result = {**in_process(args.messages), **serve_rss(), "machine": machine()}
    write_result("latency", {"assistant_handle": result})
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Knowledge-base retrieval benchmark: accuracy, abstention, reload and latency.

Run from the repo root (the model is read offline; embeddings are cached in /tmp)::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/retrieval.py --dataset stackfaq
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/retrieval.py --dataset stackfaq --alternates-from-group 1
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/retrieval.py --dataset stackfaq --abstention
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/retrieval.py --perf
    .venv/bin/python benchmarks/retrieval.py --faq FILE --queries FILE

Entries go through the project's own import path: they are written to a temporary CSV, converted
with `bot.faq.csv_io.import_table` (what `supportbot kb import` runs) and loaded by `KnowledgeService`.
Each run prints one JSON line and merges it into benchmarks/results/retrieval.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from bot.encoding import CachedEncoder, Encoder, FakeEncoder, SentenceTransformerEncoder  # noqa: E402
from bot.faq.csv_io import import_table  # noqa: E402
from bot.faq.scoring import ScoringConfig  # noqa: E402
from bot.faq.service import KnowledgeService  # noqa: E402
from bot.faq.thresholds import DEFAULT_THRESHOLDS, abstention_report, fit_thresholds  # noqa: E402

DATA = REPO_ROOT / ".." / "shared" / "data"
RESULTS = REPO_ROOT / "benchmarks" / "results" / "retrieval.json"
CACHE = Path(tempfile.gettempdir()) / "supportbot-retrieval-cache.sqlite"
SEED = 13
PERF_PER_FILE = 20  # entries per synthesised file in --perf: a one-file edit changes 20 answers


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def real_encoder() -> Encoder:
    return CachedEncoder(SentenceTransformerEncoder(), CACHE)


def build_service(
    faq: Sequence[dict[str, Any]],
    encoder: Encoder,
    folder: Path,
    scoring: ScoringConfig,
    alternates: dict[str, list[str]] | None = None,
) -> KnowledgeService:
    """Write the entries to a CSV, import it with the kb import code and load the folder."""
    src = folder / "import.csv"
    with src.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "question", "answer", "alternates"])
        for row in faq:
            alts = "|".join(a.replace("|", "/") for a in (alternates or {}).get(str(row["id"]), []))
            writer.writerow([row["id"], row["question"], row["answer"], alts])
    knowledge = folder / "knowledge"
    _, problems = import_table(src, knowledge / "faq.md")
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise SystemExit("import failed:\n" + "\n".join(map(str, errors)))
    service = KnowledgeService(knowledge, encoder, scoring=scoring)
    service.load()
    return service


def rank_metrics(ranks: np.ndarray) -> dict[str, float]:
    """ranks: 1-based rank of the right entry, 0 when not in the top 10."""
    found = ranks > 0
    return {
        "recall_at_1": round(float((ranks == 1).mean()), 4),
        "recall_at_5": round(float((found & (ranks <= 5)).mean()), 4),
        "mrr_at_10": round(float(np.where(found, 1.0 / np.maximum(ranks, 1), 0.0).mean()), 4),
    }


def evaluate(
    service: KnowledgeService, vectors: np.ndarray, queries: Sequence[dict[str, Any]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rank of the right entry or 0, confidence, top-1 is right) per query."""
    responder = service.snapshot.responder
    ranks = np.zeros(len(queries), dtype=np.int64)
    confidence = np.zeros(len(queries))
    for n, (q, v) in enumerate(zip(queries, vectors, strict=True)):
        ranked = responder.scorer.score(v, str(q["query"]), 10)
        ids = [responder.entries[s.position].id for s in ranked]
        if q["faq_id"] in ids:
            ranks[n] = ids.index(q["faq_id"]) + 1
        confidence[n] = responder.scorer.confidence(ranked)
    return ranks, confidence, ranks == 1


def scoring_from(args: argparse.Namespace) -> ScoringConfig:
    base = ScoringConfig()
    changes = {
        k: getattr(args, k)
        for k in (
            "context_weight",
            "bm25_weight",
            "bm25_fields",
            "bm25_k1",
            "bm25_b",
            "answer_lead_sentences",
            "answer_lead_chars",
            "pooling",
            "confidence",
            "margin_weight",
        )
        if getattr(args, k) is not None
    }
    return replace(base, **changes)


def load_sets(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    if args.faq and args.queries:
        return read_jsonl(args.faq), read_jsonl(args.queries), args.faq.parent.name
    folder = DATA / args.dataset
    return read_jsonl(folder / "faq.jsonl"), read_jsonl(folder / "queries.jsonl"), args.dataset


def run_accuracy(args: argparse.Namespace) -> dict[str, Any]:
    faq, queries, name = load_sets(args)
    scoring = scoring_from(args)
    encoder = real_encoder()
    alternates: dict[str, list[str]] | None = None
    evaluated = queries
    if args.alternates_from_group is not None:
        alternates = {}
        for q in queries:
            if q.get("group") == args.alternates_from_group:
                alternates.setdefault(str(q["faq_id"]), []).append(str(q["query"]))
        evaluated = [q for q in queries if q.get("group") != args.alternates_from_group]
    vectors = encoder.encode([str(q["query"]) for q in evaluated])
    with tempfile.TemporaryDirectory() as tmp:
        service = build_service(faq, encoder, Path(tmp), scoring, alternates)
        ranks, _, _ = evaluate(service, vectors, evaluated)
    result: dict[str, Any] = {**rank_metrics(ranks), "n_entries": len(faq), "n_queries": len(evaluated)}
    groups = sorted({q["group"] for q in evaluated if "group" in q})
    for g in groups:
        mask = np.array([q.get("group") == g for q in evaluated])
        result[f"group_{g}"] = {**rank_metrics(ranks[mask]), "n_queries": int(mask.sum())}
    result["dataset"] = name
    result["scoring"] = asdict(scoring)
    if args.alternates_from_group is not None:
        result["alternates_from_group"] = args.alternates_from_group
    return result


def run_abstention(args: argparse.Namespace) -> dict[str, Any]:
    """Index 75% of the entries; queries of the other 25% should get no answer."""
    faq, queries, name = load_sets(args)
    scoring = scoring_from(args)
    encoder = real_encoder()
    rng = np.random.default_rng(SEED)
    order = rng.permutation(len(faq))
    kept = {str(faq[i]["id"]) for i in order[: int(round(0.75 * len(faq)))]}
    vectors = encoder.encode([str(q["query"]) for q in queries])
    with tempfile.TemporaryDirectory() as tmp:
        service = build_service([f for f in faq if str(f["id"]) in kept], encoder, Path(tmp), scoring)
        ranks, confidence, top1 = evaluate(service, vectors, queries)
    answerable = np.array([str(q["faq_id"]) in kept for q in queries])
    correct = top1 & answerable
    group = np.array([q.get("group", 1) for q in queries])
    g1 = group == 1
    fitted = fit_thresholds(confidence[g1], correct[g1], answerable[g1])
    shipped = DEFAULT_THRESHOLDS
    out: dict[str, Any] = {
        "dataset": name,
        "n_indexed": len(kept),
        "n_held_out": len(faq) - len(kept),
        "n_queries": len(queries),
        "scoring": asdict(scoring),
        "fitted_on_group_1": {"answer": fitted.answer, "suggest": fitted.suggest},
        "shipped": {"answer": shipped.answer, "suggest": shipped.suggest},
        "at_shipped": abstention_report(confidence, correct, answerable, shipped.answer).as_dict(),
        "at_shipped_group_2": abstention_report(
            confidence[~g1], correct[~g1], answerable[~g1], shipped.answer
        ).as_dict(),
        "at_fitted_group_2": abstention_report(confidence[~g1], correct[~g1], answerable[~g1], fitted.answer).as_dict(),
        "suggest_band_at_shipped": {
            "answerable_right_in_top3": round(
                float(
                    (
                        (ranks >= 1)
                        & (ranks <= 3)
                        & answerable
                        & (confidence < shipped.answer)
                        & (confidence >= shipped.suggest)
                    ).sum()
                    / max(int((answerable & (confidence < shipped.answer) & (confidence >= shipped.suggest)).sum()), 1)
                ),
                4,
            ),
            "unanswerable_share_suggested": round(
                float(
                    (~answerable & (confidence < shipped.answer) & (confidence >= shipped.suggest)).sum()
                    / max(int((~answerable).sum()), 1)
                ),
                4,
            ),
        },
        "frontier": [
            abstention_report(confidence, correct, answerable, t).as_dict()
            for t in np.round(np.arange(0.3, 0.91, 0.05), 3)
        ],
    }
    return out


SYNTH_VERBS = [
    "change",
    "cancel",
    "track",
    "return",
    "exchange",
    "pay for",
    "repair",
    "clean",
    "order",
    "gift",
    "reserve",
    "resize",
    "insure",
    "ship",
    "collect",
    "register",
    "unsubscribe from",
    "recycle",
    "wash",
    "personalise",
]
SYNTH_NOUNS = [
    "jacket",
    "wool coat",
    "linen shirt",
    "leather bag",
    "gift card",
    "scarf",
    "pair of jeans",
    "sweater",
    "belt",
    "dress",
    "trench coat",
    "cap",
    "silk tie",
    "parka",
    "pair of boots",
    "wallet",
    "raincoat",
    "cardigan",
    "tote bag",
    "blazer",
    "t-shirt",
    "hoodie",
    "skirt",
    "pair of gloves",
    "beanie",
]
SYNTH_PLACES = ["online", "in the Paris shop"]


def synthesise(folder: Path, n_entries: int, per_file: int = 50) -> list[Path]:
    """Write `n_entries` distinct entries (3 alternates each) in files of `per_file` entries."""
    combos = [(v, n, p) for p in SYNTH_PLACES for v in SYNTH_VERBS for n in SYNTH_NOUNS]
    rng = np.random.default_rng(SEED)
    rng.shuffle(combos)  # type: ignore[arg-type]
    combos = (combos * (n_entries // len(combos) + 1))[:n_entries]
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for f in range(0, n_entries, per_file):
        lines = ["---", f"title: Topic {f // per_file}", "---", ""]
        for k in range(f, min(f + per_file, n_entries)):
            v, n, p = combos[k]
            suffix = f" (case {k})" if k >= len(SYNTH_VERBS) * len(SYNTH_NOUNS) * len(SYNTH_PLACES) else ""
            lines += [
                f"## How do I {v} my {n} {p}?{suffix} {{#e{k}}}",
                "Also asked:",
                f"- can I {v} a {n} {p}{suffix}",
                f"- {v} {n} {p}{suffix}",
                f"- help to {v} my {n} {p}{suffix}",
                "",
                f"To {v} your {n} {p}, open your account, choose the {n} and follow the steps. "
                f"Entry {k}: it takes about {k % 7 + 2} minutes.",
                "",
            ]
        path = folder / f"topic-{f // per_file:03d}.md"
        path.write_text("\n".join(lines), encoding="utf-8")
        files.append(path)
    return files


def run_perf(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    scoring = scoring_from(args)
    encoder: Encoder = FakeEncoder(384) if args.fake_encoder else real_encoder()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = synthesise(root / "knowledge", 1000, per_file=PERF_PER_FILE)
        service = KnowledgeService(root / "knowledge", encoder, state_path=root / "state", scoring=scoring)
        t0 = time.perf_counter()
        service.load()
        out["load_1000_entries_s"] = round(time.perf_counter() - t0, 3)
        restart = KnowledgeService(root / "knowledge", encoder, state_path=root / "state", scoring=scoring)
        t0 = time.perf_counter()
        restart.load()
        out["restart_1000_entries_s"] = round(time.perf_counter() - t0, 3)
        out["restart_embedded_texts"] = restart.store.embedded_texts
        # Cold edits: every edit adds a new token (run id + trial), so no edited text is in the encoder's
        # on-disk cache and the changed texts really go through the model.
        run = uuid.uuid4().hex[:8]
        entry_times: list[float] = []
        file_times: list[float] = []
        for trial in range(5):
            one = files[trial]
            text = one.read_text(encoding="utf-8")
            one.write_text(text.replace("follow the steps", f"follow the steps ({run} e{trial})", 1), "utf-8")
            before = service.store.embedded_texts
            t0 = time.perf_counter()
            assert service.reload()
            entry_times.append(time.perf_counter() - t0)
            out["one_entry_edit_embedded_texts"] = service.store.embedded_texts - before
            whole = files[10 + trial]
            text = whole.read_text(encoding="utf-8")
            whole.write_text(text.replace("follow the steps", f"follow the steps ({run} f{trial})"), "utf-8")
            before = service.store.embedded_texts
            t0 = time.perf_counter()
            assert service.reload()
            file_times.append(time.perf_counter() - t0)
            out["one_file_edit_embedded_texts"] = service.store.embedded_texts - before
        out["reload_one_entry_edit_1000_entries_s"] = {
            "median": round(float(np.median(entry_times)), 3),
            "max": round(max(entry_times), 3),
        }
        out["reload_one_file_edit_1000_entries_s"] = {
            "median": round(float(np.median(file_times)), 3),
            "max": round(max(file_times), 3),
            "entries_in_file": PERF_PER_FILE,
        }
        # Retrieval latency excluding the encoder: the scorer and renderer on precomputed embeddings.
        qs = [f"how can i {v} a {n}" for v in SYNTH_VERBS for n in SYNTH_NOUNS][:200]
        qv = encoder.encode(qs)
        lat = []
        for q, v in zip(qs * 3, np.vstack([qv] * 3), strict=True):
            t0 = time.perf_counter()
            service.respond(v, q)
            lat.append(time.perf_counter() - t0)
        out["respond_latency_ms_1000_entries"] = {
            "p50": round(1000 * float(np.percentile(lat, 50)), 3),
            "p99": round(1000 * float(np.percentile(lat, 99)), 3),
        }
    with tempfile.TemporaryDirectory() as tmp:
        # Index build for 10,000 entries (40,000 phrasings + 10,000 context vectors), vectors from the fake.
        root = Path(tmp)
        synthesise(root / "knowledge", 10000, per_file=500)
        fake = FakeEncoder(384)
        service = KnowledgeService(root / "knowledge", fake, state_path=root / "state", scoring=scoring)
        t0 = time.perf_counter()
        service.load()
        out["load_10000_entries_fake_encoder_s"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        service.reload()
        out["rebuild_10000_entries_nothing_to_embed_s"] = round(time.perf_counter() - t0, 3)
        qv = fake.encode(qs)
        lat = []
        for q, v in zip(qs * 3, np.vstack([qv] * 3), strict=True):
            t0 = time.perf_counter()
            service.respond(v, q)
            lat.append(time.perf_counter() - t0)
        out["respond_latency_ms_10000_entries"] = {
            "p50": round(1000 * float(np.percentile(lat, 50)), 3),
            "p99": round(1000 * float(np.percentile(lat, 99)), 3),
        }
    out["encoder"] = "fake" if args.fake_encoder else "all-MiniLM-L6-v2 (cached)"
    out["scoring"] = asdict(scoring)
    return out


def save(key: str, result: dict[str, Any]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    data[key] = result
    RESULTS.write_text(json.dumps(data, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="stackfaq", help="a folder of ../shared/data with faq.jsonl, queries.jsonl")
    ap.add_argument("--faq", type=Path, help="faq.jsonl: id, question, answer")
    ap.add_argument("--queries", type=Path, help="queries.jsonl: query, faq_id, group")
    ap.add_argument("--alternates-from-group", type=int, help="add this group's queries as alternates")
    ap.add_argument("--abstention", action="store_true", help="hold out 25%% of entries, report abstention")
    ap.add_argument("--perf", action="store_true", help="reload time, index build and latency")
    ap.add_argument("--fake-encoder", action="store_true", help="--perf with the hashing fake encoder")
    ap.add_argument("--context-weight", type=float)
    ap.add_argument("--bm25-weight", type=float)
    ap.add_argument("--bm25-fields", choices=["phrasings", "phrasings+answer"])
    ap.add_argument("--bm25-k1", type=float)
    ap.add_argument("--bm25-b", type=float)
    ap.add_argument("--answer-lead-sentences", type=int)
    ap.add_argument("--answer-lead-chars", type=int)
    ap.add_argument("--confidence", choices=["logistic", "margin"])
    ap.add_argument("--margin-weight", type=float)
    ap.add_argument("--pooling", choices=["max", "lse"])
    ap.add_argument("--no-save", action="store_true", help="print only")
    args = ap.parse_args(argv)
    if args.perf:
        key, result = "perf", run_perf(args)
    elif args.abstention:
        key, result = f"abstention_{args.dataset}", run_abstention(args)
    else:
        result = run_accuracy(args)
        key = f"accuracy_{result['dataset']}"
        if args.alternates_from_group is not None:
            key += f"_alternates_from_group_{args.alternates_from_group}"
    print(json.dumps(result))
    if not args.no_save:
        save(key, result)


if __name__ == "__main__":
    main()

"""Sentiment benchmark: TweetEval test and the support set, the frustration trigger, the added latency.

Run from the repo root (the model is read offline; embeddings are cached in /tmp)::

    .venv/bin/python benchmarks/sentiment.py [--data ../shared/data] [--quick]

Models, each trained through `bot.sentiment.training.train_sentiment` (what `supportbot train` runs):

    vader            VADER's compound score alone (>= 0.05 positive, <= -0.05 negative): no training
    embedding_head   the head on the embedding and `mean_layer4` only (text features weighted 0)
    combined         VADER + surface cues + embedding + `mean_layer4` (the shipped model's shape)

trained on the TweetEval validation split plus intents/sentiment/support.csv (`general+support`), and
the combined model also on the support file alone (`support_only`: what `supportbot train` builds when
SUPPORTBOT_SENTIMENT_GENERAL_DATA is unset). Never on the test split, never on the benchmark's messages
(benchmarks/data/support_sentiment.jsonl). Prints one JSON line per (model, training set, test set), then
the frustration trigger's precision and recall on the benchmark's multi-turn conversations and the latency
of `predict` given the embedding; all merged into benchmarks/results/sentiment.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA_DIR, REPO_ROOT, machine, percentile_ms, read_jsonl, write_result  # noqa: E402

sys.path.insert(0, str(REPO_ROOT))
from bot.encoding import CachedEncoder, Encoded, Encoder, SentenceTransformerEncoder, encode_with_layers  # noqa: E402
from bot.sentiment import LABELS, TurnRecord, decide, score_frustration  # noqa: E402
from bot.sentiment.data import SUPPORT_FILE, SentimentExample, read_support_csv  # noqa: E402
from bot.sentiment.data import read_jsonl as read_examples
from bot.sentiment.features import VaderScorer  # noqa: E402
from bot.sentiment.head import HeadConfig, macro_recall  # noqa: E402
from bot.sentiment.model import LexiconEmbeddingSentimentModel  # noqa: E402
from bot.sentiment.training import SentimentTrainingConfig, load_sentiment_model, train_sentiment  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "supportbot-sentiment-cache.sqlite"
SUPPORT_SET = REPO_ROOT / "benchmarks" / "data" / "support_sentiment.jsonl"
LAYERS = ("mean_layer4",)
Predict = Callable[[list[str], Encoded], np.ndarray]  # -> label indices


def scores(y: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    return {
        "macro_recall": round(macro_recall(y, predicted), 4),
        "accuracy": round(float(np.mean(y == predicted)), 4),
        "n_test": len(y),
    }


def vader_predict(texts: list[str], _: Encoded) -> np.ndarray:
    vader = VaderScorer()
    compound = np.asarray([vader.scores(t)[3] for t in texts])
    return np.where(compound >= 0.05, 2, np.where(compound <= -0.05, 0, 1))


def head_predict(model: LexiconEmbeddingSentimentModel) -> Predict:
    def predict(texts: list[str], encoded: Encoded) -> np.ndarray:
        return np.argmax(model.probabilities(texts, encoded.vectors, encoded.layers), axis=1)

    return predict


def train(
    name: str,
    support: Sequence[SentimentExample],
    general: Sequence[SentimentExample],
    encoder: Encoder,
    head: HeadConfig,
) -> LexiconEmbeddingSentimentModel:
    folder = Path(tempfile.mkdtemp(prefix=f"sentiment-{name}-"))
    result = train_sentiment(support, encoder, folder, general=general, config=SentimentTrainingConfig(head=head))
    return load_sentiment_model(result.path, encoder)


def to_y(labels: Sequence[str]) -> np.ndarray:
    return np.asarray([LABELS.index(label) for label in labels])


def frustration(
    model: LexiconEmbeddingSentimentModel, conversations: list[dict[str, Any]], encoder: Encoder
) -> dict[str, Any]:
    """Replay each conversation's customer turns (context with the bot's outcomes, then the labelled turn)
    through the model, the frustration score and the escalation policy; the trigger is `frustrated`."""
    texts = sorted({t["text"] for c in conversations for t in c["context"]} | {c["text"] for c in conversations})
    encoded = encode_with_layers(encoder, texts, model.layer_names)
    row = {t: i for i, t in enumerate(texts)}

    def record(text: str, outcome: str) -> TurnRecord:
        one = encoded.rows([row[text]])
        sentiment = model.predict(text, one.vectors[0], one.layers)
        return TurnRecord(text, sentiment, None, outcome, one.vectors[0])  # type: ignore[arg-type]

    tp = fp = fn = tn = 0
    misses: list[dict[str, Any]] = []
    for conv in conversations:
        turns = [record(t["text"], t["outcome"]) for t in conv["context"]] + [record(conv["text"], "none")]
        score = score_frustration(turns)
        decision = decide(score, turns[-1].sentiment, turn_index=len(turns) - 1, last_offer_turn=None)
        fired, truth = decision.frustrated, bool(conv["frustrated"])
        tp += fired and truth
        fp += fired and not truth
        fn += truth and not fired
        tn += not fired and not truth
        if fired != truth:
            misses.append({"id": conv["id"], "expected": truth, "score": score.score, "text": conv["text"]})
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "n_conversations": len(conversations),
        "n_frustrated": tp + fn,
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "misses": misses,
    }


def latency(model: LexiconEmbeddingSentimentModel, texts: list[str], encoded: Encoded, repeats: int) -> dict[str, Any]:
    """Added time per turn: `predict` given the message's embedding and layer features (VADER included)."""
    model.warm_up()
    samples: list[float] = []
    for _ in range(repeats):
        for i, text in enumerate(texts):
            one = encoded.rows([i])
            start = time.perf_counter()
            model.predict(text, one.vectors[0], one.layers)
            samples.append(time.perf_counter() - start)
    return {"p50_ms": percentile_ms(samples, 50), "p95_ms": percentile_ms(samples, 95), "n": len(samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="folder holding tweeteval_sentiment/")
    parser.add_argument("--quick", action="store_true", help="score TweetEval test on its first 2,000 rows")
    args = parser.parse_args()

    encoder: Encoder = CachedEncoder(SentenceTransformerEncoder(), CACHE)
    support = read_support_csv(REPO_ROOT / "intents" / SUPPORT_FILE, REPO_ROOT)
    bench = read_jsonl(SUPPORT_SET)
    bench_texts = [b["text"] for b in bench]
    bench_y = to_y([b["label"] for b in bench])
    tweeteval = args.data / "tweeteval_sentiment"
    general = read_examples(tweeteval / "val.jsonl") if (tweeteval / "val.jsonl").exists() else []
    test = read_jsonl(tweeteval / "test.jsonl") if (tweeteval / "test.jsonl").exists() else []
    if args.quick:
        test = test[:2000]
    test_texts = [t["text"] for t in test]
    test_y = to_y([t["label"] for t in test])
    bench_encoded = encode_with_layers(encoder, bench_texts, LAYERS)
    test_encoded = encode_with_layers(encoder, test_texts, LAYERS) if test else None

    combined = HeadConfig()
    models: list[tuple[str, str, Predict]] = [("vader", "none", vader_predict)]
    shipped = train("support", support, [], encoder, combined)
    if general:
        both = train("combined", support, general, encoder, combined)
        embedding_only = train("embedding", support, general, encoder, replace(combined, text_scale=0.0))
        models += [
            ("embedding_head", "general+support", head_predict(embedding_only)),
            ("combined", "general+support", head_predict(both)),
        ]
    models.append(("combined", "support_only", head_predict(shipped)))

    results: dict[str, Any] = {"machine": machine(), "n_train_support": len(support), "n_train_general": len(general)}
    for name, trained_on, predict in models:
        sets = [("support_set", bench_texts, bench_encoded, bench_y)]
        if test_encoded is not None:
            sets.insert(0, ("tweeteval_test", test_texts, test_encoded, test_y))
        for dataset, texts, encoded, y in sets:
            line = {"model": name, "trained_on": trained_on, "dataset": dataset, **scores(y, predict(texts, encoded))}
            print(json.dumps(line))
            results[f"{name}/{trained_on}/{dataset}"] = line

    conversations = [b for b in bench if "context" in b]
    for trained_on, model in [("support_only", shipped), *([("general+support", both)] if general else [])]:
        trigger = frustration(model, conversations, encoder)
        line = {"frustration_trigger": trained_on, **{k: v for k, v in trigger.items() if k != "misses"}}
        print(json.dumps(line))
        results[f"frustration/{trained_on}"] = trigger

    timing = latency(shipped, bench_texts, bench_encoded, repeats=5)
    print(json.dumps({"added_latency_per_turn": timing}))
    results["latency"] = timing
    write_result("sentiment", results)


if __name__ == "__main__":
    main()

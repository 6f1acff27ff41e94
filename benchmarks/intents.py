"""Intent classification accuracy and training time on CLINC150 / BANKING77, through the public API.

    python benchmarks/intents.py --dataset clinc150     # train on train, fit thresholds on val, test on test
    python benchmarks/intents.py --dataset banking77    # thresholds fitted on held-out folds of train

Prints one JSON line: dataset, accuracy, in_scope_accuracy, oos_recall, oos_precision, top1_accuracy
(closed set: the best intent, abstention ignored), the layer features chosen, train_seconds
(cold: embeddings computed; warm: embedding cache hit), n_train, n_test. Results are merged into
benchmarks/results/intents.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import DATA_DIR, machine, read_jsonl, write_result  # noqa: E402

from bot.bootstrap import classifier_config  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.encoding import CachedEncoder, Encoded, SentenceTransformerEncoder, encode_with_layers  # noqa: E402
from bot.nlu.classifier import EmbeddingIntentClassifier  # noqa: E402

OOS = frozenset({"oos", "out_of_scope"})


def scores(gold: list[str], predicted: list[str]) -> dict[str, float]:
    g = np.asarray([label in OOS for label in gold])
    p = np.asarray([label in OOS for label in predicted])
    correct = np.asarray([a == b or (a in OOS and b in OOS) for a, b in zip(gold, predicted, strict=True)])
    result = {"accuracy": float(correct.mean()), "in_scope_accuracy": float(correct[~g].mean()) if (~g).any() else 0.0}
    if g.any():
        result["oos_recall"] = float((p & g).sum() / g.sum())
        result["oos_precision"] = float((p & g).sum() / p.sum()) if p.any() else 0.0
    return {k: round(v, 4) for k, v in result.items()}


def run(dataset: str, data_dir: Path) -> dict[str, object]:
    folder = data_dir / dataset
    train = read_jsonl(folder / "train.jsonl")
    test = read_jsonl(folder / "test.jsonl")
    val = read_jsonl(folder / "val.jsonl") if (folder / "val.jsonl").exists() else None
    settings = Settings()
    inner = SentenceTransformerEncoder(settings.model_path, threads=settings.encoder_threads)
    inner.warm_up()
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        encoder = CachedEncoder(inner, Path(tmp) / "cache.sqlite")
        classifier = EmbeddingIntentClassifier(classifier_config(settings))
        for label in ("cold", "warm"):
            start = time.perf_counter()
            config = classifier_config(settings)
            names = config.layer_features

            def embed(texts: Sequence[str]) -> Encoded:
                return encode_with_layers(encoder, texts, names)  # noqa: B023 - used within this iteration

            train_set = embed([r["text"] for r in train])
            val_set = val_layers = None
            if val is not None:
                encoded_val = embed([r["text"] for r in val])
                val_set = (encoded_val.vectors, [r["text"] for r in val], [r["intent"] for r in val])
                val_layers = encoded_val.layers
            classifier = EmbeddingIntentClassifier(config)
            classifier.fit(
                train_set.vectors,
                [r["text"] for r in train],
                [r["intent"] for r in train],
                layers=train_set.layers,
                val=val_set,
                val_layers=val_layers,
                embed=embed,
            )
            timings[label] = round(time.perf_counter() - start, 2)
        test_set = embed([r["text"] for r in test])
        start = time.perf_counter()
        predictions = classifier.predict(test_set.vectors, [r["text"] for r in test], test_set.layers)
        per_message_ms = (time.perf_counter() - start) / len(test) * 1000
        one_ms = []
        for i in range(300):
            one = time.perf_counter()
            classifier.predict(
                test_set.vectors[i : i + 1], [test[i]["text"]], {k: v[i : i + 1] for k, v in test_set.layers.items()}
            )
            one_ms.append((time.perf_counter() - one) * 1000)
    predicted = ["oos" if p.abstain else p.ranking[0][0] for p in predictions]
    gold = [r["intent"] for r in test]
    in_scope = [(p, g) for p, g in zip(predictions, gold, strict=True) if g not in OOS]
    result: dict[str, object] = {
        "dataset": dataset,
        **scores(gold, predicted),
        "top1_accuracy": round(sum(p.intent == g for p, g in in_scope) / len(in_scope), 4),
        "layer_features": list(classifier.layer_names),
        "predict_ms_single_message_p50": round(float(np.median(one_ms)), 3),
        "train_seconds": timings["warm"],
        "train_seconds_cold": timings["cold"],
        "predict_ms_per_message": round(per_message_ms, 3),
        "n_train": len(train),
        "n_test": len(test),
        "machine": machine(),
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["clinc150", "banking77"], required=True)
    parser.add_argument("--data", type=Path, default=DATA_DIR)
    args = parser.parse_args()
    result = run(args.dataset, args.data)
    write_result("intents", {args.dataset: result})
    print(json.dumps(result))


if __name__ == "__main__":
    main()

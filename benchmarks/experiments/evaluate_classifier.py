"""Evaluate bot.nlu.classifier.EmbeddingIntentClassifier end to end, as `supportbot evaluate` does.

Texts are encoded with the real encoder through an on-disk cache (embeddings and the configured
layer features of the same pass; the first run fills it, ~2 min), the generic negatives through
`embed`, exactly as the product trains. CLINC150: train on train (its oos examples are negatives),
thresholds on val (+ train's oos examples), report on test. BANKING77: train on train (thresholds on
held-out folds of train and the generic negatives), top-1 accuracy on test (closed set, as published
results) and accuracy when abstentions count as errors.

HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/experiments/evaluate_classifier.py [--set k=v ...] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from embed_cache import REPO_ROOT, read_jsonl

sys.path.insert(0, str(REPO_ROOT))

from bot.encoding import CachedEncoder, Encoded, SentenceTransformerEncoder, encode_with_layers  # noqa: E402
from bot.nlu.classifier import ClassifierConfig, EmbeddingIntentClassifier  # noqa: E402

DATA = REPO_ROOT / ".." / "shared" / "data"


def clinc(cfg: ClassifierConfig, encode: object) -> dict[str, float]:
    enc = encode  # type: ignore[assignment]
    (trt, trl), (vat, val), (tet, tel) = (
        read_jsonl(DATA / "clinc150" / f"{s}.jsonl") for s in ("train", "val", "test")
    )
    names = cfg.layer_features
    tr, va, te = enc(trt), enc(vat), enc(tet)  # type: ignore[operator]
    clf = EmbeddingIntentClassifier(cfg)
    w0, c0 = time.perf_counter(), time.process_time()
    rep = clf.fit(
        tr.vectors,
        trt,
        trl,
        layers=tr.layers if names else None,
        val=(va.vectors, vat, val),
        val_layers=va.layers if names else None,
        embed=enc,  # type: ignore[arg-type]
    )
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    preds = clf.predict(te.vectors, tet, te.layers if names else None)
    y = np.asarray(tel)
    o = y == "oos"
    rej = np.asarray([p.abstain for p in preds])
    top = np.asarray([p.intent for p in preds])
    t0 = time.perf_counter()
    for i in range(300):
        clf.predict(te.vectors[i : i + 1], tet[i : i + 1], {k: v[i : i + 1] for k, v in te.layers.items()} or None)
    return {
        "clinc_in_scope_acc": round(100 * float(((top == y) & ~rej)[~o].mean()), 2),
        "clinc_oos_recall": round(100 * float(rej[o].mean()), 1),
        "clinc_oos_precision": round(100 * float(o[rej].mean()), 1) if rej.any() else 0.0,
        "clinc_closed_acc": round(100 * float((top == y)[~o].mean()), 2),
        "clinc_train_wall_s": round(wall, 1),
        "clinc_train_cpu_s": round(cpu, 1),
        "predict_ms": round((time.perf_counter() - t0) / 300 * 1000, 3),
        "threshold": round(rep["threshold"], 3),
    }


def banking(cfg: ClassifierConfig, encode: object) -> dict[str, float]:
    enc = encode  # type: ignore[assignment]
    (trt, trl), (tet, tel) = (read_jsonl(DATA / "banking77" / f"{s}.jsonl") for s in ("train", "test"))
    names = cfg.layer_features
    tr, te = enc(trt), enc(tet)  # type: ignore[operator]
    clf = EmbeddingIntentClassifier(cfg)
    w0 = time.perf_counter()
    clf.fit(tr.vectors, trt, trl, layers=tr.layers if names else None, embed=enc)  # type: ignore[arg-type]
    wall = time.perf_counter() - w0
    preds = clf.predict(te.vectors, tet, te.layers if names else None)
    hit = np.asarray([p.intent == t for p, t in zip(preds, tel, strict=True)])
    rej = np.asarray([p.abstain for p in preds])
    return {
        "banking_acc": round(100 * float(hit.mean()), 2),
        "banking_acc_with_abstention": round(100 * float((hit & ~rej).mean()), 2),
        "banking_train_wall_s": round(wall, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--set", action="append", default=[], help="ClassifierConfig field=value (JSON value)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--skip-banking", action="store_true")
    ap.add_argument("--skip-clinc", action="store_true")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/evalcache.sqlite"))
    ap.add_argument("--model", type=Path, default=None, help="a sentence-transformers folder (default: shipped)")
    args = ap.parse_args()
    overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    encoder = CachedEncoder(SentenceTransformerEncoder(args.model, threads=2), args.cache)
    runs = []
    for seed in args.seeds:
        cfg = ClassifierConfig(**{**overrides, "seed": seed})

        def enc(texts: Sequence[str], cfg: ClassifierConfig = cfg) -> Encoded:
            return encode_with_layers(encoder, list(texts), cfg.layer_features)

        res: dict[str, object] = {"config": overrides, "seed": seed}
        if not args.skip_clinc:
            res.update(clinc(cfg, enc))
        if not args.skip_banking:
            res.update(banking(cfg, enc))
        print(json.dumps(res), flush=True)
        runs.append(res)
    if len(runs) > 1:
        keys = [k for k, v in runs[0].items() if isinstance(v, float)]
        print("MEAN", json.dumps({k: round(statistics.fmean(float(r[k]) for r in runs), 2) for k in keys}))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()

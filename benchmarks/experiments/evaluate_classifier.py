"""Evaluate bot.nlu.classifier.EmbeddingIntentClassifier end to end on cached embeddings.

CLINC150: train on train, thresholds on val, report on test. BANKING77: train on train
(thresholds on held-out folds of train), accuracy of the top intent on test.

HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/experiments/evaluate_classifier.py [--set k=v ...]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from common import load, parser

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.nlu.classifier import ClassifierConfig, EmbeddingIntentClassifier  # noqa: E402


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--set", action="append", default=[], help="ClassifierConfig field=value")
    ap.add_argument("--skip-banking", action="store_true")
    ap.add_argument("--generic", action="store_true", help="pass embed() for the generic corpus")
    args = ap.parse_args()
    overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    cfg = ClassifierConfig(**overrides)
    tr, va, te = (load(args, "clinc150", s) for s in ("train", "val", "test"))
    embed = None
    if args.generic:
        from embed_cache import embed_texts

        from bot.nlu._classifier_data import generic_oos_texts

        gpath = args.cache / "generic_oos.npy"
        if not gpath.exists():
            np.save(gpath, embed_texts(generic_oos_texts()))
        gx = np.load(gpath)

        def embed(texts: object) -> np.ndarray:
            return gx

    clf = EmbeddingIntentClassifier(cfg)
    w0, c0 = time.perf_counter(), time.process_time()
    rep = clf.fit(tr.x, tr.texts, tr.labels, val=(va.x, va.texts, va.labels), embed=embed)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    preds = clf.predict(te.x, te.texts)
    pred = np.array(["oos" if p.abstain else p.ranking[0][0] for p in preds])
    o = te.is_oos
    rej = pred == "oos"
    res = {
        "config": overrides,
        "clinc_in_scope_acc": float((pred == te.y)[~o].mean()),
        "clinc_oos_recall": float(rej[o].mean()),
        "clinc_oos_precision": float(o[rej].mean()) if rej.any() else 0.0,
        "clinc_closed_acc": float((np.array([p.ranking[0][0] for p in preds]) == te.y)[~o].mean()),
        "train_wall_s": wall,
        "train_cpu_s": cpu,
        "threshold": rep["threshold"],
        "margin": rep["ambiguity_margin"],
    }
    t0 = time.perf_counter()
    for i in range(200):
        clf.predict(te.x[i : i + 1], te.texts[i : i + 1])
    res["predict_ms_per_message"] = (time.perf_counter() - t0) / 200 * 1000
    if not args.skip_banking:
        btr, bte = load(args, "banking77", "train"), load(args, "banking77", "test")
        b = EmbeddingIntentClassifier(cfg)
        w0 = time.perf_counter()
        b.fit(btr.x, btr.texts, btr.labels)
        res["banking_train_wall_s"] = time.perf_counter() - w0
        bp = b.predict(bte.x, bte.texts)
        res["banking_acc"] = float(np.mean([p.ranking[0][0] == y for p, y in zip(bp, bte.y, strict=True)]))
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()

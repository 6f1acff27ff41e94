"""Experiment 7: OOS scores on top of the shipped head (CLINC150), thresholds fitted on val.

For each score: in-scope / oos recall / precision with the module's val-fitted threshold and
margin (w = oos_weight), and the oracle recall at 95.0 / 95.5 in-scope on test.

HF_HUB_OFFLINE=1 ../../.venv/bin/python exp07_oos_scores.py [--set k=v ...] [--w 0.05 0.1]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from common import load, parser, recall_at_in_acc

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.nlu.classifier import ClassifierConfig, EmbeddingIntentClassifier  # noqa: E402
from bot.nlu.classifier.abstention import fit_abstention  # noqa: E402


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--w", type=float, nargs="+", default=[0.05])
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()
    cfg = ClassifierConfig(**{k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)})
    tr, va, te = (load(args, "clinc150", s) for s in ("train", "val", "test"))
    clf = EmbeddingIntentClassifier(cfg)
    clf.fit(tr.x, tr.texts, tr.labels, val=(va.x, va.texts, va.labels))
    head = clf.head
    assert head is not None
    bank = tr.x[~tr.is_oos]

    def signals(split):  # type: ignore[no-untyped-def]
        raw = head.raw_scores(split.x, split.texts)
        probs = head.probabilities(raw)
        lg = raw.logits / head.temperature
        sims = split.x @ bank.T
        knn = np.sort(sims, axis=1)[:, -args.k :].mean(1)
        top2 = np.sort(probs, 1)[:, -2:]
        return probs, {
            "maxprob": probs.max(1),
            "maha": raw.signals["maha"],
            "knn": knn,
            "energy": np.log(np.exp(lg - lg.max(1, keepdims=True)).sum(1)) + lg.max(1),
            "margin": top2[:, 1] - top2[:, 0],
        }

    vp, vs = signals(va)
    tp, ts = signals(te)
    vin = ~va.is_oos
    z = {k: (float(v[vin].mean()), float(v[vin].std())) for k, v in vs.items()}
    combos = [
        ("maxprob", "maha"),
        ("maxprob", "maha", "knn"),
        ("maxprob", "knn"),
        ("energy", "maha"),
        ("energy", "maha", "knn"),
        ("maxprob", "maha", "knn", "energy"),
        ("maxprob", "margin", "maha", "knn"),
    ]
    labels = np.asarray(head.labels)
    for combo in combos:
        vsc = sum((vs[k] - z[k][0]) / z[k][1] for k in combo)
        tsc = sum((ts[k] - z[k][0]) / z[k][1] for k in combo)
        vpred = labels[vp.argmax(1)]
        tpred = labels[tp.argmax(1)]
        for w in args.w:
            t, m, _ = fit_abstention(
                vp,
                vsc,
                (vpred == va.y) & vin,
                va.is_oos,
                oos_weight=w,
                max_in_scope_rejection=0.02,
                fixed_threshold=None,
                fixed_margin=None,
            )
            gap = np.sort(tp, 1)[:, -1] - np.sort(tp, 1)[:, -2]
            rej = (tsc < t) | (gap < m)
            o = te.is_oos
            res = {
                "score": "+".join(combo),
                "w": w,
                "in_acc": float(((tpred == te.y) & ~rej)[~o].mean()),
                "oos_rec": float(rej[o].mean()),
                "oos_prec": float(o[rej].mean()) if rej.any() else 0.0,
                "oracle95": recall_at_in_acc(tpred, tsc, te, 0.95),
                "oracle955": recall_at_in_acc(tpred, tsc, te, 0.955),
                "config": args.set,
            }
            print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()

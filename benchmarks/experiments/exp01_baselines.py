"""Experiment 1: linear heads on frozen MiniLM and the usual OOS scores.

HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/experiments/exp01_baselines.py
"""

from __future__ import annotations

import time

import numpy as np
from common import fit_threshold, load, oos_metrics, parser, recall_at_in_acc
from scipy.special import logsumexp, softmax
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC


def zs(v: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return (v - ref.mean()) / ref.std()


def main() -> None:
    args = parser(__doc__).parse_args()
    tr, va, te = (load(args, "clinc150", s) for s in ("train", "val", "test"))
    ins = tr.subset(~tr.is_oos)
    b_tr, b_te = load(args, "banking77", "train"), load(args, "banking77", "test")

    for name, make in [
        ("LR C=1", lambda: LogisticRegression(C=1.0, max_iter=1000)),
        ("LR C=10", lambda: LogisticRegression(C=10.0, max_iter=1000)),
        ("LR C=100", lambda: LogisticRegression(C=100.0, max_iter=2000)),
        ("LinearSVC C=1", lambda: LinearSVC(C=1.0)),
    ]:
        t0 = time.perf_counter()
        clf = make().fit(ins.x, ins.y)
        secs = time.perf_counter() - t0
        bacc = float((make().fit(b_tr.x, b_tr.y).predict(b_te.x) == b_te.y).mean())
        classes = clf.classes_
        rows = {}
        for sname in ("maxprob", "energy", "margin", "knn10", "maha", "z(maxprob+knn+maha)"):
            sc = {}
            pr = {}
            for key, sp in (("val", va), ("test", te)):
                logits = clf.decision_function(sp.x)
                p = softmax(logits, axis=1)
                pr[key] = classes[p.argmax(1)]
                srt = np.sort(p, axis=1)
                sim = sp.x @ ins.x.T
                knn = np.sort(sim, axis=1)[:, -10:].mean(1)
                sc[key] = {
                    "maxprob": srt[:, -1],
                    "energy": logsumexp(logits, axis=1),
                    "margin": srt[:, -1] - srt[:, -2],
                    "knn10": knn,
                }
            # Mahalanobis, shared covariance
            means = np.stack([ins.x[ins.y == c].mean(0) for c in classes])
            cen = ins.x - means[np.searchsorted(classes, ins.y)]
            cov = np.cov(cen.T) + 1e-3 * np.eye(cen.shape[1])
            vals, vecs = np.linalg.eigh(cov)
            whiten = (vecs / np.sqrt(vals)) @ vecs.T
            mw = means @ whiten
            for key, sp in (("val", va), ("test", te)):
                z = sp.x @ whiten
                m = (z * z).sum(1)[:, None] - 2 * z @ mw.T + (mw**2).sum(1)[None]
                sc[key]["maha"] = -m.min(1)
            for key in ("val", "test"):
                s = sc[key]
                s["z(maxprob+knn+maha)"] = (
                    zs(s["maxprob"], sc["val"]["maxprob"])
                    + zs(s["knn10"], sc["val"]["knn10"])
                    + zs(s["maha"], sc["val"]["maha"])
                )
            t = fit_threshold(pr["val"], sc["val"][sname], va, oos_weight=0.1)
            m = oos_metrics(pr["test"], sc["test"][sname], t, te)
            r95 = recall_at_in_acc(pr["test"], sc["test"][sname], te, 0.95)
            rows[sname] = m
            noab = float((pr["test"] == te.y)[~te.is_oos].mean())
            print(
                f"{name:14s} {sname:22s} in={m['in_acc']:.4f} rec={m['oos_rec']:.3f} "
                f"prec={m['oos_prec']:.3f} | oracle rec@95={r95:.3f} noabst={noab:.4f} "
                f"bank={bacc:.4f} train={secs:.1f}s",
                flush=True,
            )


if __name__ == "__main__":
    main()

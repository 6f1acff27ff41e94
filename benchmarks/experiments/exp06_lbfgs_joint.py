"""Experiment 6: joint softmax over [alpha * embedding, TF-IDF] trained full-batch with L-BFGS.

Closed-set accuracy and timing of the solver alone (compared with the module's minibatch AdamW head,
`bot.nlu.classifier.training`).

HF_HUB_OFFLINE=1 ../../.venv/bin/python exp06_lbfgs_joint.py [--lam 1e-4 ...] [--iters 100 ...]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from common import load, parser

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.nlu.classifier.features import TfidfFeatures  # noqa: E402


def train(xd, xs, y, n_classes, lam_d, lam_s, iters):  # type: ignore[no-untyped-def]
    from scipy.optimize import minimize

    n, d = xd.shape
    ws = xs.shape[1]
    shapes = [(d, n_classes), (ws, n_classes), (n_classes,)]
    sizes = [int(np.prod(s)) for s in shapes]
    xsT = xs.T.tocsr()
    onehot = np.zeros((n, n_classes), dtype=np.float32)
    onehot[np.arange(n), y] = 1

    def unpack(v):  # type: ignore[no-untyped-def]
        out, o = [], 0
        for s, k in zip(shapes, sizes, strict=True):
            out.append(v[o : o + k].reshape(s).astype(np.float32))
            o += k
        return out

    def f(v):  # type: ignore[no-untyped-def]
        wd, wsp, b = unpack(v)
        z = xd @ wd + xs @ wsp + b
        z -= z.max(1, keepdims=True)
        lse = np.log(np.exp(z).sum(1))
        loss = float((lse - z[np.arange(n), y]).mean())
        p = np.exp(z - lse[:, None])
        g = (p - onehot) / n
        loss += 0.5 * lam_d * float((wd * wd).sum()) + 0.5 * lam_s * float((wsp * wsp).sum())
        gd = xd.T @ g + lam_d * wd
        gs = xsT @ g + lam_s * wsp
        gb = g.sum(0)
        return loss, np.concatenate([gd.ravel(), gs.ravel(), gb]).astype(np.float64)

    v0 = np.zeros(sum(sizes))
    r = minimize(f, v0, jac=True, method="L-BFGS-B", options={"maxiter": iters, "maxcor": 10})
    return unpack(r.x), r.nit


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--lam", type=float, nargs="+", default=[1e-4])
    ap.add_argument("--lam-sparse", type=float, nargs="+", default=[None])
    ap.add_argument("--alpha", type=float, nargs="+", default=[2.0])
    ap.add_argument("--iters", type=int, nargs="+", default=[100])
    ap.add_argument("--dataset", default="clinc150")
    args = ap.parse_args()
    tr = load(args, args.dataset, "train")
    te = load(args, args.dataset, "test")
    trm = ~tr.is_oos
    tr = tr.subset(trm)
    labels = sorted(set(tr.labels))
    y = np.searchsorted(labels, tr.y)
    t0 = time.perf_counter()
    feats, xs = TfidfFeatures.fit_transform(tr.texts, 2)
    tfidf_s = time.perf_counter() - t0
    xs_te = feats.transform(te.texts)
    ins = ~te.is_oos
    yte = np.searchsorted(labels, te.y[ins])
    for alpha in args.alpha:
        for lam in args.lam:
            for lam_s in args.lam_sparse:
                for iters in args.iters:
                    t0 = time.perf_counter()
                    lam_sp = lam if lam_s is None else lam_s
                    (wd, wsp, b), nit = train(tr.x * alpha, xs, y, len(labels), lam, lam_sp, iters)
                    secs = time.perf_counter() - t0
                    z = (te.x * alpha) @ wd + xs_te @ wsp + b
                    acc = float((z[ins].argmax(1) == yte).mean())
                    print(
                        json.dumps(
                            {
                                "dataset": args.dataset,
                                "alpha": alpha,
                                "lam": lam,
                                "lam_sparse": lam_s,
                                "iters": iters,
                                "nit": nit,
                                "closed_acc": acc,
                                "solver_s": secs,
                                "tfidf_s": tfidf_s,
                            }
                        ),
                        flush=True,
                    )


if __name__ == "__main__":
    main()

"""Experiment 3: closed-set accuracy of linear heads on embeddings + TF-IDF n-grams.

No abstention: the ceiling for in-scope accuracy before any OOS rejection.

HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/experiments/exp03_features.py
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from common import load, parser
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC


def feats(kind: str, alpha: float, fit_texts: list[str]):  # type: ignore[no-untyped-def]
    vecs = []
    if "word" in kind:
        vecs.append(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1))
    if "char" in kind:
        vecs.append(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2))
    for v in vecs:
        v.fit(fit_texts)

    def f(x: np.ndarray, texts: list[str]):  # type: ignore[no-untyped-def]
        parts = [sp.csr_matrix(x * alpha)] + [v.transform(texts) for v in vecs]
        return sp.hstack(parts).tocsr()

    return f


def main() -> None:
    args = parser(__doc__).parse_args()
    tr, te = load(args, "clinc150", "train"), load(args, "clinc150", "test")
    tr, te = tr.subset(~tr.is_oos), te.subset(~te.is_oos)
    b_tr, b_te = load(args, "banking77", "train"), load(args, "banking77", "test")
    grid = [
        ("emb", 1.0, "svc", 1.0),
        ("emb", 1.0, "svc", 0.3),
        ("emb+word", 1.0, "svc", 1.0),
        ("emb+word", 2.0, "svc", 1.0),
        ("emb+char", 1.0, "svc", 1.0),
        ("emb+char", 2.0, "svc", 1.0),
        ("emb+word+char", 1.0, "svc", 1.0),
        ("emb+word+char", 2.0, "svc", 1.0),
        ("emb+word+char", 2.0, "svc", 0.5),
        ("emb+word+char", 3.0, "svc", 1.0),
        ("emb+word+char", 2.0, "lr", 30.0),
    ]
    for kind, alpha, algo, c in grid:
        res = []
        for a, b in ((tr, te), (b_tr, b_te)):
            t0 = time.perf_counter()
            f = feats(kind, alpha, a.texts)
            xa = f(a.x, a.texts)
            clf = (LinearSVC(C=c) if algo == "svc" else LogisticRegression(C=c, max_iter=300)).fit(xa, a.y)
            secs = time.perf_counter() - t0
            acc = float((clf.predict(f(b.x, b.texts)) == b.y).mean())
            res.append((acc, secs))
        print(
            f"{kind:14s} a={alpha} {algo} C={c:5}  clinc={res[0][0]:.4f} ({res[0][1]:.1f}s)"
            f"  bank={res[1][0]:.4f} ({res[1][1]:.1f}s)",
            flush=True,
        )


if __name__ == "__main__":
    main()

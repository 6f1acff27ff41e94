"""Experiment 4: one softmax-linear head on [MiniLM embedding, TF-IDF word + char n-grams],
trained with Adam in torch (EmbeddingBag for the sparse part), optional outlier exposure
with out-of-scope negatives, and OOS scores (max-prob, Mahalanobis, kNN, z-summed).

HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/experiments/exp04_tfidf_torch.py [--only NAME]
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
from common import fit_threshold, load, oos_metrics, parser, recall_at_in_acc
from sklearn.covariance import ledoit_wolf
from sklearn.feature_extraction.text import TfidfVectorizer

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
torch.set_num_threads(2)


@dataclass
class Cfg:
    name: str
    word: bool = True
    char: bool = True
    alpha: float = 1.0  # scale of the embedding block
    epochs: int = 15
    lr: float = 0.01
    wd: float = 1e-4
    smooth: float = 0.0
    oe: float = 0.0
    generic: bool = False
    score: str = "z(maxprob+maha)"


def vectorizers(cfg: Cfg, texts: list[str]) -> list[TfidfVectorizer]:
    vecs = []
    if cfg.word:
        vecs.append(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1))
    if cfg.char:
        vecs.append(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2))
    for v in vecs:
        v.fit(texts)
    return vecs


def sparse(vecs: list[TfidfVectorizer], texts: list[str], n: int) -> sp.csr_matrix:
    if not vecs or n == 0:
        width = sum(len(v.vocabulary_) for v in vecs) or 1
        return sp.csr_matrix((n, width), dtype=np.float32)
    m = sp.hstack([v.transform(texts) for v in vecs]).tocsr().astype(np.float32)
    # each block is L2-normalised: divide by sqrt(#blocks) so the whole row has norm 1
    return (m / np.sqrt(len(vecs))).astype(np.float32).tocsr()


class Linear(torch.nn.Module):
    def __init__(self, dim: int, n_sparse: int, n_classes: int) -> None:
        super().__init__()
        self.dense = torch.nn.Linear(dim, n_classes)
        self.bag = torch.nn.EmbeddingBag(n_sparse, n_classes, mode="sum", sparse=True)
        torch.nn.init.zeros_(self.bag.weight)

    def forward(self, x: torch.Tensor, m: sp.csr_matrix) -> torch.Tensor:
        idx = torch.from_numpy(m.indices.astype(np.int64))
        off = torch.from_numpy(m.indptr[:-1].astype(np.int64))
        w = torch.from_numpy(m.data)
        return self.dense(x) + self.bag(idx, off, per_sample_weights=w)


def train(cfg: Cfg, x: np.ndarray, m: sp.csr_matrix, y: np.ndarray, nx: np.ndarray, nm: sp.csr_matrix) -> Linear:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n_classes = int(y.max()) + 1
    model = Linear(x.shape[1], m.shape[1], n_classes)
    opt = torch.optim.AdamW(model.dense.parameters(), lr=cfg.lr, weight_decay=cfg.wd)
    opt2 = torch.optim.SparseAdam(list(model.bag.parameters()), lr=cfg.lr)
    bs = 128
    steps = cfg.epochs * int(np.ceil(len(x) / bs))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps)
    sched2 = torch.optim.lr_scheduler.OneCycleLR(opt2, max_lr=cfg.lr, total_steps=steps)
    xt, yt = torch.from_numpy(x * cfg.alpha), torch.from_numpy(y)
    nxt = torch.from_numpy(nx * cfg.alpha)
    for _ in range(cfg.epochs):
        perm = rng.permutation(len(x))
        for i in range(0, len(x), bs):
            idx = perm[i : i + bs]
            logits = model(xt[idx], m[idx])
            loss = torch.nn.functional.cross_entropy(logits, yt[idx], label_smoothing=cfg.smooth)
            if cfg.oe and len(nx):
                j = rng.integers(0, len(nx), size=min(32, len(nx)))
                lg = model(nxt[j], nm[j])
                loss = loss + cfg.oe * (-torch.log_softmax(lg, 1).mean(1)).mean()
            opt.zero_grad()
            opt2.zero_grad()
            loss.backward()
            opt.step()
            opt2.step()
            sched.step()
            sched2.step()
    return model


CFGS = [
    Cfg("emb only (torch softmax)", word=False, char=False),
    Cfg("emb+word+char a=1"),
    Cfg("emb+word+char a=2", alpha=2.0),
    Cfg("emb+word+char a=2 wd=3e-5", alpha=2.0, wd=3e-5),
    Cfg("emb+word+char a=2 smooth=0.1", alpha=2.0, smooth=0.1),
    Cfg("emb+word+char a=2 +OE(oos train)", alpha=2.0, oe=0.5),
    Cfg("emb+word+char a=2 +OE(oos train+generic)", alpha=2.0, oe=0.5, generic=True),
]
SCORES = ("maxprob", "maha", "knn10", "z(maxprob+maha)", "z(maxprob+maha+knn)")


def run(cfg: Cfg, args: object, data: dict[str, object]) -> None:
    tr, va, te = data["tr"], data["va"], data["te"]  # type: ignore[misc]
    ins = tr.subset(~tr.is_oos)  # type: ignore[attr-defined]
    classes = np.unique(ins.y)
    neg_texts = list(tr.subset(tr.is_oos).texts)  # type: ignore[attr-defined]
    neg_x = tr.x[tr.is_oos]  # type: ignore[attr-defined]
    if cfg.generic:
        gx, gt = data["generic"]  # type: ignore[misc]
        keep = (gx @ ins.x.T).max(1) < 0.7
        neg_x, neg_texts = np.vstack([neg_x, gx[keep]]), neg_texts + [t for t, k in zip(gt, keep, strict=True) if k]
    t0 = time.perf_counter()
    vecs = vectorizers(cfg, ins.texts)
    model = train(
        cfg,
        ins.x,
        sparse(vecs, ins.texts, len(ins.x)),
        np.searchsorted(classes, ins.y),
        neg_x,
        sparse(vecs, neg_texts, len(neg_x)),
    )
    means = np.stack([ins.x[ins.y == c].mean(0) for c in classes])
    cov, _ = ledoit_wolf(ins.x - means[np.searchsorted(classes, ins.y)])
    vals, vecs_ = np.linalg.eigh(cov)
    whiten = ((vecs_ / np.sqrt(np.maximum(vals, 1e-8))) @ vecs_.T).astype(np.float32)
    means_w = means @ whiten
    secs = time.perf_counter() - t0

    def predict(s):  # type: ignore[no-untyped-def]
        with torch.no_grad():
            lg = model(torch.from_numpy(s.x * cfg.alpha), sparse(vecs, s.texts, len(s.x))).numpy()
        p = np.exp(lg - lg.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        z = s.x @ whiten
        d2 = (z * z).sum(1)[:, None] - 2 * z @ means_w.T + (means_w**2).sum(1)[None]
        maha = -d2.min(1)
        knn = np.sort(s.x @ ins.x.T, axis=1)[:, -10:].mean(1)
        return classes[p.argmax(1)], {"maxprob": p.max(1), "maha": maha, "knn10": knn}

    pv, sv = predict(va)
    pt, st = predict(te)
    ref = {k: (v[~va.is_oos].mean(), v[~va.is_oos].std()) for k, v in sv.items()}  # type: ignore[attr-defined]
    for d in (sv, st):
        z = {k: (d[k] - ref[k][0]) / ref[k][1] for k in ("maxprob", "maha", "knn10")}
        d["z(maxprob+maha)"] = z["maxprob"] + z["maha"]
        d["z(maxprob+maha+knn)"] = z["maxprob"] + z["maha"] + z["knn10"]
    closed = float((pt == te.y)[~te.is_oos].mean())  # type: ignore[attr-defined]
    for sname in SCORES:
        if cfg.score != "all" and sname not in (cfg.score, "maxprob"):
            continue
        t = fit_threshold(pv, sv[sname], va, oos_weight=0.1)  # type: ignore[arg-type]
        m = oos_metrics(pt, st[sname], t, te)  # type: ignore[arg-type]
        r95 = recall_at_in_acc(pt, st[sname], te, 0.95)  # type: ignore[arg-type]
        r955 = recall_at_in_acc(pt, st[sname], te, 0.955)  # type: ignore[arg-type]
        print(
            f"{cfg.name:42s} {sname:20s} in={m['in_acc']:.4f} rec={m['oos_rec']:.3f} "
            f"prec={m['oos_prec']:.3f} | closed={closed:.4f} oracle rec@95={r95:.3f} "
            f"rec@95.5={r955:.3f} train={secs:.1f}s",
            flush=True,
        )
    b = data["bank"]
    if isinstance(b, tuple):
        btr, bte = b
        bcl = np.unique(btr.y)
        bvecs = vectorizers(cfg, btr.texts)
        bm = train(
            cfg,
            btr.x,
            sparse(bvecs, btr.texts, len(btr.x)),
            np.searchsorted(bcl, btr.y),
            np.zeros((0, 384), np.float32),
            sparse(bvecs, [], 0),
        )
        with torch.no_grad():
            blg = bm(torch.from_numpy(bte.x * cfg.alpha), sparse(bvecs, bte.texts, len(bte.x)))
        bacc = float((bcl[blg.numpy().argmax(1)] == bte.y).mean())
    print(f"{cfg.name:42s} BANKING77 acc={bacc:.4f}", flush=True)


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--only", default="")
    ap.add_argument("--all-scores", action="store_true")
    args = ap.parse_args()
    tr, va, te = (load(args, "clinc150", s) for s in ("train", "val", "test"))
    data: dict[str, object] = {"tr": tr, "va": va, "te": te}
    data["bank"] = (load(args, "banking77", "train"), load(args, "banking77", "test"))
    from embed_cache import embed_texts

    from bot.nlu.classifier.corpus import generic_oos_texts

    gt = generic_oos_texts()
    gpath = args.cache / "generic_oos.npy"
    if not gpath.exists():
        np.save(gpath, embed_texts(gt))
    data["generic"] = (np.load(gpath), gt)
    for cfg in CFGS:
        if args.only and args.only not in cfg.name:
            continue
        if args.all_scores:
            cfg.score = "all"
        run(cfg, args, data)


if __name__ == "__main__":
    main()

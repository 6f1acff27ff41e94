"""Experiment 17 (script exp15): a cosine-softmax joint head on [dense features, TF-IDF].

Experiment 2 found a cosine head (normalised weights and inputs, scale s) +1.2 points over a
linear softmax on BANKING77 with the embedding alone. Does the gain survive beside the TF-IDF
block? logits = s * cos(dense, W_c) + TF-IDF @ S + b, trained in torch (Adam on the dense part,
SparseAdam on the TF-IDF rows through an EmbeddingBag), compared with the same trainer in
linear mode (logits = dense @ W + TF-IDF @ S + b). Dense block as exp10 (`--spec`), from the
exp13 cache. Reports top-1 on the BANKING77 holdout (stratified 20 % of train) and test, with
and without the kNN vote (weight 0.2), and CLINC150 val / test closed-set accuracy.

OMP_NUM_THREADS=2 ../../.venv/bin/python exp15_cosine_joint.py --spec emb:2,max6:1 --mode cos --scale 16
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from embed_cache import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT))

from exp10_layer_heads import Data, Dense, knn_vote, softmax  # noqa: E402

from bot.nlu.classifier.features import TfidfFeatures  # noqa: E402


def train(xd: np.ndarray, m: object, y: np.ndarray, n_classes: int, args: argparse.Namespace) -> object:
    import torch

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    n, dim = xd.shape
    width = m.shape[1]  # type: ignore[attr-defined]
    w = torch.nn.Parameter(torch.zeros(n_classes, dim) if args.mode == "linear" else 0.01 * torch.randn(n_classes, dim))
    b = torch.nn.Parameter(torch.zeros(n_classes))
    bag = torch.nn.EmbeddingBag(width, n_classes, mode="sum", sparse=True)
    torch.nn.init.zeros_(bag.weight)
    log_s = torch.nn.Parameter(torch.tensor(float(np.log(args.scale))))
    dense_params = [w, b] + ([log_s] if args.learn_scale else [])
    opt = torch.optim.AdamW(dense_params, lr=args.lr, weight_decay=args.wd)
    opt_s = torch.optim.SparseAdam(list(bag.parameters()), lr=args.lr)
    xt = torch.from_numpy(np.ascontiguousarray(xd, dtype=np.float32))
    yt = torch.from_numpy(y.astype(np.int64))
    steps = args.epochs * int(np.ceil(n / args.batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    sched_s = torch.optim.lr_scheduler.OneCycleLR(opt_s, max_lr=args.lr, total_steps=steps, cycle_momentum=False)

    def forward(idx: np.ndarray) -> torch.Tensor:
        mb = m[idx]  # type: ignore[index]
        sparse = bag(
            torch.from_numpy(mb.indices.astype(np.int64)),
            torch.from_numpy(mb.indptr[:-1].astype(np.int64)),
            per_sample_weights=torch.from_numpy(mb.data.astype(np.float32)),
        )
        xb = xt[idx]
        if args.mode == "linear":
            dense = xb @ w.T
        else:
            unit_w = torch.nn.functional.normalize(w, dim=1)
            dense = torch.exp(log_s) * torch.nn.functional.normalize(xb, dim=1) @ unit_w.T
        return dense + sparse + b  # type: ignore[no-any-return]

    for _ in range(args.epochs):
        perm = rng.permutation(n)
        for i in range(0, n, args.batch):
            idx = perm[i : i + args.batch]
            loss = torch.nn.functional.cross_entropy(forward(idx), yt[idx], label_smoothing=args.smooth)
            opt.zero_grad()
            opt_s.zero_grad()
            loss.backward()
            opt.step()
            opt_s.step()
            sched.step()
            sched_s.step()

    def predict(xe: np.ndarray, me: object) -> np.ndarray:
        with torch.no_grad():
            xt_e = torch.from_numpy(np.ascontiguousarray(xe, dtype=np.float32))
            sparse = bag(
                torch.from_numpy(me.indices.astype(np.int64)),  # type: ignore[attr-defined]
                torch.from_numpy(me.indptr[:-1].astype(np.int64)),  # type: ignore[attr-defined]
                per_sample_weights=torch.from_numpy(me.data.astype(np.float32)),  # type: ignore[attr-defined]
            )
            if args.mode == "linear":
                dense = xt_e @ w.T
            else:
                dense = torch.exp(log_s) * (
                    torch.nn.functional.normalize(xt_e, dim=1) @ torch.nn.functional.normalize(w, dim=1).T
                )
            return (dense + sparse + b).numpy()  # type: ignore[no-any-return]

    return predict


def run(tr: Data, evs: list[Data], args: argparse.Namespace, vote: bool) -> list[dict[str, float]]:
    labels = np.asarray(sorted(set(tr.y.tolist())))
    idx = np.searchsorted(labels, tr.y)
    feats, m = TfidfFeatures.fit_transform(tr.texts, 2)
    dense = Dense(args.spec, tr, "l2")
    predict = train(dense(tr), m, idx, len(labels), args)
    out = []
    for ev in evs:
        keep = np.isin(ev.y, labels)
        ey = np.searchsorted(labels, ev.y)
        lg = predict(dense(ev), feats.transform(ev.texts))  # type: ignore[operator]
        r = {"top1": round(100 * float((lg.argmax(1) == ey)[keep].mean()), 2)}
        if vote:
            order = np.argsort(idx, kind="stable")
            start = np.searchsorted(idx[order], np.arange(len(labels) + 1))
            q = knn_vote(ev.arr("emb"), tr.arr("emb")[order], idx[order], start, lg, 10, 0.05)
            p = 0.8 * softmax(lg) + 0.2 * q
            r["knn0.2"] = round(100 * float((p.argmax(1) == ey)[keep].mean()), 2)
        out.append(r)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--spec", default="emb:2,max6:1")
    ap.add_argument("--mode", choices=("cos", "linear"), default="cos")
    ap.add_argument("--scale", type=float, default=16.0)
    ap.add_argument("--learn-scale", action="store_true")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--wd", type=float, default=1e-4)
    ap.add_argument("--smooth", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--clinc", action="store_true")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    res: dict[str, object] = {k: v for k, v in vars(args).items() if k != "threads"}
    from common import holdout_mask

    full = Data("banking77", "train")
    ma = holdout_mask(full.y)
    t0 = time.perf_counter()
    (res["banking_holdout"],) = run(full.subset(ma), [full.subset(~ma)], args, True)
    (res["banking_test"],) = run(full, [Data("banking77", "test")], args, True)
    res["banking_s"] = round(time.perf_counter() - t0, 1)
    if args.clinc:
        tr = Data("clinc150", "train")
        res["clinc_val"], res["clinc_test"] = run(
            tr.subset(tr.y != "oos"), [Data("clinc150", "val"), Data("clinc150", "test")], args, False
        )
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()

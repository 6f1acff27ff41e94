"""Experiment 10: the joint [dense features, TF-IDF] head with extra same-pass features.

Re-implements the module's pipeline (bot.nlu) around a free choice of the dense block:
train the numpy joint head (`train_softmax`, lazy sparse AdamW) on in-scope CLINC train,
calibrate the temperature and z-normalise the OOS signals on val in-scope, fit threshold and
margin on val with `fit_abstention` (w = oos weight), report test. Mahalanobis and kNN
(top-5 intents' examples) stay on the final sentence embedding unless --maha says otherwise.
With --seeds > 1 the heads' logits are averaged (a linear model: equal to one head with
averaged weights, so no extra prediction cost).

Dense block spec: comma-separated name:weight, e.g. ``emb:2,meanL4:1``; names are the arrays
of exp13_token_cache.py (which replaced exp09_layer_cache.py). `emb` is used as is (unit norm);
every other block is centred on the train mean and L2-normalised per row (--norm l2) or standardised per dim and
then L2-normalised (--norm z), then multiplied by its weight.

BANKING77 (--banking): `holdout` trains on a stratified 80% of train and reports accuracy on
the other 20% (for choosing); `test` trains on all of train and reports test accuracy.

OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 ../../.venv/bin/python exp10_layer_heads.py \
    --spec emb:2 emb:2,meanL4:1 [--epochs 5] [--seeds 1] [--w 0.05] [--banking holdout test]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from common import recall_at_in_acc
from embed_cache import REPO_ROOT, read_jsonl

sys.path.insert(0, str(REPO_ROOT))

from bot.nlu.classifier import ClassifierConfig  # noqa: E402
from bot.nlu.classifier.abstention import bagged_threshold, fit_abstention  # noqa: E402
from bot.nlu.classifier.features import TfidfFeatures  # noqa: E402
from bot.nlu.classifier.head import fit_temperature  # noqa: E402
from bot.nlu.classifier.signals import knn_similarity, whitening  # noqa: E402
from bot.nlu.classifier.training import train_softmax  # noqa: E402

CACHE = Path("/tmp/intent_exp")
DATA = REPO_ROOT / ".." / "shared" / "data"


class Data:
    def __init__(self, dataset: str, split: str, rows: np.ndarray | None = None) -> None:
        texts, labels = read_jsonl(DATA / dataset / f"{split}.jsonl")
        self.dataset, self.split = dataset, split
        self.rows = np.arange(len(texts)) if rows is None else rows
        self.texts = [texts[i] for i in self.rows]
        self.y = np.asarray(labels)[self.rows]
        self._cache: dict[str, np.ndarray] = {}

    def arr(self, name: str) -> np.ndarray:
        if name not in self._cache:
            self._cache[name] = np.load(CACHE / f"{self.dataset}_{self.split}_{name}.npy")[self.rows]
        return self._cache[name]

    def subset(self, mask: np.ndarray) -> Data:
        d = Data.__new__(Data)
        d.dataset, d.split = self.dataset, self.split
        d.rows = self.rows[mask]
        d.texts = [t for t, k in zip(self.texts, mask, strict=True) if k]
        d.y = self.y[mask]
        d._cache = {k: v[mask] for k, v in self._cache.items()}
        return d


def parse_spec(spec: str) -> list[tuple[str, float]]:
    out = []
    for part in spec.split(","):
        name, _, w = part.partition(":")
        out.append((name, float(w or 1.0)))
    return out


class Dense:
    """Builds the dense block from a spec, with normalisation statistics fitted on train."""

    def __init__(self, spec: str, train: Data, norm: str) -> None:
        self.blocks = parse_spec(spec)
        self.norm = norm
        self.stats: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, _ in self.blocks:
            if name != "emb":
                a = train.arr(name)
                mu = a.mean(0)
                sd = a.std(0) + 1e-6 if norm == "z" else np.ones_like(mu)
                self.stats[name] = (mu, sd)

    def __call__(self, d: Data) -> np.ndarray:
        parts = []
        for name, w in self.blocks:
            a = d.arr(name)
            if name != "emb":
                mu, sd = self.stats[name]
                a = (a - mu) / sd
                a = a / np.linalg.norm(a, axis=1, keepdims=True)
            parts.append(w * a)
        return np.ascontiguousarray(np.hstack(parts), dtype=np.float32)


def train_heads(
    xd: np.ndarray, m: object, idx: np.ndarray, n_classes: int, args: argparse.Namespace
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dense = bias = sparse = None
    for s in range(args.seeds):
        p = ClassifierConfig(
            epochs=args.epochs, batch_size=args.batch, learning_rate=args.lr, weight_decay=args.wd, seed=args.seed + s
        )
        d, b, sp_ = train_softmax(xd, idx, n_classes, p, m)
        assert sp_ is not None
        if dense is None:
            dense, bias, sparse = d, b, sp_
        else:
            dense, bias, sparse = dense + d, bias + b, sparse + sp_
    assert dense is not None and bias is not None and sparse is not None
    k = float(args.seeds)
    return dense / k, bias / k, sparse / k


def knn_vote(
    e: np.ndarray, bank: np.ndarray, bank_y: np.ndarray, start: np.ndarray, lg: np.ndarray, k: int, temp: float
) -> np.ndarray:
    """Distribution of the labels of the k nearest examples among the top-5 intents' examples
    (weights exp(cos / temp)): the neighbours the kNN OOS signal already finds."""
    top = np.argpartition(-lg, 4, axis=1)[:, :5]
    q = np.zeros_like(lg)
    for i in range(len(e)):
        rows = np.concatenate([np.arange(start[c], start[c + 1]) for c in top[i]])
        sims = bank[rows] @ e[i]
        nn = np.argpartition(-sims, k - 1)[:k]
        np.add.at(q[i], bank_y[rows[nn]], np.exp((sims[nn] - sims[nn].max()) / temp))
    return np.asarray(q / q.sum(1, keepdims=True))


def softmax(lg: np.ndarray) -> np.ndarray:
    lg = lg - lg.max(1, keepdims=True)
    e = np.exp(lg)
    return np.asarray(e / e.sum(1, keepdims=True))


def clinc(spec: str, args: argparse.Namespace, cached: dict[str, object]) -> dict[str, object]:
    tr, va, te = cached["tr"], cached["va"], cached["te"]
    assert isinstance(tr, Data) and isinstance(va, Data) and isinstance(te, Data)
    t0, c0 = time.perf_counter(), time.process_time()
    dense_of = Dense(spec, tr, args.norm)
    labels = np.asarray(sorted(set(tr.y.tolist())))
    idx = np.searchsorted(labels, tr.y)
    if "tfidf" not in cached:
        cached["tfidf"] = TfidfFeatures.fit_transform(tr.texts, 2)
    feats, m = cached["tfidf"]  # type: ignore[misc]
    xd = dense_of(tr)
    W, b, S = train_heads(xd, m, idx, len(labels), args)
    emb = tr.arr("emb") if args.maha == "emb" else Dense(args.maha, tr, args.norm)(tr)
    means = np.stack([emb[idx == c].mean(0) for c in range(len(labels))])
    whiten = whitening(emb - means[idx], 0.1).astype(np.float32)
    means_w = (means @ whiten).astype(np.float32)
    negbank = None
    if args.neg_knn:
        parts = []
        if "trainoos" in args.neg_knn:
            parts.append(cached["tro"].arr("emb"))  # type: ignore[union-attr]
        if "generic" in args.neg_knn:
            g = np.load(CACHE / "generic_emb.npy")
            parts.append(g[(g @ tr.arr("emb").T).max(1) < 0.7])
        if "more" in args.neg_knn:
            g = np.load(CACHE / "generic2_emb.npy")
            parts.append(g[(g @ tr.arr("emb").T).max(1) < 0.7])
        negbank = np.ascontiguousarray(np.vstack(parts), dtype=np.float32)
    extra_maha = {}
    for name in args.maha_extra:
        blk = Dense(f"{name}:1", tr, args.norm)
        f = blk(tr)
        mu = np.stack([f[idx == c].mean(0) for c in range(len(labels))])
        wh = whitening(f - mu[idx], args.shrink).astype(np.float32)
        extra_maha[name] = (blk, wh, (mu @ wh).astype(np.float32))
    order = np.argsort(idx, kind="stable")
    bank = np.ascontiguousarray(tr.arr("emb")[order])
    start = np.searchsorted(idx[order], np.arange(len(labels) + 1))
    tok_model = token_head(cached, "clinc150", tr, labels, args)
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0

    def raw(d: Data) -> dict[str, np.ndarray]:
        key = f"tfidf_{d.split}"
        if key not in cached:
            cached[key] = feats.transform(d.texts)
        lg = dense_of(d) @ W.T + b + np.asarray(cached[key] @ S)
        rank = lg
        if tok_model is not None:
            rank = lg + args.tok_beta * token_logits(tok_model, cached, "clinc150", d, args)
            if not args.rank_only:
                lg = rank
        e = d.arr("emb") if args.maha == "emb" else Dense(args.maha, tr, args.norm)(d)
        z = e @ whiten
        d2 = (z * z).sum(1)[:, None] - 2.0 * z @ means_w.T + (means_w * means_w).sum(1)[None, :]
        top = lg.max(1, keepdims=True)
        extra = {}
        if negbank is not None:
            sims = d.arr("emb") @ negbank.T
            if d.split == "train":  # train's own oos examples: leave each one out
                sims = np.where(sims > 0.9999, -1.0, sims)
            k = min(args.neg_k, sims.shape[1])
            extra["maha_neg"] = -np.sort(sims, 1)[:, -k:].mean(1)
        for name, (blk, wh, mw) in extra_maha.items():
            zz = blk(d) @ wh
            dd = (zz * zz).sum(1)[:, None] - 2.0 * zz @ mw.T + (mw * mw).sum(1)[None, :]
            extra[f"maha_{name}"] = -dd.min(1)
        return {
            **extra,
            "logits": lg,
            "rank": rank,
            "maha": -d2.min(1),
            "energy": top[:, 0] + np.log(np.exp(lg - top).sum(1)),
            "knn": knn_similarity(d.arr("emb"), bank, start, lg, 10, 5)[0],
            "vote": knn_vote(d.arr("emb"), bank, idx[order], start, lg, args.knn_k, args.knn_temp)
            if args.blend
            else np.zeros_like(lg),
        }

    rv, rt = raw(va), raw(te)
    vin = va.y != "oos"
    tro = cached.get("tro")
    if args.train_oos and isinstance(tro, Data):
        # the head never trained on train's oos examples: they are held out like val's
        ro = raw(tro)
        rv = {k: np.concatenate([rv[k], ro[k]]) for k in rv}
        va = Data.__new__(Data)
        va.y = np.concatenate([cached["va"].y, tro.y])  # type: ignore[union-attr]
        va.split = "val+trainoos"
        vin = va.y != "oos"
    T = fit_temperature(rv["logits"][vin], np.searchsorted(labels, va.y[vin]))
    out: dict[str, object] = {
        "spec": spec,
        "epochs": args.epochs,
        "seeds": args.seeds,
        "seed": args.seed,
        "blend": args.blend,
    }
    out.update(train_s=round(train_s, 1), train_cpu=round(train_cpu, 1))

    def signals(r: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        probs = (1 - args.blend) * softmax(r["logits"] / T) + args.blend * r["vote"]
        plain = softmax(r["logits"] / T) if args.blend_rank_only else probs
        sig = {"maxprob": plain.max(1), "maha": r["maha"], "energy": r["energy"], "knn": r["knn"]}
        sig.update({k: v for k, v in r.items() if k.startswith("maha_")})
        if args.rank_only:
            probs = softmax(r["rank"] / T)
        return probs, sig

    vp, vs = signals(rv)
    tp, ts = signals(rt)
    zs = {k: (v[vin].mean(), v[vin].std()) for k, v in vs.items()}
    vscore = sum((vs[k] - zs[k][0]) / zs[k][1] for k in args.score.split("+"))
    tscore = sum((ts[k] - zs[k][0]) / zs[k][1] for k in args.score.split("+"))
    vpred, tpred = labels[vp.argmax(1)], labels[tp.argmax(1)]
    tin = te.y != "oos"
    out["val_closed"] = round(100 * float((vpred == va.y)[vin].mean()), 2)
    out["test_closed"] = round(100 * float((tpred == te.y)[tin].mean()), 2)
    out["val_auroc"] = round(100 * auroc(vscore[vin], vscore[~vin]), 2)
    out["test_auroc"] = round(100 * auroc(tscore[tin], tscore[~tin]), 2)
    if args.signal_auroc:
        for k, v in ts.items():
            out[f"auroc_{k}"] = round(100 * auroc(v[tin], v[~tin]), 2)
    gap = np.sort(tp, 1)[:, -1] - np.sort(tp, 1)[:, -2]
    for w in args.w:
        t, mg, rep = fit_abstention(
            vp,
            vscore,
            (vpred == va.y) & vin,
            ~vin,
            oos_weight=w,
            max_in_scope_rejection=0.02,
            fixed_threshold=None,
            fixed_margin=None,
        )
        rej = (tscore < t) | (gap < mg)
        out[f"w{w}"] = [
            round(100 * float(((tpred == te.y) & ~rej)[tin].mean()), 2),
            round(100 * float(rej[~tin].mean()), 1),
            round(100 * float((~tin)[rej].mean()), 1),
            round(100 * rep["heldout_in_scope_acc"], 2),
            round(100 * rep["heldout_oos_recall"], 1),
            round(mg, 2),
        ]
        if args.bootstrap:
            vgap = np.sort(vp, 1)[:, -1] - np.sort(vp, 1)[:, -2]
            tb = bagged_threshold(vscore, (vpred == va.y) & vin, ~vin, vgap < mg, w, args.bootstrap, 0)
            rej = (tscore < tb) | (gap < mg)
            out[f"bag{w}"] = [
                round(100 * float(((tpred == te.y) & ~rej)[tin].mean()), 2),
                round(100 * float(rej[~tin].mean()), 1),
                round(100 * float((~tin)[rej].mean()), 1),
            ]
    if args.oracle:
        from common import Split

        s = Split(te.arr("emb"), te.texts, list(te.y))
        out["oracle95"] = round(100 * recall_at_in_acc(tpred, tscore, s, 0.95), 1)
        out["oracle955"] = round(100 * recall_at_in_acc(tpred, tscore, s, 0.955), 1)
    if args.dump:
        np.savez(
            CACHE / f"dump_{args.dump}_{spec.replace(',', '_').replace(':', '')}_s{args.seed}x{args.seeds}.npz",
            vp=vp,
            tp=tp,
            vscore=vscore,
            tscore=tscore,
            labels=labels,
            vy=va.y,
            ty=te.y,
            **{f"v_{k}": v for k, v in vs.items()},
            **{f"t_{k}": v for k, v in ts.items()},
        )
    return out


def _tokens(cached: dict[str, object], dataset: str, d: Data, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from exp14_token_heads import Tokens

    key = f"tok_{dataset}_{d.split}"
    if key not in cached:
        cached[key] = Tokens(dataset, d.split, args.tok_layers)
    full = cached[key]
    sub = Tokens.__new__(Tokens)
    sub.rows = d.rows
    sub.texts = d.texts
    sub.y = d.y
    sub.parts = [full.parts[i] for i in d.rows]  # type: ignore[attr-defined]
    sub.emb = full.emb[d.rows]  # type: ignore[attr-defined]
    return sub


def token_head(cached: dict[str, object], dataset: str, tr: Data, labels: np.ndarray, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    if not args.tok_model:
        return None
    import torch
    from exp14_token_heads import train_token_head

    torch.set_num_threads(args.tok_threads)
    targs = argparse.Namespace(
        model=args.tok_model,
        heads=args.tok_heads,
        dropout=0.1,
        lr=args.tok_lr,
        wd=0.01,
        epochs=args.tok_epochs,
        batch=64,
        smooth=0.0,
    )
    return train_token_head(_tokens(cached, dataset, tr, args), labels, targs, args.seed)


def token_logits(model, cached: dict[str, object], dataset: str, d: Data, args: argparse.Namespace) -> np.ndarray:  # type: ignore[no-untyped-def]
    from exp14_token_heads import logits_of

    if "split" in d.__dict__ and d.split == "val+trainoos":
        va, tro = cached["va"], cached["tro"]
        return np.concatenate([logits_of(model, _tokens(cached, dataset, x, args)) for x in (va, tro)])  # type: ignore[arg-type]
    return logits_of(model, _tokens(cached, dataset, d, args))


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of a positive > score of a negative)."""
    allv = np.concatenate([pos, neg])
    ranks = allv.argsort().argsort().astype(np.float64) + 1
    rp = ranks[: len(pos)].sum()
    return float((rp - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def banking(spec: str, mode: str, args: argparse.Namespace, cached: dict[str, object]) -> dict[str, object]:
    """Closed-set accuracy (holdout: also the per-class mean recall, i.e. accuracy under a
    uniform intent prior), with logit adjustment -tau * log(train prior) and kNN-vote blends."""
    key = f"bank_{mode}"
    if key not in cached:
        full = Data("banking77", "train")
        if mode == "holdout":
            from common import holdout_mask

            ma = holdout_mask(full.y)
            tr, ev = full.subset(ma), full.subset(~ma)
        else:
            tr, ev = full, Data("banking77", "test")
        feats, m = TfidfFeatures.fit_transform(tr.texts, 2)
        cached[key] = (tr, ev, m, feats.transform(ev.texts))
    tr, ev, m, mev = cached[key]  # type: ignore[misc]
    dense_of = Dense(spec, tr, args.norm)
    labels = np.asarray(sorted(set(tr.y.tolist())))
    idx = np.searchsorted(labels, tr.y)
    W, b, S = train_heads(dense_of(tr), m, idx, len(labels), args)
    lg = dense_of(ev) @ W.T + b + np.asarray(mev @ S)
    tok_model = token_head(cached, "banking77", tr, labels, args)
    if tok_model is not None:
        lg = lg + args.tok_beta * token_logits(tok_model, cached, "banking77", ev, args)
    ey = np.searchsorted(labels, ev.y)
    prior = np.log(np.bincount(idx, minlength=len(labels)) / len(idx))

    def acc(scores: np.ndarray) -> float:
        return round(100 * float((scores.argmax(1) == ey).mean()), 2)

    def bal(scores: np.ndarray) -> float:
        hit = scores.argmax(1) == ey
        return round(100 * float(np.mean([hit[ey == c].mean() for c in range(len(labels))])), 2)

    out: dict[str, object] = {"": acc(lg)}
    if mode == "holdout":
        out["bal"] = bal(lg)
    for tau in args.tau:
        adj = lg - tau * prior
        out[f"tau{tau}"] = acc(adj)
        if mode == "holdout":
            out[f"tau{tau}_bal"] = bal(adj)
    if args.knn_blend:
        order = np.argsort(idx, kind="stable")
        start = np.searchsorted(idx[order], np.arange(len(labels) + 1))
        q = knn_vote(ev.arr("emb"), tr.arr("emb")[order], idx[order], start, lg, args.knn_k, args.knn_temp)
        p = softmax(lg)
        for lam in args.knn_blend:
            out[f"knn{lam}"] = acc((1 - lam) * p + lam * q)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--spec", nargs="+", default=["emb:2"])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="independent runs (seeds) per spec, then a MEAN line")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--lr", type=float, default=0.03)
    ap.add_argument("--wd", type=float, default=1e-4)
    ap.add_argument("--norm", choices=("l2", "z"), default="l2")
    ap.add_argument("--maha", default="emb", help="spec of the features for Mahalanobis")
    ap.add_argument("--score", default="maxprob+maha+energy+knn")
    ap.add_argument("--w", type=float, nargs="+", default=[0.05])
    ap.add_argument("--banking", nargs="*", default=[], choices=("holdout", "test"))
    ap.add_argument("--tau", type=float, nargs="*", default=[], help="BANKING logit adjustment")
    ap.add_argument("--knn-blend", type=float, nargs="*", default=[], help="BANKING kNN-vote weights")
    ap.add_argument("--knn-k", type=int, default=10)
    ap.add_argument("--knn-temp", type=float, default=0.05)
    ap.add_argument("--blend", type=float, default=0.0, help="CLINC: weight of the kNN vote in the probabilities")
    ap.add_argument("--bootstrap", type=int, default=201, help="also report the bagged threshold (0 = off)")
    ap.add_argument("--skip-clinc", action="store_true")
    ap.add_argument("--maha-extra", nargs="*", default=[], help="extra Mahalanobis signals on these features")
    ap.add_argument("--shrink", type=float, default=0.1)
    ap.add_argument("--blend-rank-only", action="store_true", help="kNN vote ranks; maxprob from the plain softmax")
    ap.add_argument("--neg-knn", default="", help="negative-bank kNN signal: trainoos, generic or both")
    ap.add_argument("--neg-k", type=int, default=3)
    ap.add_argument("--signal-auroc", action="store_true")
    ap.add_argument("--tok-model", default="", help="exp14 token head added to the logits: attn, sa, cnn")
    ap.add_argument("--tok-layers", type=int, nargs="+", default=[6])
    ap.add_argument("--tok-beta", type=float, default=1.0)
    ap.add_argument(
        "--rank-only", action="store_true", help="the token head ranks intents; OOS signals stay the base head's"
    )
    ap.add_argument("--tok-heads", type=int, default=4)
    ap.add_argument("--tok-epochs", type=int, default=10)
    ap.add_argument("--tok-lr", type=float, default=2e-3)
    ap.add_argument("--tok-threads", type=int, default=1)
    ap.add_argument("--train-oos", action="store_true", help="fit thresholds on val + train's oos examples")
    ap.add_argument("--oracle", action="store_true")
    ap.add_argument("--dump", default="")
    args = ap.parse_args()
    cached: dict[str, object] = {}
    if not args.skip_clinc:
        tr = Data("clinc150", "train")
        cached["tr"] = tr.subset(tr.y != "oos")
        cached["tro"] = tr.subset(tr.y == "oos")
        cached["va"] = Data("clinc150", "val")
        cached["te"] = Data("clinc150", "test")
    base = args.seed
    for spec in args.spec:
        runs = []
        for r in range(args.repeat):
            args.seed = base + r * args.seeds
            res: dict[str, object] = {"spec": spec}
            if not args.skip_clinc:
                res = clinc(spec, args, cached)
            for mode in args.banking:
                for k, v in banking(spec, mode, args, cached).items():
                    res[f"banking_{mode}" + (f"_{k}" if k else "")] = v
            print(json.dumps(res), flush=True)
            runs.append(res)
        if args.repeat > 1:
            mean = {"spec": spec, "mean_of": args.repeat, "epochs": args.epochs, "seeds": args.seeds}
            for k, v in runs[0].items():
                if isinstance(v, (int, float)) and k not in ("seed", "epochs", "seeds"):
                    mean[k] = round(float(np.mean([r[k] for r in runs])), 2)
                elif isinstance(v, list):
                    mean[k] = [round(float(np.mean([r[k][i] for r in runs])), 2) for i in range(len(v))]
            print("MEAN", json.dumps(mean), flush=True)


if __name__ == "__main__":
    main()

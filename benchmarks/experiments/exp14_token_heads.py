"""Experiment 14: heads over the token vectors of the same MiniLM pass (exp13's cache).

Trains, in torch, a small classifier over the frozen token states of chosen layers and
reports closed-set accuracy on CLINC150 val/test (in-scope) and the BANKING77 holdout
(stratified 20% of train, head trained on the other 80%) or test. With --combine it also
trains the module's numpy joint head (emb:2 + TF-IDF, 5 epochs) and reports the accuracy
of logit sums joint + beta * token-head for several beta (beta chosen on val / holdout).

Models (--model):
- ``attn``: H learned attention poolings over LayerNorm'd tokens (weights softmax over the
  tokens of one text), concatenated with the mean pooling, dropout, linear to intents.
- ``sa``: one light self-attention layer (no feed-forward) over the tokens, residual,
  then masked mean + attention pooling, linear to intents.
- ``cnn``: 1-d convolutions (widths 1-3) over the tokens, max-pooled.

OMP_NUM_THREADS=2 ../../.venv/bin/python exp14_token_heads.py --model attn --layers 4 6
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from embed_cache import REPO_ROOT, read_jsonl

sys.path.insert(0, str(REPO_ROOT))

CACHE = Path("/tmp/intent_exp")
DATA = REPO_ROOT / ".." / "shared" / "data"


class Tokens:
    """Ragged token states of one split, as padded batches."""

    def __init__(self, dataset: str, split: str, layers: list[int], rows: np.ndarray | None = None) -> None:
        texts, labels = read_jsonl(DATA / dataset / f"{split}.jsonl")
        off = np.load(CACHE / f"{dataset}_{split}_tokoff.npy")
        toks = np.concatenate([np.load(CACHE / f"{dataset}_{split}_tokL{lay}.npy") for lay in layers], axis=1)
        self.rows = np.arange(len(texts)) if rows is None else rows
        self.texts = [texts[i] for i in self.rows]
        self.y = np.asarray(labels)[self.rows]
        self.parts = [toks[off[i] : off[i + 1]] for i in self.rows]
        self.emb = np.load(CACHE / f"{dataset}_{split}_emb.npy")[self.rows]

    def subset(self, mask: np.ndarray) -> Tokens:
        t = Tokens.__new__(Tokens)
        t.rows = self.rows[mask]
        t.texts = [x for x, k in zip(self.texts, mask, strict=True) if k]
        t.y = self.y[mask]
        t.parts = [p for p, k in zip(self.parts, mask, strict=True) if k]
        t.emb = self.emb[mask]
        return t

    def batch(self, idx: np.ndarray):  # type: ignore[no-untyped-def]
        import torch

        n = max(len(self.parts[i]) for i in idx)
        d = self.parts[0].shape[1]
        x = np.zeros((len(idx), n, d), dtype=np.float32)
        m = np.zeros((len(idx), n), dtype=bool)
        for j, i in enumerate(idx):
            p = self.parts[i]
            x[j, : len(p)] = p
            m[j, : len(p)] = True
        return torch.from_numpy(x), torch.from_numpy(m)


def build(kind: str, dim: int, n_classes: int, heads: int, dropout: float):  # type: ignore[no-untyped-def]
    import torch
    from torch import nn

    class AttnPool(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = nn.LayerNorm(dim)
            self.score = nn.Linear(dim, heads)
            self.drop = nn.Dropout(dropout)
            self.out = nn.Linear(dim * (heads + 1), n_classes)

        def pooled(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
            h = self.norm(x)
            s = self.score(h).masked_fill(~m[..., None], -1e9)  # (b, t, H)
            a = torch.softmax(s, dim=1)
            att = torch.einsum("bth,btd->bhd", a, h).flatten(1)
            mf = m[..., None].float()
            mean = (h * mf).sum(1) / mf.sum(1)
            return torch.cat([mean, att], 1)

        def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
            return self.out(self.drop(self.pooled(x, m)))  # type: ignore[no-any-return]

    class SelfAttn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = nn.LayerNorm(dim)
            self.att = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
            self.norm2 = nn.LayerNorm(dim)
            self.score = nn.Linear(dim, 1)
            self.drop = nn.Dropout(dropout)
            self.out = nn.Linear(2 * dim, n_classes)

        def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
            h = self.norm(x)
            a, _ = self.att(h, h, h, key_padding_mask=~m, need_weights=False)
            h = self.norm2(h + a)
            s = self.score(h).masked_fill(~m[..., None], -1e9)
            att = (torch.softmax(s, 1) * h).sum(1)
            mf = m[..., None].float()
            mean = (h * mf).sum(1) / mf.sum(1)
            return self.out(self.drop(torch.cat([mean, att], 1)))  # type: ignore[no-any-return]

    class Cnn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = nn.LayerNorm(dim)
            self.convs = nn.ModuleList([nn.Conv1d(dim, 256, k, padding=k // 2) for k in (1, 2, 3)])
            self.drop = nn.Dropout(dropout)
            self.out = nn.Linear(256 * 3 + dim, n_classes)

        def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
            h = self.norm(x)
            hc = h.transpose(1, 2)
            outs = []
            for c in self.convs:
                o = torch.relu(c(hc))[:, :, : h.shape[1]]
                outs.append(o.masked_fill(~m[:, None, :], -1e9).max(2).values)
            mf = m[..., None].float()
            outs.append((h * mf).sum(1) / mf.sum(1))
            return self.out(self.drop(torch.cat(outs, 1)))  # type: ignore[no-any-return]

    return {"attn": AttnPool, "sa": SelfAttn, "cnn": Cnn}[kind]()


def train_token_head(tr: Tokens, labels: np.ndarray, args: argparse.Namespace, seed: int):  # type: ignore[no-untyped-def]
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    y = torch.from_numpy(np.searchsorted(labels, tr.y).astype(np.int64))
    model = build(args.model, tr.parts[0].shape[1], len(labels), args.heads, args.dropout)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd)
    n = len(tr.y)
    steps = args.epochs * int(np.ceil(n / args.batch))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    # batches of similar length: sort by length within random chunks
    lengths = np.asarray([len(p) for p in tr.parts])
    model.train()
    for _ in range(args.epochs):
        perm = rng.permutation(n)
        chunks = [perm[i : i + args.batch * 20] for i in range(0, n, args.batch * 20)]
        batches = []
        for c in chunks:
            c = c[np.argsort(lengths[c], kind="stable")]
            batches += [c[i : i + args.batch] for i in range(0, len(c), args.batch)]
        rng.shuffle(batches)  # type: ignore[arg-type]
        for b in batches:
            x, m = tr.batch(b)
            loss = torch.nn.functional.cross_entropy(model(x, m), y[b], label_smoothing=args.smooth)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    return model


def logits_of(model, d: Tokens) -> np.ndarray:  # type: ignore[no-untyped-def]
    import torch

    out = []
    order = np.argsort([len(p) for p in d.parts], kind="stable")
    res = np.empty((len(d.y), 0), dtype=np.float32)
    with torch.inference_mode():
        for i in range(0, len(order), 512):
            b = order[i : i + 512]
            x, m = d.batch(b)
            out.append((b, model(x, m).numpy()))
    res = np.empty((len(d.y), out[0][1].shape[1]), dtype=np.float32)
    for b, v in out:
        res[b] = v
    return res


def joint_logits(tr: Tokens, evs: list[Tokens], labels: np.ndarray, seed: int) -> list[np.ndarray]:
    from bot.nlu.classifier import ClassifierConfig
    from bot.nlu.classifier.features import TfidfFeatures
    from bot.nlu.classifier.training import train_softmax

    feats, m = TfidfFeatures.fit_transform(tr.texts, 2)
    idx = np.searchsorted(labels, tr.y)
    cfg = ClassifierConfig(epochs=5, batch_size=512, learning_rate=0.03, weight_decay=1e-4, seed=seed)
    w, b, s = train_softmax(2.0 * tr.emb, idx, len(labels), cfg, m)  # the shipped head: 2 x embedding
    assert s is not None
    return [2.0 * ev.emb @ w.T + b + np.asarray(feats.transform(ev.texts) @ s) for ev in evs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default="attn", choices=("attn", "sa", "cnn"))
    ap.add_argument("--layers", type=int, nargs="+", default=[6])
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=0.01)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--smooth", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dataset", nargs="+", default=["clinc", "banking"])
    ap.add_argument("--banking", default="holdout", choices=("holdout", "test"))
    ap.add_argument("--combine", action="store_true")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    res: dict[str, object] = {k: v for k, v in vars(args).items() if k not in ("dataset", "threads")}
    if "clinc" in args.dataset:
        tr = Tokens("clinc150", "train", args.layers)
        tr = tr.subset(tr.y != "oos")
        va = Tokens("clinc150", "val", args.layers)
        va = va.subset(va.y != "oos")
        te = Tokens("clinc150", "test", args.layers)
        te = te.subset(te.y != "oos")
        labels = np.asarray(sorted(set(tr.y.tolist())))
        t0 = time.perf_counter()
        model = train_token_head(tr, labels, args, args.seed)
        res["clinc_train_s"] = round(time.perf_counter() - t0, 1)
        lv, lt = logits_of(model, va), logits_of(model, te)
        vy, ty = np.searchsorted(labels, va.y), np.searchsorted(labels, te.y)
        res["clinc_val"] = round(100 * float((lv.argmax(1) == vy).mean()), 2)
        res["clinc_test"] = round(100 * float((lt.argmax(1) == ty).mean()), 2)
        if args.combine:
            jv, jt = joint_logits(tr, [va, te], labels, args.seed)
            for beta in (0.0, 0.25, 0.5, 1.0, 2.0):
                res[f"clinc_comb{beta}"] = [
                    round(100 * float(((jv + beta * lv).argmax(1) == vy).mean()), 2),
                    round(100 * float(((jt + beta * lt).argmax(1) == ty).mean()), 2),
                ]
        print(json.dumps(res), flush=True)
    if "banking" in args.dataset:
        full = Tokens("banking77", "train", args.layers)
        if args.banking == "holdout":
            from common import holdout_mask

            ma = holdout_mask(full.y)
            tr, ev = full.subset(ma), full.subset(~ma)
        else:
            tr, ev = full, Tokens("banking77", "test", args.layers)
        labels = np.asarray(sorted(set(tr.y.tolist())))
        t0 = time.perf_counter()
        model = train_token_head(tr, labels, args, args.seed)
        res["bank_train_s"] = round(time.perf_counter() - t0, 1)
        le = logits_of(model, ev)
        ey = np.searchsorted(labels, ev.y)
        res[f"bank_{args.banking}"] = round(100 * float((le.argmax(1) == ey).mean()), 2)
        if args.combine:
            (je,) = joint_logits(tr, [ev], labels, args.seed)
            for beta in (0.0, 0.25, 0.5, 1.0, 2.0):
                res[f"bank_comb{beta}"] = round(100 * float(((je + beta * le).argmax(1) == ey).mean()), 2)
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()

"""Experiment 2: small heads trained with torch on frozen MiniLM embeddings.

Variants: linear softmax, cosine head with additive margin (CosFace), outlier exposure
with the 100 CLINC oos training examples, mixup pseudo-outliers, MLP adapter.

HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/experiments/exp02_torch_heads.py
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from common import fit_threshold, load, oos_metrics, parser, recall_at_in_acc

torch.set_num_threads(2)


@dataclass
class Cfg:
    name: str
    head: str = "linear"  # linear | cosine
    hidden: int = 0  # 0 = no adapter
    scale: float = 30.0
    margin: float = 0.0
    epochs: int = 30
    lr: float = 3e-3
    wd: float = 0.0
    label_smoothing: float = 0.0
    oe_weight: float = 0.0  # outlier exposure with explicit oos examples
    mix_weight: float = 0.0  # pseudo outliers from between-class mixup
    dropout: float = 0.0
    score: str = "maxlogit"
    extra: dict[str, float] = field(default_factory=dict)


class Head(torch.nn.Module):
    def __init__(self, cfg: Cfg, dim: int, n_classes: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.drop = torch.nn.Dropout(cfg.dropout)
        if cfg.hidden:
            self.adapter = torch.nn.Sequential(
                torch.nn.Linear(dim, cfg.hidden), torch.nn.GELU(), torch.nn.Linear(cfg.hidden, dim)
            )
        else:
            self.adapter = None
        self.w = torch.nn.Parameter(torch.randn(n_classes, dim) * 0.01)
        self.b = torch.nn.Parameter(torch.zeros(n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(x)
        if self.adapter is not None:
            x = x + self.adapter(x)
        if self.cfg.head == "cosine":
            x = torch.nn.functional.normalize(x, dim=1)
            w = torch.nn.functional.normalize(self.w, dim=1)
            return x @ w.T  # cosines
        return x @ self.w.T + self.b


def train(cfg: Cfg, x: np.ndarray, y: np.ndarray, neg: np.ndarray, seed: int = 0) -> Head:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_classes = int(y.max()) + 1
    model = Head(cfg, x.shape[1], n_classes)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.wd)
    xt, yt, nt = torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(neg)
    bs = 256
    steps = cfg.epochs * int(np.ceil(len(x) / bs))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps)
    for _ in range(cfg.epochs):
        perm = torch.from_numpy(rng.permutation(len(x)))
        for i in range(0, len(x), bs):
            idx = perm[i : i + bs]
            out = model(xt[idx])
            if cfg.head == "cosine":
                onehot = torch.nn.functional.one_hot(yt[idx], n_classes).float()
                logits = cfg.scale * (out - cfg.margin * onehot)
            else:
                logits = out
            loss = torch.nn.functional.cross_entropy(logits, yt[idx], label_smoothing=cfg.label_smoothing)
            uni = []
            if cfg.oe_weight and len(neg):
                j = torch.from_numpy(rng.integers(0, len(neg), size=min(64, len(neg))))
                uni.append((cfg.oe_weight, nt[j]))
            if cfg.mix_weight:
                a = xt[idx]
                b = xt[idx[torch.randperm(len(idx))]]
                lam = torch.from_numpy(rng.uniform(0.3, 0.7, size=(len(idx), 1)).astype(np.float32))
                mixed = torch.nn.functional.normalize(lam * a + (1 - lam) * b, dim=1)
                diff = yt[idx] != yt[idx[torch.randperm(len(idx))]]
                uni.append((cfg.mix_weight, mixed[diff] if diff.any() else mixed))
            for wgt, z in uni:
                o = model(z)
                lg = cfg.scale * o if cfg.head == "cosine" else o
                # cross entropy to the uniform distribution
                loss = loss + wgt * (-torch.log_softmax(lg, dim=1).mean(1)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    return model


def scores(cfg: Cfg, model: Head, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        out = model(torch.from_numpy(x))
        lg = cfg.scale * out if cfg.head == "cosine" else out
        p = torch.softmax(lg, dim=1)
        if cfg.score == "maxprob":
            s = p.max(1).values
        elif cfg.score == "energy":
            s = torch.logsumexp(lg, dim=1)
        else:
            s = out.max(1).values
    return p.argmax(1).numpy(), s.numpy()


CFGS = [
    Cfg("torch linear CE", epochs=30, lr=1e-2),
    Cfg("torch linear CE energy", epochs=30, lr=1e-2, score="energy"),
    Cfg("cosine s=30 m=0", head="cosine"),
    Cfg("cosine s=30 m=0.2 (CosFace)", head="cosine", margin=0.2),
    Cfg("cosine s=30 m=0.2 +OE", head="cosine", margin=0.2, oe_weight=0.5),
    Cfg("cosine s=30 m=0.2 +OE +mix", head="cosine", margin=0.2, oe_weight=0.5, mix_weight=0.5),
    Cfg(
        "cosine m=0.2 +adapter512 +OE +mix",
        head="cosine",
        margin=0.2,
        hidden=512,
        oe_weight=0.5,
        mix_weight=0.5,
        dropout=0.1,
    ),
    Cfg("linear +OE +mix energy", epochs=30, lr=1e-2, oe_weight=0.5, mix_weight=0.5, score="energy"),
]


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    tr, va, te = (load(args, "clinc150", s) for s in ("train", "val", "test"))
    ins = tr.subset(~tr.is_oos)
    classes = np.unique(ins.y)
    yi = np.searchsorted(classes, ins.y)
    neg = tr.x[tr.is_oos]
    b_tr, b_te = load(args, "banking77", "train"), load(args, "banking77", "test")
    bcl = np.unique(b_tr.y)
    for cfg in CFGS:
        if args.only and args.only not in cfg.name:
            continue
        t0 = time.perf_counter()
        model = train(cfg, ins.x, yi, neg)
        secs = time.perf_counter() - t0
        pv, sv = scores(cfg, model, va.x)
        pt, st = scores(cfg, model, te.x)
        pv, pt = classes[pv], classes[pt]
        t = fit_threshold(pv, sv, va)
        m = oos_metrics(pt, st, t, te)
        r95 = recall_at_in_acc(pt, st, te, 0.95)
        noab = float((pt == te.y)[~te.is_oos].mean())
        bm = train(cfg, b_tr.x, np.searchsorted(bcl, b_tr.y), np.zeros((0, 384), np.float32))
        bacc = float((bcl[scores(cfg, bm, b_te.x)[0]] == b_te.y).mean())
        print(
            f"{cfg.name:36s} in={m['in_acc']:.4f} rec={m['oos_rec']:.3f} prec={m['oos_prec']:.3f}"
            f" | oracle rec@95={r95:.3f} noabst={noab:.4f} bank={bacc:.4f} train={secs:.1f}s",
            flush=True,
        )


if __name__ == "__main__":
    main()

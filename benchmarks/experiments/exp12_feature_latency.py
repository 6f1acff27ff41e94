"""Experiment 12: prediction cost of the extra same-pass block (meanL4) in the joint head.

Per single message: (a) the torch cost of mean-pooling hidden state 4 inside the forward pass
(given the attention mask), (b) the numpy cost of centring + L2-normalising it and the dense
logits over [2 x emb, meanL4] (768 x 150) against the shipped 384 x 150. Median of N calls.

OMP_NUM_THREADS=1 ../../.venv/bin/python exp12_feature_latency.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np


def median_us(fn, n: int = 5000) -> float:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out) * 1e6


def main() -> None:
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    h = torch.randn(1, 16, 384)
    mask = torch.ones(1, 16, 1)

    def pool() -> None:
        with torch.inference_mode():
            (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    emb = rng.normal(size=(1, 384)).astype(np.float32)
    l4 = rng.normal(size=(1, 384)).astype(np.float32)
    mu = rng.normal(size=384).astype(np.float32)
    w1 = rng.normal(size=(150, 384)).astype(np.float32)
    w2 = rng.normal(size=(150, 768)).astype(np.float32)

    def shipped() -> None:
        2.0 * (emb @ w1.T)

    def extra() -> None:
        a = l4 - mu
        a = a / np.linalg.norm(a, axis=1, keepdims=True)
        np.hstack([2.0 * emb, a]) @ w2.T

    print(f"torch mean-pool of one hidden state (16 tokens): {median_us(pool):.1f} us")
    print(f"dense logits, shipped 384 x 150: {median_us(shipped):.1f} us")
    print(f"centre + L2 + dense logits 768 x 150: {median_us(extra):.1f} us")


if __name__ == "__main__":
    main()

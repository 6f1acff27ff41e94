"""Scoring experiments for knowledge-base retrieval on StackFAQ (frozen MiniLM).

Compares, on query group 1 (tuning) and group 2 (report):
- what to index: question only, question + answer (separate vectors / concatenated);
- how to pool phrasings of an entry: max, mean, softmax-pooled, centroid;
- BM25 fusion (rank_bm25) on top of the cosine score;
- abstention scores (max cosine, margin, combinations) with 25% of entries held out.

Usage (from the repo root)::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/experiments/retrieval_scoring.py

Embeddings are cached in /tmp/supportbot-retrieval-cache.sqlite so reruns are cheap.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from bot.encoding import CachedEncoder, SentenceTransformerEncoder  # noqa: E402

DATA = REPO_ROOT / ".." / "shared" / "data" / "stackfaq"
TOKEN = re.compile(r"\w+")


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def ranks(scores: np.ndarray, gold: np.ndarray) -> np.ndarray:
    gold_score = scores[np.arange(len(gold)), gold]
    return (scores > gold_score[:, None]).sum(axis=1) + 1


def metrics(scores: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    r = ranks(scores, gold)
    return {
        "r1": round(float((r == 1).mean()), 4),
        "r5": round(float((r <= 5).mean()), 4),
        "mrr10": round(float(np.where(r <= 10, 1.0 / r, 0.0).mean()), 4),
    }


def pool(sim: np.ndarray, owner: np.ndarray, n: int, how: str, temp: float = 0.05) -> np.ndarray:
    """Per-entry score from per-phrasing similarities (queries x phrasings)."""
    out = np.full((sim.shape[0], n), -1.0, dtype=np.float64)
    for e in range(n):
        cols = sim[:, owner == e]
        if how == "max":
            out[:, e] = cols.max(axis=1)
        elif how == "mean":
            out[:, e] = cols.mean(axis=1)
        elif how == "softmax":
            w = np.exp((cols - cols.max(axis=1, keepdims=True)) / temp)
            out[:, e] = (w * cols).sum(axis=1) / w.sum(axis=1)
        elif how == "lse":
            m = cols.max(axis=1, keepdims=True)
            out[:, e] = (m + temp * np.log(np.exp((cols - m) / temp).sum(axis=1, keepdims=True)))[:, 0]
    return out


def bm25_scores(docs: list[str], queries: list[str]) -> np.ndarray:
    from rank_bm25 import BM25Okapi

    bm = BM25Okapi([TOKEN.findall(d.lower()) for d in docs])
    s = np.vstack([bm.get_scores(TOKEN.findall(q.lower())) for q in queries])
    # normalise per query to [0, 1] by the best document
    top = s.max(axis=1, keepdims=True)
    top[top == 0] = 1.0
    return s / top


def main() -> None:
    faq = read_jsonl(DATA / "faq.jsonl")
    queries = read_jsonl(DATA / "queries.jsonl")
    ids = [str(f["id"]) for f in faq]
    pos = {i: k for k, i in enumerate(ids)}
    qs = [str(f["question"]) for f in faq]
    ans = [str(f["answer"]) for f in faq]
    qtext = [str(q["query"]) for q in queries]
    gold = np.array([pos[str(q["faq_id"])] for q in queries])
    group = np.array([int(q["group"]) for q in queries])  # type: ignore[call-overload]
    enc = CachedEncoder(SentenceTransformerEncoder(), Path("/tmp/supportbot-retrieval-cache.sqlite"))
    vq = enc.encode(qs)
    va = enc.encode(ans)
    vqa = enc.encode([f"{q}\n{a}" for q, a in zip(qs, ans, strict=True)])
    vx = enc.encode(qtext)
    g1, g2 = group == 1, group == 2
    out: dict[str, object] = {}

    def report(name: str, scores: np.ndarray) -> None:
        out[name] = {
            "g1": metrics(scores[g1], gold[g1]),
            "g2": metrics(scores[g2], gold[g2]),
            "all": metrics(scores, gold),
        }
        print(name, json.dumps(out[name]))

    s_q = vx @ vq.T
    s_a = vx @ va.T
    s_qa = vx @ vqa.T
    report("question_only", s_q)
    report("answer_only", s_a)
    report("question+answer concat", s_qa)
    report("max(question, answer)", np.maximum(s_q, s_a))
    for w in (0.1, 0.2, 0.3, 0.5):
        report(f"question + {w}*answer", s_q + w * s_a)
    bm_q = bm25_scores(qs, qtext)
    bm_qa = bm25_scores([f"{q} {a}" for q, a in zip(qs, ans, strict=True)], qtext)
    for w in (0.05, 0.1, 0.2):
        report(f"question + {w}*bm25(question)", s_q + w * bm_q)
        report(f"question + {w}*bm25(question+answer)", s_q + w * bm_qa)
    for w in (0.1, 0.2, 0.3):
        report(f"question + {w}*answer + 0.1*bm25(q+a)", s_q + w * s_a + 0.1 * bm_qa)

    # Alternates from group 1: pooling over phrasings, reported on group 2.
    phr_text: list[str] = []
    owner: list[int] = []
    for e, q in enumerate(qs):
        phr_text.append(q)
        owner.append(e)
    for k, q in enumerate(queries):
        if g1[k]:
            phr_text.append(str(q["query"]))
            owner.append(int(gold[k]))
    vp = enc.encode(phr_text)
    own = np.array(owner)
    sim2 = vx[g2] @ vp.T
    alt: dict[str, object] = {}
    for how, t in (("max", 0.0), ("mean", 0.0), ("softmax", 0.05), ("softmax", 0.1), ("lse", 0.05)):
        alt[f"{how}{t or ''}"] = metrics(pool(sim2, own, len(qs), how, t), gold[g2])
    cent = np.vstack([vp[own == e].mean(axis=0) for e in range(len(qs))])
    cent /= np.linalg.norm(cent, axis=1, keepdims=True)
    alt["centroid"] = metrics(vx[g2] @ cent.T, gold[g2])
    mx = pool(sim2, own, len(qs), "max")
    alt["max+0.3*answer"] = metrics(mx + 0.3 * s_a[g2], gold[g2])
    alt["max+0.5*centroid"] = metrics(mx + 0.5 * (vx[g2] @ cent.T), gold[g2])
    print("alternates-from-group-1 (group 2):", json.dumps(alt))
    out["alternates_group1_on_group2"] = alt
    Path("/tmp/retrieval_scoring.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

"""Fusion experiments on StackFAQ: weights, BM25 variants, extra entry vectors. Tuned on group 1 only.

Entries go through `build_service` (the CSV import path), so phrasings and rendered answers are the
ones the bot sees. Every signal is computed for all queries x entries once, then weight grids are
cheap. Selection is by group-1 R@1 (ties: group-1 MRR@10); group 2 and all are printed alongside.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/experiments/retrieval_fusion.py > /tmp/fusion.txt
"""

from __future__ import annotations

import itertools
import json
import math
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from retrieval import DATA, build_service, read_jsonl, real_encoder  # noqa: E402

from bot.faq.scoring import ScoringConfig, answer_lead, tokens  # noqa: E402

WORD = re.compile(r"\w+")
STOP = set(
    [
        "a",
        "an",
        "the",
        "to",
        "of",
        "in",
        "on",
        "for",
        "and",
        "or",
        "is",
        "are",
        "be",
        "can",
        "i",
        "my",
        "me",
        "do",
        "does",
        "how",
        "what",
        "why",
        "when",
        "where",
        "which",
        "it",
        "this",
        "that",
        "with",
        "from",
        "by",
        "at",
        "as",
        "you",
        "your",
        "there",
        "way",
        "get",
    ]
)


def light_stem(word: str) -> str:
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)] + repl
    return word


def tok_plain(text: str) -> list[str]:
    return tokens(text)


def tok_stem(text: str) -> list[str]:
    return [light_stem(w) for w in tokens(text)]


def tok_stem_stop(text: str) -> list[str]:
    return [light_stem(w) for w in tokens(text) if w not in STOP]


def bm25_matrix(
    docs: Sequence[list[str]], queries: Sequence[list[str]], k1: float = 1.5, b: float = 0.75
) -> np.ndarray:
    """Okapi BM25 with rank_bm25's idf (negative idf floored at 0.25 * mean idf)."""
    n = len(docs)
    df: Counter[str] = Counter()
    for d in docs:
        df.update(set(d))
    idf = {w: math.log(n - f + 0.5) - math.log(f + 0.5) for w, f in df.items()}
    eps = 0.25 * (sum(idf.values()) / len(idf))
    idf = {w: (v if v >= 0 else eps) for w, v in idf.items()}
    avg = sum(len(d) for d in docs) / n
    tfs = [Counter(d) for d in docs]
    lens = np.array([len(d) for d in docs], dtype=np.float64)
    out = np.zeros((len(queries), n))
    for qi, q in enumerate(queries):
        for w in q:
            if w not in idf:
                continue
            tf = np.array([t.get(w, 0) for t in tfs], dtype=np.float64)
            out[qi] += idf[w] * tf * (k1 + 1) / (tf + k1 * (1 - b + b * lens / avg))
    return out


def normalise_rows(m: np.ndarray) -> np.ndarray:
    top = m.max(axis=1, keepdims=True)
    top[top <= 0] = 1.0
    return m / top


def rank_of_gold(scores: np.ndarray, gold: np.ndarray) -> np.ndarray:
    g = scores[np.arange(len(gold)), gold]
    return (scores > g[:, None]).sum(axis=1) + 1


def metrics(scores: np.ndarray, gold: np.ndarray) -> tuple[float, float]:
    r = rank_of_gold(scores, gold)
    return float((r == 1).mean()), float(np.where(r <= 10, 1.0 / r, 0.0).mean())


def main() -> None:
    faq = read_jsonl(DATA / "stackfaq" / "faq.jsonl")
    queries = read_jsonl(DATA / "stackfaq" / "queries.jsonl")
    enc = real_encoder()
    with tempfile.TemporaryDirectory() as tmp:
        service = build_service(faq, enc, Path(tmp), ScoringConfig())
        snap = service.snapshot
        entries = list(snap.entries)
        answers = [snap.answers[e.id] for e in entries]
    pos = {e.id: k for k, e in enumerate(entries)}
    gold = np.array([pos[str(q["faq_id"])] for q in queries])
    g1 = np.array([q["group"] == 1 for q in queries])
    g2 = ~g1
    qtext = [str(q["query"]) for q in queries]
    vx = enc.encode(qtext)
    questions = [e.question for e in entries]
    vq = enc.encode(questions)
    phr = vx @ vq.T

    ctx: dict[str, np.ndarray] = {}
    for name, make in {
        "q+lead2": lambda e, a: f"{e.question} {answer_lead(a, 300, 2)}",
        "q+lead1": lambda e, a: f"{e.question} {answer_lead(a, 300, 1)}",
        "q+lead3": lambda e, a: f"{e.question} {answer_lead(a, 500, 3)}",
        "q+lead2_600": lambda e, a: f"{e.question} {answer_lead(a, 600, 2)}",
        "lead2": lambda e, a: answer_lead(a, 300, 2),
        "answer": lambda e, a: answer_lead(a, 2000, 50),
    }.items():
        ctx[name] = vx @ enc.encode([make(e, a) for e, a in zip(entries, answers, strict=True)]).T

    tokenisers: dict[str, Callable[[str], list[str]]] = {
        "plain": tok_plain,
        "stem": tok_stem,
        "stemstop": tok_stem_stop,
    }
    bm: dict[str, np.ndarray] = {}
    for tname, tok in tokenisers.items():
        for dname in ("phr+answer", "phr"):
            docs = [
                tok(" ".join((*e.phrasings, a)) if dname == "phr+answer" else " ".join(e.phrasings))
                for e, a in zip(entries, answers, strict=True)
            ]
            qs = [tok(q) for q in qtext]
            for k1, b in ((1.5, 0.75), (1.2, 0.75), (0.9, 0.4), (2.0, 0.75), (1.5, 0.3), (1.5, 1.0)):
                bm[f"{tname}/{dname}/k1={k1}/b={b}"] = normalise_rows(bm25_matrix(docs, qs, k1, b))

    results: list[dict[str, object]] = []

    def record(name: str, s: np.ndarray) -> None:
        r1, m1 = metrics(s[g1], gold[g1])
        r2, m2 = metrics(s[g2], gold[g2])
        ra, ma = metrics(s, gold)
        results.append(
            {
                "name": name,
                "g1": [round(r1, 4), round(m1, 4)],
                "g2": [round(r2, 4), round(m2, 4)],
                "all": [round(ra, 4), round(ma, 4)],
            }
        )

    record("phrasing only", phr)
    base_bm = bm["plain/phr+answer/k1=1.5/b=0.75"]
    record("shipped 0.72/0.2/0.08", 0.72 * phr + 0.2 * ctx["q+lead2"] + 0.08 * base_bm)
    for cname, c in ctx.items():
        for bname, bmat in bm.items():
            for wc, wb in itertools.product((0.1, 0.15, 0.2, 0.25, 0.3, 0.4), (0.0, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15)):
                record(f"{cname} wc={wc} | {bname} wb={wb}", (1 - wc - wb) * phr + wc * c + wb * bmat)
    # two context vectors
    for wc, wa, wb in itertools.product((0.1, 0.15, 0.2), (0.05, 0.1, 0.15), (0.06, 0.08, 0.1)):
        for bname in ("plain/phr+answer/k1=1.5/b=0.75", "stem/phr+answer/k1=1.5/b=0.75"):
            record(
                f"q+lead2 wc={wc} + answer wa={wa} | {bname} wb={wb}",
                (1 - wc - wa - wb) * phr + wc * ctx["q+lead2"] + wa * ctx["answer"] + wb * bm[bname],
            )
    results.sort(key=lambda r: (-r["g1"][0], -r["g1"][1]))  # type: ignore[index]
    for r in results[:40]:
        print(json.dumps(r))
    print("shipped:", json.dumps(next(r for r in results if r["name"].startswith("shipped"))))  # type: ignore[union-attr]
    Path("/tmp/retrieval_fusion.json").write_text(json.dumps(results))


if __name__ == "__main__":
    main()

"""Grid search of the scoring settings on StackFAQ query group 1 (report group 2 and all alongside).

HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/experiments/retrieval_sweep.py > /tmp/sweep.jsonl
"""

from __future__ import annotations

import itertools
import json
import sys
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from retrieval import DATA, build_service, evaluate, rank_metrics, read_jsonl, real_encoder  # noqa: E402

from bot.faq.scoring import ScoringConfig  # noqa: E402


def main() -> None:
    faq = read_jsonl(DATA / "stackfaq" / "faq.jsonl")
    queries = read_jsonl(DATA / "stackfaq" / "queries.jsonl")
    encoder = real_encoder()
    vectors = encoder.encode([q["query"] for q in queries])
    g1 = np.array([q["group"] == 1 for q in queries])
    grid = itertools.product((0.0, 0.2, 0.3, 0.4, 0.5), (0.0, 0.03, 0.05, 0.08), (1, 2), (300,), ("max",))
    for cw, bw, sentences, chars, pooling in grid:
        if cw == 0 and sentences == 2:
            continue
        cfg = replace(
            ScoringConfig(),
            context_weight=cw,
            bm25_weight=bw,
            answer_lead_sentences=sentences,
            answer_lead_chars=chars,
            pooling=pooling,
        )  # type: ignore[arg-type]
        with tempfile.TemporaryDirectory() as tmp:
            service = build_service(faq, encoder, Path(tmp), cfg)
            ranks, _, _ = evaluate(service, vectors, queries)
        print(
            json.dumps(
                {
                    "scoring": asdict(cfg),
                    "group_1": rank_metrics(ranks[g1]),
                    "group_2": rank_metrics(ranks[~g1]),
                    "all": rank_metrics(ranks),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()

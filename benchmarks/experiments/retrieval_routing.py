"""Routing knowledge questions vs task messages: a `faq` intent vs a retrieval-score gate.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/experiments/retrieval_routing.py

A) `faq` intent: logistic regression on embeddings of the intents' examples plus every knowledge
   question/alternate labelled `faq`. 5-fold cross-validation; knowledge phrasings are split by entry
   (GroupKFold), so a held-out question's entry is unseen.
B) gate: no `faq` intent; a message goes to the knowledge base when its retrieval confidence (on the
   entries of the training folds) is >= the answer threshold, else to the classifier.
Reports: share of knowledge phrasings routed to the knowledge base, share of task/smalltalk examples
routed to their own intent (and how many were wrongly taken by the knowledge base).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, StratifiedKFold

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from retrieval import real_encoder  # noqa: E402

from bot.faq.loader import load_knowledge  # noqa: E402
from bot.faq.thresholds import DEFAULT_THRESHOLDS  # noqa: E402

ANNOTATION = re.compile(r"\[([^\]]+)\]\{[^}]*\}|\[([^\]]+)\]\([^)]*\)")


def intent_examples() -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for path in sorted((ROOT / "intents" / "nlu").glob("*.yml")):
        for block in (yaml.safe_load(path.read_text()) or {}).get("nlu", []) or []:
            if "intent" in block and isinstance(block.get("examples"), str):
                for line in block["examples"].splitlines():
                    line = line.strip()
                    if line.startswith("- "):
                        texts.append(ANNOTATION.sub(lambda m: m.group(1) or m.group(2), line[2:]).strip())
                        labels.append(block["intent"])
    return texts, labels


def main() -> None:
    enc = real_encoder()
    t_texts, t_labels = intent_examples()
    loaded = load_knowledge(ROOT / "knowledge", ROOT)
    f_texts = [p for e in loaded.entries for p in e.phrasings]
    f_groups = [n for n, e in enumerate(loaded.entries) for _ in e.phrasings]
    tx, fx = enc.encode(t_texts), enc.encode(f_texts)
    ty = np.array(t_labels)
    folds_t = list(StratifiedKFold(5, shuffle=True, random_state=0).split(tx, ty))
    folds_f = list(GroupKFold(5).split(fx, groups=f_groups))
    a_faq_ok = a_task_ok = a_task_to_faq = 0
    b_faq_ok = b_task_ok = b_task_to_faq = 0
    thr = DEFAULT_THRESHOLDS.answer
    for (tt, te), (ft, fe) in zip(folds_t, folds_f, strict=True):
        x = np.vstack([tx[tt], fx[ft]])
        y = np.concatenate([ty[tt], np.array(["faq"] * len(ft))])
        clf = LogisticRegression(C=10, max_iter=2000).fit(x, y)
        pf, pt = clf.predict(fx[fe]), clf.predict(tx[te])
        a_faq_ok += int((pf == "faq").sum())
        a_task_ok += int((pt == ty[te]).sum())
        a_task_to_faq += int((pt == "faq").sum())
        # B: max-cosine gate over the training folds' phrasings
        clf_b = LogisticRegression(C=10, max_iter=2000).fit(tx[tt], ty[tt])
        gate_f = (fx[fe] @ fx[ft].T).max(axis=1) >= thr
        gate_t = (tx[te] @ fx[ft].T).max(axis=1) >= thr
        b_faq_ok += int(gate_f.sum())
        b_task_to_faq += int(gate_t.sum())
        b_task_ok += int(((clf_b.predict(tx[te]) == ty[te]) & ~gate_t).sum())
    n_f, n_t = len(f_texts), len(t_texts)
    out = {
        "n_knowledge_phrasings": n_f,
        "n_intent_examples": n_t,
        "n_intents": len(set(t_labels)),
        "faq_intent": {
            "knowledge_to_kb": round(a_faq_ok / n_f, 4),
            "task_right": round(a_task_ok / n_t, 4),
            "task_taken_by_kb": round(a_task_to_faq / n_t, 4),
        },
        "score_gate": {
            "threshold": thr,
            "knowledge_to_kb": round(b_faq_ok / n_f, 4),
            "task_right": round(b_task_ok / n_t, 4),
            "task_taken_by_kb": round(b_task_to_faq / n_t, 4),
        },
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()

# ruff: noqa: B023  (the closure is called inside the loop that defines it)
"""Experiment 5: fast alternative to the jointly trained TF-IDF head: embedding softmax
(torch) + a multinomial naive Bayes on TF-IDF n-grams, log-probabilities added with a
weight chosen on val. Closed-set accuracy and time only.

HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/experiments/exp05_nb_combo.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from common import load, parser
from sklearn.naive_bayes import ComplementNB, MultinomialNB

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bot.nlu.classifier import ClassifierConfig  # noqa: E402
from bot.nlu.classifier.features import TfidfFeatures  # noqa: E402
from bot.nlu.classifier.head import fit_head  # noqa: E402


def main() -> None:
    args = parser(__doc__).parse_args()
    for ds, vsplit in (("clinc150", "val"), ("banking77", None)):
        tr = load(args, ds, "train")
        te = load(args, ds, "test")
        tr, te = tr.subset(~tr.is_oos), te.subset(~te.is_oos)
        if vsplit:
            va = load(args, ds, vsplit)
            va = va.subset(~va.is_oos)
        else:
            rng = np.random.default_rng(0)
            mask = rng.random(len(tr.x)) < 0.2
            va, tr = tr.subset(mask), tr.subset(~mask)
        t0 = time.process_time()
        head = fit_head(
            tr.x,
            tr.texts,
            tr.y,
            np.zeros((0, 384), np.float32),
            ClassifierConfig(use_tfidf=False, epochs=30, batch_size=256, learning_rate=0.01),
        )
        t_head = time.process_time() - t0
        feats = TfidfFeatures.fit(tr.texts, 2)
        mtr = feats.transform(tr.texts)
        for nbname, nbcls in (("MultinomialNB", MultinomialNB), ("ComplementNB", ComplementNB)):
            for a in (0.01, 0.03, 0.1):
                t1 = time.process_time()
                nb = nbcls(alpha=a).fit(mtr, tr.y)
                t_nb = time.process_time() - t1
                classes = np.asarray(head.labels)
                assert (nb.classes_ == classes).all()

                def logits(s, beta):  # type: ignore[no-untyped-def]
                    lg = head.raw_scores(s.x, s.texts).logits
                    lnb = (
                        nb.predict_joint_log_proba(feats.transform(s.texts))
                        if nbname == "MultinomialNB"
                        else nb.decision_function(feats.transform(s.texts))
                        if hasattr(nb, "decision_function")
                        else nb.predict_joint_log_proba(feats.transform(s.texts))
                    )
                    lnb = lnb - lnb.max(1, keepdims=True)
                    return lg + beta * lnb

                betas = [0.0, 0.01, 0.03, 0.1, 0.3, 1.0]
                vacc = [float((classes[logits(va, b).argmax(1)] == va.y).mean()) for b in betas]
                b = betas[int(np.argmax(vacc))]
                acc = float((classes[logits(te, b).argmax(1)] == te.y).mean())
                acc0 = float((classes[logits(te, 0.0).argmax(1)] == te.y).mean())
                print(
                    f"{ds:10s} {nbname} alpha={a} beta={b} test acc={acc:.4f} "
                    f"(emb only {acc0:.4f}) head {t_head:.1f}s cpu, nb {t_nb:.1f}s",
                    flush=True,
                )


if __name__ == "__main__":
    main()

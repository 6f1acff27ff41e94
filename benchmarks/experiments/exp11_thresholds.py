"""Experiment 11: threshold-fitting rules that transfer from CLINC val to test.

Reads dumps of exp10_layer_heads.py (--dump NAME: calibrated probabilities and the summed
z-score on val and test). Each rule picks a threshold from val only (margin 0: every fit in
experiments 8-10 chose margin 0); reports test in-scope / oos recall / precision.

Rules (w = oos weight of the objective in-scope acc + w * oos recall):
- argmax: the module's rule (best threshold of the val objective);
- bag: median of the argmax thresholds over B stratified bootstrap resamples of val;
- smooth: argmax of a kernel-smoothed objective (indicator -> normal cdf, bandwidth h x std
  of the score);
- quantile: reject the share q of val in-scope given by the argmax rule's own rejection.

Rule choice on val alone (--crossfit): fit on one half of val, score on the other half,
averaged over R random stratified halvings; the rule with the best held-out val objective wins.

../../.venv/bin/python exp11_thresholds.py /tmp/intent_exp/dump_*.npz [--w 0.05]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from embed_cache import REPO_ROOT
from scipy.special import ndtr

sys.path.insert(0, str(REPO_ROOT))


def objective_curve(score: np.ndarray, correct: np.ndarray, is_oos: np.ndarray, ts: np.ndarray, w: float) -> np.ndarray:
    """acc(t) + w * rec(t) for every threshold in ts (reject when score < t)."""
    n_in = max(int((~is_oos).sum()), 1)
    n_oos = max(int(is_oos.sum()), 1)
    cs = np.sort(score[correct & ~is_oos])
    os_ = np.sort(score[is_oos])
    acc = (len(cs) - np.searchsorted(cs, ts, side="left")) / n_in
    rec = np.searchsorted(os_, ts, side="left") / n_oos
    return np.asarray(acc + w * rec)


def candidates(score: np.ndarray) -> np.ndarray:
    return np.concatenate([[-np.inf], np.unique(np.quantile(score, np.linspace(0.0, 0.6, 301)))])


def rule_argmax(score: np.ndarray, correct: np.ndarray, is_oos: np.ndarray, w: float) -> float:
    ts = candidates(score)
    v = objective_curve(score, correct, is_oos, ts, w)
    return float(ts[int(np.argmax(v > v.max() - 1e-12))])


def rule_bag(
    score: np.ndarray, correct: np.ndarray, is_oos: np.ndarray, w: float, b: int = 200, agg: str = "median"
) -> float:
    rng = np.random.default_rng(0)
    ins, oos = np.flatnonzero(~is_oos), np.flatnonzero(is_oos)
    out = []
    for _ in range(b):
        r = np.concatenate([rng.choice(ins, len(ins)), rng.choice(oos, len(oos))])
        out.append(rule_argmax(score[r], correct[r], is_oos[r], w))
    a = np.asarray(out)
    if agg == "mean":
        return float(a[np.isfinite(a)].mean()) if np.isfinite(a).any() else -np.inf
    return float(np.median(a))


def rule_bag_module(score: np.ndarray, correct: np.ndarray, is_oos: np.ndarray, w: float) -> float:
    from bot.nlu.classifier.abstention import bagged_threshold

    return bagged_threshold(score, correct, is_oos, np.zeros(len(score), bool), w, 201, 0)


def rule_smooth(score: np.ndarray, correct: np.ndarray, is_oos: np.ndarray, w: float, h: float = 0.1) -> float:
    bw = h * float(score[~is_oos].std())
    ts = np.linspace(np.quantile(score, 0.0), np.quantile(score, 0.6), 600)
    n_in = max(int((~is_oos).sum()), 1)
    n_oos = max(int(is_oos.sum()), 1)
    cs = score[correct & ~is_oos]
    os_ = score[is_oos]
    acc = ndtr((cs[None, :] - ts[:, None]) / bw).sum(1) / n_in
    rec = ndtr((ts[:, None] - os_[None, :]) / bw).sum(1) / n_oos
    v = acc + w * rec
    return float(ts[int(np.argmax(v))])


RULES = {
    "argmax": rule_argmax,
    "bag": rule_bag,
    "bagmean": lambda s, c, o, w: rule_bag(s, c, o, w, agg="mean"),
    "bagmod": rule_bag_module,
    "smooth0.05": lambda s, c, o, w: rule_smooth(s, c, o, w, 0.05),
    "smooth0.1": lambda s, c, o, w: rule_smooth(s, c, o, w, 0.1),
    "smooth0.2": lambda s, c, o, w: rule_smooth(s, c, o, w, 0.2),
}


def evaluate(t: float, score: np.ndarray, correct: np.ndarray, is_oos: np.ndarray) -> tuple[float, float, float]:
    rej = score < t
    return (
        100 * float((correct & ~rej)[~is_oos].mean()),
        100 * float(rej[is_oos].mean()),
        100 * float(is_oos[rej].mean()) if rej.any() else 0.0,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dumps", nargs="+", type=Path)
    ap.add_argument("--w", type=float, default=0.05)
    ap.add_argument("--crossfit", type=int, default=0, help="R random halvings of val for the rule choice")
    args = ap.parse_args()
    summary: dict[str, list[list[float]]] = {}
    for path in args.dumps:
        d = np.load(path, allow_pickle=False)
        labels = d["labels"]
        vy, ty = d["vy"], d["ty"]
        vo, to = vy == "oos", ty == "oos"
        vc = labels[d["vp"].argmax(1)] == vy
        tc = labels[d["tp"].argmax(1)] == ty
        vs, ts = d["vscore"], d["tscore"]
        res: dict[str, object] = {"dump": path.stem}
        for name, rule in RULES.items():
            t = rule(vs, vc, vo, args.w)
            res[name] = [round(v, 2) for v in evaluate(t, ts, tc, to)]
            summary.setdefault(name, []).append(list(res[name]))  # type: ignore[arg-type]
        if args.crossfit:
            rng = np.random.default_rng(1)
            held = {name: [] for name in RULES}
            ins, oos = np.flatnonzero(~vo), np.flatnonzero(vo)
            for _ in range(args.crossfit):
                a = np.concatenate([rng.permutation(ins)[: len(ins) // 2], rng.permutation(oos)[: len(oos) // 2]])
                mask = np.zeros(len(vy), bool)
                mask[a] = True
                for fit_m, ev_m in ((mask, ~mask), (~mask, mask)):
                    for name, rule in RULES.items():
                        t = rule(vs[fit_m], vc[fit_m], vo[fit_m], args.w)
                        acc, rec, _ = evaluate(t, vs[ev_m], vc[ev_m], vo[ev_m])
                        held[name].append(acc + args.w * rec)
            res["crossfit"] = {k: round(float(np.mean(v)), 3) for k, v in held.items()}
            for k, v in held.items():
                summary.setdefault(f"crossfit_{k}", []).append([float(np.mean(v))])
        print(json.dumps(res), flush=True)
    mean = {k: [round(float(x), 3) for x in np.mean(v, axis=0)] for k, v in summary.items()}
    hits = {k: int(sum(r[0] >= 95.5 and r[1] >= 75 for r in v)) for k, v in summary.items() if len(v[0]) == 3}
    print("MEAN over", len(args.dumps), "dumps", json.dumps(mean))
    print("runs meeting 95.5 / 75:", json.dumps(hits))


if __name__ == "__main__":
    main()

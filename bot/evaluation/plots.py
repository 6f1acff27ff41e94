"""The evaluation plots, drawn with matplotlib's Agg backend (imported on first use, no display).

- `intent_confusion_matrix.png`: targets (rows) against predictions (columns), as Rasa draws it.
- `intent_histogram.png`: confidence of correct and wrong predictions, as Rasa draws it.
- `oos_coverage.png`: accuracy against coverage of the abstention threshold (out-of-scope data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bot.evaluation.metrics import Prediction

CONFUSION_MATRIX = "intent_confusion_matrix.png"
HISTOGRAM = "intent_histogram.png"
COVERAGE = "oos_coverage.png"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def confusion_matrix(predictions: Sequence[Prediction], path: Path) -> Path:
    plt = _pyplot()
    import numpy as np

    labels = sorted({p.target for p in predictions} | {p.predicted for p in predictions})
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=int)
    for p in predictions:
        matrix[index[p.target], index[p.predicted]] += 1
    n = len(labels)
    size = min(max(8.0, n * 0.22), 40.0)
    fig, ax = plt.subplots(figsize=(size, size))
    shown = np.log1p(matrix) if n > 30 else matrix
    ax.imshow(shown, interpolation="nearest", cmap="Blues")
    font = max(3.0, min(10.0, 300.0 / max(n, 1)))
    ax.set_xticks(range(n), labels, rotation=90, fontsize=font)
    ax.set_yticks(range(n), labels, fontsize=font)
    if n <= 30:
        high = matrix.max() / 2 if matrix.size else 0
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    colour = "white" if matrix[i, j] > high else "black"
                    ax.text(j, i, str(matrix[i, j]), ha="center", va="center", color=colour, fontsize=font)
    accuracy = sum(p.correct for p in predictions) / len(predictions) if predictions else 0.0
    scale = " (colour: log scale)" if n > 30 else ""
    ax.set_title(f"Intent confusion matrix — accuracy {accuracy:.3f}{scale}")
    ax.set_ylabel("true intent")
    ax.set_xlabel("predicted intent")
    fig.tight_layout()
    return _save(plt, fig, path)


def histogram(predictions: Sequence[Prediction], path: Path) -> Path:
    plt = _pyplot()
    bins = [i / 20 for i in range(21)]
    hits = [p.confidence for p in predictions if p.correct]
    misses = [p.confidence for p in predictions if not p.correct]
    fig, ax = plt.subplots(figsize=(9, 5))
    ax.hist(
        [hits, misses],
        bins=bins,
        color=["#009E73", "#D55E00"],
        label=[f"correct ({len(hits)})", f"wrong ({len(misses)})"],
    )
    ax.set_title("Intent prediction confidence distribution")
    ax.set_xlabel("confidence")
    ax.set_ylabel("number of samples")
    ax.legend()
    fig.tight_layout()
    return _save(plt, fig, path)


def coverage_curve(curve: Sequence[Mapping[str, float]], operating: Mapping[str, float], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.plot([c["coverage"] for c in curve], [c["accuracy"] for c in curve], marker=".", label="threshold sweep")
    ax.scatter([operating["coverage"]], [operating["accuracy"]], color="#D55E00", zorder=3, label="fitted threshold")
    ax.set_xlabel("coverage (share of messages answered)")
    ax.set_ylabel("accuracy of the answered messages")
    ax.set_xlim(0, 1.02)
    ax.set_title("Accuracy against coverage of the abstention threshold")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

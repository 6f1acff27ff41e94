"""The one-page HTML summary of an evaluation (`report.html`), rendered from
`bot/evaluation/templates/summary.html.j2` with autoescaping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SUMMARY = "report.html"
TEMPLATE = "summary.html.j2"
_WEAKEST = 15
_ERRORS = 20


def weakest_intents(report: Mapping[str, Any], limit: int = _WEAKEST) -> list[dict[str, Any]]:
    rows = [
        {
            "name": name,
            "precision": values["precision"],
            "recall": values["recall"],
            "f1": values["f1-score"],
            "support": values["support"],
            "confused": ", ".join(f"{k} ({v})" for k, v in values.get("confused_with", {}).items()),
        }
        for name, values in report.items()
        if isinstance(values, Mapping) and "confused_with" in values
    ]
    return sorted(rows, key=lambda r: (r["f1"], r["name"]))[:limit]


def write_summary(
    out: Path,
    *,
    title: str,
    mode: str,
    headline: Sequence[tuple[str, str]],
    report: Mapping[str, Any],
    errors: Sequence[Mapping[str, Any]],
    figures: Sequence[str],
    retrieval: Mapping[str, Any] | None = None,
    crossval: Mapping[str, Any] | None = None,
) -> Path:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
    )
    n_test = sum(v["support"] for v in report.values() if isinstance(v, Mapping) and "confused_with" in v)
    html = env.get_template(TEMPLATE).render(
        title=title,
        mode=mode,
        created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        n_test=n_test,
        n_intents=sum(1 for v in report.values() if isinstance(v, Mapping) and "confused_with" in v),
        headline=headline,
        weakest=weakest_intents(report),
        errors=list(errors)[:_ERRORS],
        retrieval=retrieval,
        crossval=crossval,
        figures=figures,
        files=sorted(p.name for p in out.iterdir() if p.is_file() and p.name != SUMMARY),
    )
    path = out / SUMMARY
    path.write_text(html, encoding="utf-8")
    return path

"""Analytics over the stored conversations (issue 18, item 5): a report for a date range, from SQL.

    report = build_report(engine, parse_range("2026-03-01", "2026-03-07", today=..., zone="Europe/Paris"))
    report.figures.containment, report.tables["top_intents"].to_csv()

`definitions` says what every figure means; `facts` is the per-conversation SQL the transcript search
(`bot.review`) shares; `sql` holds the dialect branches (SQLite, PostgreSQL).
"""

from __future__ import annotations

from bot.analytics.dates import DateRange, DateRangeError, parse_range
from bot.analytics.report import AnalyticsReport, Figures, UnansweredCluster, build_report
from bot.analytics.tables import ReportTable

__all__ = [
    "AnalyticsReport",
    "DateRange",
    "DateRangeError",
    "Figures",
    "ReportTable",
    "UnansweredCluster",
    "build_report",
    "parse_range",
]

"""Console: analytics (`/console/analytics`) and the CSV of each of its tables.

    GET /console/analytics?start=YYYY-MM-DD&end=YYYY-MM-DD     the report (default: the last 7 days)
    GET /console/analytics/{table}.csv?start=…&end=…            one table as CSV

The figures come from `bot.analytics` (SQL over the stored conversations, read in a worker thread; nothing
here touches a customer's turn). A bad or backwards range is a message on the page (400), never an error
page. `console_records(request)` is also the conversation review's way to the database.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, tzinfo
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Request
from markupsafe import Markup
from sqlalchemy import Engine
from starlette.responses import Response

from bot.analytics import AnalyticsReport, DateRange, DateRangeError, ReportTable, build_report, parse_range
from bot.analytics.report import UnansweredCluster
from bot.analytics.tables import Cell
from bot.analytics.unanswered import clusters_from_suggestions
from bot.dialogue.tracker_store import make_engine
from bot.errors import BackendError
from bot.review.masking import mask_personal
from server.console.access import ConsoleError, RequireRole, StaffMember, StaffRole, render
from server.console.charts import bar_chart, line_chart

router = APIRouter(prefix="/console", include_in_schema=False)
Agent = Annotated[StaffMember, Depends(RequireRole(StaffRole.AGENT))]
MAX_CLUSTERS = 1000


class UnknownTable(ConsoleError):
    status_code = 404
    code = "not_found"


@dataclass(frozen=True)
class ConsoleRecords:
    """The database the console reads conversations from, and the shop's timezone for days and hours."""

    engine: Engine
    zone: tzinfo

    def today(self) -> date:
        return datetime.now(self.zone).date()

    def date_range(self, start: str | None, end: str | None) -> DateRange:
        return parse_range(start or None, end or None, today=self.today(), zone=self.zone)


def console_records(request: Request) -> ConsoleRecords:
    """`app.state.console_records` when set (tests), else the settings' database (one engine per app)."""
    records: ConsoleRecords | None = getattr(request.app.state, "console_records", None)
    if records is not None:
        return records
    settings = request.app.state.settings
    try:
        zone: tzinfo = ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    records = ConsoleRecords(make_engine(settings.resolved_database_url), zone)
    request.app.state.console_records = records
    return records


Records = Annotated[ConsoleRecords, Depends(console_records)]


def unanswered_clusters(engine: Engine) -> list[UnansweredCluster]:
    """The learning suggestions' groups of messages (empty when the learning tables cannot be read)."""
    from bot.learning.store import SqlSuggestionStore

    try:
        return clusters_from_suggestions(SqlSuggestionStore(engine).suggestions(state=None, limit=MAX_CLUSTERS))
    except BackendError:
        return []


def _report(records: ConsoleRecords, date_range: DateRange, staff: StaffMember) -> AnalyticsReport:
    """The report; the unanswered questions (customers' words) with personal data masked unless `staff` is an
    admin."""
    clusters = unanswered_clusters(records.engine)
    if not staff.may(StaffRole.ADMIN):
        clusters = [replace(c, label=mask_personal(c.label)) for c in clusters]
    return build_report(records.engine, date_range, clusters)


@router.get("/analytics")
def analytics_page(request: Request, staff: Agent, records: Records, start: str = "", end: str = "") -> Response:
    try:
        date_range = records.date_range(start, end)
    except DateRangeError as e:
        context: dict[str, Any] = {"error": str(e), "start": start, "end": end, "zone": str(records.zone)}
        return render(request, "console/analytics.html", context, status_code=400)
    report = _report(records, date_range, staff)
    query = f"start={date_range.start.isoformat()}&end={date_range.end.isoformat()}"
    context = {
        "error": None,
        "start": date_range.start.isoformat(),
        "end": date_range.end.isoformat(),
        "zone": str(records.zone),
        "figures": report.figures,
        "kpis": kpis(report),
        "sections": [section(t, query, report) for t in report.tables.values()],
    }
    return render(request, "console/analytics.html", context)


@router.get("/analytics/{name}.csv")
def analytics_csv(
    name: str, request: Request, staff: Agent, records: Records, start: str = "", end: str = ""
) -> Response:
    try:
        date_range = records.date_range(start, end)
    except DateRangeError as e:
        return Response(f"{e}\n", status_code=400, media_type="text/plain; charset=utf-8")
    report = _report(records, date_range, staff)
    found = report.tables.get(name)
    if found is None:
        raise UnknownTable(f"there is no analytics table {name!r}; the tables are {', '.join(report.tables)}")
    filename = f"analytics-{name}-{date_range.start.isoformat()}-{date_range.end.isoformat()}.csv"
    return Response(
        found.to_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# -- shaping for the page ----------------------------------------------------------------------------------
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def kpis(report: AnalyticsReport) -> list[tuple[str, str, str]]:
    """(label, value, detail) of the headline figures."""
    f = report.figures
    contained = f.conversations - f.handed_off
    return [
        ("Conversations", str(f.conversations), f"{f.messages} customer messages"),
        ("Containment", percent(f.containment), f"{contained} of {f.conversations} without a person"),
        ("Handoff rate", percent(f.handoff_rate), f"{f.handed_off} handed off"),
        ("Median first agent reply", duration(f.median_first_agent_reply), f"{f.agent_replied} handoffs answered"),
        ("Fallback rate", percent(f.fallback_rate), f"{f.fallback_messages} of {f.messages} messages"),
        ("Abstention rate", percent(f.abstention_rate), f"{f.abstentions} of {f.knowledge_lookups} knowledge lookups"),
        ("CSAT", percent(f.csat), f"{f.ups} up, {f.downs} down"),
    ]  # fmt: skip


PERCENT_FIGURES = frozenset({"containment", "handoff rate", "fallback rate", "abstention rate", "CSAT"})


def display(column: str, cell: Cell, row: tuple[Cell, ...]) -> str:
    """A cell as the page shows it: shares and rates as percentages, waits as minutes and seconds."""
    if cell is None:
        return "—"
    figure = str(row[0])
    if isinstance(cell, int | float):
        if column == "share" or (column == "value" and figure in PERCENT_FIGURES):
            return percent(float(cell))
        if (column == "value" and figure.endswith("(s)")) or column.endswith("after (s)"):
            return duration(float(cell))
        if isinstance(cell, float):
            return f"{cell:.4f}".rstrip("0").rstrip(".")
    return str(cell)


def _chart(table: ReportTable, report: AnalyticsReport) -> Markup | None:
    name = table.name
    if name == "volume_by_hour":
        return bar_chart(name, table.title, [str(h) for h in table.column("hour")],
                         [float(v or 0) for v in table.column("messages")], unit="messages")  # fmt: skip
    if name == "volume_by_day":
        days = [str(d)[5:] for d in table.column("day")]
        return bar_chart(name, table.title, days, [float(v or 0) for v in table.column("conversations")],
                         unit="conversations")  # fmt: skip
    if name == "sentiment_by_day":
        days = [str(d)[5:] for d in table.column("day")]
        scores = [None if v is None else float(v) for v in table.column("mean score")]
        return line_chart(name, "Mean sentiment by day (−1 negative … +1 positive)", days, scores)
    if name == "outcomes":
        return bar_chart(name, table.title, [str(o) for o in table.column("outcome")],
                         [float(v or 0) for v in table.column("conversations")], unit="conversations")  # fmt: skip
    if name == "top_intents" and table.rows:
        return bar_chart(name, table.title, [str(i) for i in table.column("intent")],
                         [float(v or 0) for v in table.column("messages")], unit="messages")  # fmt: skip
    return None


def section(table: ReportTable, query: str, report: AnalyticsReport) -> dict[str, Any]:
    numeric = [
        bool(table.rows) and all(isinstance(row[i], int | float) or row[i] is None for row in table.rows)
        for i in range(len(table.columns))
    ]
    rows = [[display(c, cell, row) for c, cell in zip(table.columns, row, strict=True)] for row in table.rows]
    return {
        "name": table.name,
        "title": table.title,
        "columns": table.columns,
        "numeric": numeric,
        "rows": rows,
        "links": [str(row[0]) for row in table.rows] if table.name == "handoffs" else [],
        "csv": f"/console/analytics/{table.name}.csv?{query}",
        "chart": _chart(table, report),
    }

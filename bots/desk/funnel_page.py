"""The desk's funnel page (``/desk/stats``): a flow's funnel over a period as a server-drawn
SVG chart and a table, and the same figures as CSV (``/desk/stats.csv``). Owners and
operators see it: the figures are aggregate counts, nobody's data.

The chart is plain SVG drawn here from the figures (no script, no chart library): a centred
bar per stage — started, each question step entered, finished — its width proportional to
its count. This module must not read anything but the counts (``bots.stats``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from bots import stats
from bots.desk.gate import DESK
from flows.funnel_stats import FlowStats
from flows.model import FlowSet

PERIODS = (("1", "Сегодня"), ("7", "7 дней"), ("30", "30 дней"))
WIDTH, BAR_HEIGHT, GAP, LABEL, COUNT = 720, 30, 10, 180, 110  # the chart's geometry


@dataclass(frozen=True, slots=True)
class Bar:
    """One stage of the chart: its label, count, share of the starts and geometry."""

    label: str
    count: int
    share: str
    x: float
    y: int
    width: float


def bars(figures: FlowStats) -> list[Bar]:
    """The chart's stages, top to bottom."""
    stages = [("Начали", figures.started)]
    stages += [(s.step, s.entered) for s in figures.steps if s.question]
    stages.append(("Завершили", figures.finished))
    widest = max((count for _, count in stages), default=0) or 1
    room = WIDTH - LABEL - COUNT  # (the counts are written right of the widest bar)
    found = []
    for row, (label, count) in enumerate(stages):
        width = max(2.0, room * count / widest) if count else 0.0
        found.append(Bar(label, count, stats.percent(count, figures.started),
                         LABEL + (room - width) / 2, row * (BAR_HEIGHT + GAP), width))
    return found


def _figures_query(request: web.Request, flows: FlowSet) -> tuple[str, list[str], str | None]:
    """The page's flow, days and channel from its query (a bad one: the defaults)."""
    q = request.query
    flow = q.get("flow", "")
    if flow not in flows.flows:
        flow = "booking" if "booking" in flows.flows else min(flows.flows, default="")
    try:
        days = stats.query_days({k: v for k, v in q.items() if v and k != "flow"},
                                stats.today(flows, datetime.now(UTC)))
    except stats.BadQuery:
        days = stats.days_of(stats.today(flows, datetime.now(UTC)))
    return flow, days, q.get("channel") or None


async def _figures(request: web.Request) -> tuple[FlowSet, FlowStats | None]:
    flows = request.app[DESK].edge.parts.flows.current()
    flow, days, channel = _figures_query(request, flows)
    if not flow:
        return flows, None
    store = request.app[DESK].edge.parts.store
    return flows, await stats.read(store.funnel, flows, flow, days, channel)


async def page(request: web.Request) -> web.StreamResponse:
    desk = request.app[DESK]
    flows, figures = await _figures(request)
    chart = bars(figures) if figures is not None else []
    return desk.render(
        request, "funnel.html", figures=figures, bars=chart, periods=PERIODS,
        flows=sorted((f.name, f.title) for f in flows.flows.values()),
        channels=sorted({*desk.edge.parts.connectors, *(figures.channels if figures else ())}),
        query=request.query, median=stats.median_text, percent=stats.percent,
        choice=stats.choice_text, note=stats.MEDIAN_NOTE,
        width=WIDTH, height=len(chart) * (BAR_HEIGHT + GAP), bar_height=BAR_HEIGHT,
        label_x=LABEL - 8, csv_query=request.query_string)


async def csv_file(request: web.Request) -> web.StreamResponse:
    _, figures = await _figures(request)
    if figures is None:
        raise web.HTTPNotFound(text="Сценариев нет.")
    name = f"funnel-{figures.flow}-{figures.first}-{figures.last}.csv"
    return web.Response(body=stats.as_csv(figures).encode("utf-8-sig"), headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{name}"'})


def routes() -> list[web.RouteDef]:
    return [web.get("/stats", page), web.get("/stats.csv", csv_file)]

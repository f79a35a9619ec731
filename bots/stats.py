"""The funnel's figures for the owner: read a period's counts, and show them as text (``svyaz
stats``), JSON (``/api/v1/stats``) and CSV (the desk's export).

A period is the last N days of the business's calendar (today: N = 1) or a custom span of
days. The figures are ``flows.funnel_stats``'s; the median time on a step is the bucket that
holds the middle answer («≈ до 1 мин»), never a made-up second. Every other figure is an
exact count. This module must not write anything.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from flows.effects import zone
from flows.funnel import BUCKETS
from flows.funnel_stats import FlowStats, StepStats, flow_stats, period_days, span_days
from flows.model import FlowSet
from storage.funnel import Funnel

MAX_DAYS = 400  # as long as a day's counts are kept (storage.keyparts.FUNNEL_TTL)
MEDIAN_NOTE = ("медиана — по интервалам (до 10 с, 30 с, 1, 2, 5, 15 мин, 1 ч, 1 сут): "
               "показан интервал, в который попал средний ответ")


_YES_NO = {"yes": "да", "no": "нет"}  # a yes/no step's answers, as the owner reads them


class UnknownFlow(ValueError):
    """The flow asked about is not one of the bot's."""


def today(flows: FlowSet, now: datetime) -> date:
    """The business's calendar day at ``now``."""
    return now.astimezone(zone(flows.timezone)).date()


def days_of(last: date, days: int = 7, first: date | None = None) -> list[str]:
    """The days of a period: ``first``..``last`` when ``first`` is given, else the last
    ``days`` ending with ``last`` (bounded by ``MAX_DAYS``)."""
    if first is not None:
        return span_days(first, last)[-MAX_DAYS:]
    return period_days(last, min(days, MAX_DAYS))


def steps_of(flows: FlowSet, flow: str) -> list[tuple[str, bool]]:
    """The flow's steps in order, each with whether it asks a question."""
    found = flows.flows.get(flow)
    if found is None:
        raise UnknownFlow(f"нет сценария {flow!r}; есть: {', '.join(sorted(flows.flows))}")
    return [(name, step.question is not None) for name, step in found.steps.items()]


async def read(funnel: Funnel, flows: FlowSet, flow: str, days: Sequence[str],
               channel: str | None = None) -> FlowStats:
    """The figures of ``flow`` over ``days`` (on ``channel``; None: every channel)."""
    steps = steps_of(flows, flow)
    tallies = await funnel.days(days)
    return flow_stats(tallies, flow=flow, steps=steps, days=days, channel=channel)


class BadQuery(ValueError):
    """A query of ``/api/v1/stats`` that names no period or flow it can answer (422)."""


def query_days(query: Mapping[str, str], last: date) -> list[str]:
    """The days (perhaps none) ``/api/v1/stats``'s query names: ``days`` (1..MAX_DAYS,
    default 7) ending today, or ``from`` (and ``to``, default today) as ``YYYY-MM-DD``."""
    try:
        first = date.fromisoformat(query["from"]) if "from" in query else None
        last = date.fromisoformat(query["to"]) if "to" in query else last
        days = int(query.get("days", "7"))
    except ValueError as exc:
        raise BadQuery(f"days: a whole number; from, to: YYYY-MM-DD ({exc})") from exc
    if not 1 <= days <= MAX_DAYS:
        raise BadQuery(f"days: from 1 to {MAX_DAYS}")
    return days_of(last, days, first)  # (``from`` after ``to``: no day, every count 0)


# ---------------------------------------------------------------------- showing

def median_text(index: int | None) -> str:
    """«≈ до 1 мин» for a ``BUCKETS`` index; «—» when nothing was timed."""
    if index is None:
        return "—"
    if index >= len(BUCKETS):
        return "≈ больше суток"
    return f"≈ до {_duration(BUCKETS[index])}"


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} с"
    if seconds < 3600:
        return f"{seconds // 60} мин"
    return f"{seconds // 3600} ч" if seconds < 86_400 else "суток"


def choice_text(choice: str) -> str:
    """An option as the owner reads it (a yes/no step's «да», «нет»)."""
    return _YES_NO.get(choice, choice)


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "—"


def lines(stats: FlowStats, title: str) -> list[str]:
    """The figures as the owner reads them in the terminal (``svyaz stats``)."""
    where = "все каналы" if stats.channel is None else f"канал {stats.channel}"
    out = [
        f"Сценарий «{title}» ({stats.flow}), {stats.first} — {stats.last}, {where}",
        f"Начали: {stats.started}   Завершили: {stats.finished}   "
        f"Конверсия: {percent(stats.finished, stats.started)}   "
        f"Передано оператору: {stats.handed_off}",
        "",
        f"{'шаг':<16}{'вошли':>7}{'ответили':>10}{'ушли':>7}{'повторы':>9}"
        f"{'сдались':>9}  медиана",
    ]
    for step in stats.steps:
        if step.question or step.entered or step.handed_off:  # (not a branch nobody took)
            out.append(_step_line(step))
        out += [f"{'':<16}  «{choice_text(choice)}»: {count}" for choice, count in step.choices]
    if stats.channels:
        out.append(f"каналы: {', '.join(stats.channels)}")
    out.append(MEDIAN_NOTE)
    return out


def _step_line(step: StepStats) -> str:
    if not step.question:
        return f"{step.step:<16}{step.entered:>7}" + (
            f"   передано оператору: {step.handed_off}" if step.handed_off else "")
    return (f"{step.step:<16}{step.entered:>7}{step.answered:>10}{step.dropped:>7}"
            f"{step.retried:>9}{step.failed:>9}  {median_text(step.median)}")


def median_span(index: int | None) -> dict[str, int | None] | None:
    """The median's bucket as seconds {from, to} (``to`` None: longer than the last)."""
    if index is None:
        return None
    low = BUCKETS[index - 1] if index > 0 else 0
    return {"from": low, "to": BUCKETS[index] if index < len(BUCKETS) else None}


def as_json(stats: FlowStats) -> dict[str, Any]:
    """The figures for ``/api/v1/stats`` (the ``Stats`` schema of ``bots.api_doc``)."""
    return {
        "flow": stats.flow, "from": stats.first, "to": stats.last, "channel": stats.channel,
        "channels": list(stats.channels), "started": stats.started,
        "finished": stats.finished, "conversion": stats.conversion,
        "handed_off": stats.handed_off,
        "steps": [{
            "step": s.step, "question": s.question, "entered": s.entered,
            "answered": s.answered, "dropped": s.dropped, "retried": s.retried,
            "failed": s.failed, "handed_off": s.handed_off,
            "median_seconds": median_span(s.median),
            "choices": [{"id": c, "count": n} for c, n in s.choices],
        } for s in stats.steps],
    }


CSV_COLUMNS = ("flow", "from", "to", "channel", "step", "question", "entered", "answered",
               "dropped", "retried", "failed", "handed_off", "median", "choices")


def as_csv(stats: FlowStats) -> str:
    """One row per step, then a row of the flow's totals (step «итого»)."""
    buffer = io.StringIO()
    out = csv.writer(buffer)
    out.writerow(CSV_COLUMNS)
    head = [stats.flow, stats.first, stats.last, stats.channel or "все"]
    for s in stats.steps:
        choices = "; ".join(f"{c}={n}" for c, n in s.choices)
        out.writerow([*head, s.step, "да" if s.question else "нет", s.entered, s.answered,
                      s.dropped, s.retried, s.failed, s.handed_off, median_text(s.median),
                      choices])
    out.writerow([*head, "итого: начали, завершили", "", stats.started, stats.finished,
                  stats.started - stats.finished, "", "", stats.handed_off, "", ""])
    return buffer.getvalue()

"""Building effects from compiled steps: reminder times, HTTP calls, deterministic call ids.

Owns the pure arithmetic of reminders (an ``at`` in the business's time zone, minus
``before``, or ``after`` from now -> an aware UTC datetime) and ids derived from state, so
the engine stays deterministic. It must not execute anything (the runtime does) and does
no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from flows.model import HttpCall, Reminder
from flows.types import JSON, CallHttp, ReminderPassed, ScheduleReminder


@lru_cache(maxsize=16)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_time(text: str, tz: ZoneInfo) -> datetime | None:
    """'2026-12-25 15:30', '2026-12-25T15:30' or '2026-12-25' (midnight) in ``tz``."""
    cleaned = text.strip().replace(" ", "T", 1)
    try:
        if len(cleaned) == 10:
            moment = datetime.combine(date.fromisoformat(cleaned), time(0, 0))
        else:
            moment = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def schedule(
    reminder: Reminder,
    context: Mapping[str, JSON],
    now: datetime,
    tz: ZoneInfo,
    variables: Mapping[str, JSON],
) -> ScheduleReminder | ReminderPassed | None:
    """The reminder as an effect: scheduled, or reported as not scheduled when its time has
    already passed (``ReminderPassed``); None when its time is unknown."""
    about = None
    if reminder.after is not None:
        at: datetime | None = now + reminder.after
    else:
        about = local_time(reminder.at.render(context), tz) if reminder.at else None
        at = about - reminder.before if about else None
    if at is None:
        return None
    if at <= now:
        return ReminderPassed(key=reminder.key.render(context), at=at.astimezone(UTC),
                              flow=reminder.flow)
    payload = reminder.vars.evaluate(context) if reminder.vars is not None else dict(variables)
    return ScheduleReminder(
        key=reminder.key.render(context),
        at=at.astimezone(UTC),
        flow=reminder.flow,
        vars=payload if isinstance(payload, dict) else {"value": payload},
        critical=reminder.critical,
        ladder=reminder.ladder,
        about=about.astimezone(UTC) if about else None,
    )


def call_id(flow: str, step: str, variables: Mapping[str, JSON], depth: int) -> str:
    """A stable id for a call made at ``flow``/``step`` with these variables."""
    seed = json.dumps(
        [flow, step, depth, variables], sort_keys=True, ensure_ascii=False, default=str
    )
    return hashlib.blake2b(seed.encode(), digest_size=8).hexdigest()


def http_call(spec: HttpCall, context: Mapping[str, JSON], ident: str) -> CallHttp:
    return CallHttp(
        call_id=ident,
        method=spec.method,
        url=spec.url.render(context),
        json=spec.body.evaluate(context),
        headers={name: value.render(context) for name, value in spec.headers},
        timeout=spec.timeout,
    )

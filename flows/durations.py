"""Durations as an owner writes them: ``24h``, ``1h30m``, ``90 минут``, ``2 дня``, ``1 неделя``.

Owns the one parser of durations in flows and conversation tests (``before``, ``after``,
``within``, ``later``): one or more parts "number unit", with Latin short units
(m, h, d, w), Russian words in any form (минута/минуты/минут/мин, час/часа/часов/ч,
день/дня/дней/сутки/суток, неделя/недели/недель/нед) and English words (minutes, hours,
days, weeks); a unit alone means one of it («сутки», «час»), and «полчаса». Pure: no I/O,
no clock.
"""

from __future__ import annotations

import re
from datetime import timedelta

MINUTE, HOUR, DAY, WEEK = (timedelta(minutes=1), timedelta(hours=1), timedelta(days=1),
                           timedelta(weeks=1))
UNITS: dict[str, timedelta] = {
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes", "мин", "минута", "минуты",
                     "минут", "минуту", "м"), MINUTE),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours", "ч", "час", "часа", "часов"), HOUR),
    **dict.fromkeys(("d", "day", "days", "д", "дн", "день", "дня", "дней", "сутки", "суток"),
                    DAY),
    **dict.fromkeys(("w", "week", "weeks", "н", "нед", "неделя", "недели", "недель",
                     "неделю"), WEEK),
}
EXAMPLES = "30m, 2h, 1d, 1h30m, 24h, 90 минут, 24 часа, 1 день, 2 дня, 1 неделя"
_PART = re.compile(r"\s*(\d+)\s*([a-zа-яё]+)\.?\s*(?:,|и|and)?", re.IGNORECASE)


# Said without a number: «за сутки», «через час», «полчаса».
WORDS: dict[str, timedelta] = {
    "минуту": MINUTE, "час": HOUR, "день": DAY, "сутки": DAY, "неделю": WEEK, "неделя": WEEK,
    "полчаса": 30 * MINUTE, "полтора часа": 90 * MINUTE,
    "hour": HOUR, "day": DAY, "week": WEEK,
}


def parse(text: str) -> timedelta | None:
    """The duration ``text`` says, or None when it is not one ('2 hours' -> 2 h)."""
    source = " ".join(text.strip().lower().split())
    if source in WORDS:
        return WORDS[source]
    total, at = timedelta(0), 0
    while at < len(source):
        part = _PART.match(source, at)
        if part is None or part.group(2) not in UNITS:
            return None
        total += int(part.group(1)) * UNITS[part.group(2)]
        at = part.end()
    return total if source else None


def is_duration(text: str) -> bool:
    return parse(text) is not None

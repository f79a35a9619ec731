"""A day of the example salon's booking funnel, written as the turns' saves write it (for the
desk page, the API and the screenshot; exactness itself: test_funnel_exact)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flows.types import Happened
from storage.funnel import Counts, counts_of
from storage.store import Store

ZONE = ZoneInfo("Europe/Moscow")
STEPS = ("service", "specialist", "day", "time", "consent", "name", "phone", "confirm")
ENTERED = (40, 34, 31, 27, 25, 22, 21, 20)  # per step, all channels
CYCLE = ("vk", "max", "vk", "web", "vk", "max", "vk", "web", "vk", "max")  # 5 : 3 : 2


def today() -> str:
    return datetime.now(UTC).astimezone(ZONE).date().isoformat()


def _facts() -> list[tuple[Happened, int]]:
    facts: list[tuple[Happened, int]] = [(Happened("started", "booking"), ENTERED[0])]
    for i, (step, entered) in enumerate(zip(STEPS, ENTERED, strict=True)):
        facts.append((Happened("entered", "booking", step), entered))
        went_on = ENTERED[i + 1] if i + 1 < len(ENTERED) else 18
        choices = {"service": ["Стрижка", "Окрашивание", "Укладка"],
                   "specialist": ["Анна", "Ольга", "Любой мастер"],
                   "confirm": ["yes"]}.get(step, [""])
        for n in range(went_on):
            facts.append((Happened("answered", "booking", step, choices[n % len(choices)] or None,
                                   (5, 20, 50, 100)[(n + i) % 4]), 1))
        if step == "day":
            facts.append((Happened("retried", "booking", step), 9))
    facts.append((Happened("finished", "booking"), 18))
    return facts


async def seed(store: Store, day: str | None = None) -> None:
    """Write the day's counts (``today()`` by default), spread over the channels."""
    day = day or today()
    spread: dict[str, list[Happened]] = {channel: [] for channel in CYCLE}
    for fact, count in _facts():
        for n in range(count):
            spread[CYCLE[n % len(CYCLE)]].append(fact)
    for channel, facts in spread.items():
        counts = counts_of(day, facts, channel)
        assert isinstance(counts, Counts)
        await store.funnel.count(counts)

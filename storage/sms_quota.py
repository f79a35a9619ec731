"""The SMS quota: how many SMS a customer gets per day and how many parts the bot sends per month.

``take_sms`` checks both limits and counts both at once (one script, the ``{notices}`` slot):
the daily limit counts messages per customer, the monthly budget counts parts (what providers
bill: a long text is several parts) for the whole bot. Counters expire on their own (two days,
two months). A take sent nowhere (refused before it left) is given back once with
``give_back``; a take retried by redis-py after a dropped connection may count twice — the
quota errs towards sending less, never more.

This module must not send anything nor know which notice a take is for.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Literal

from storage.client import RedisClient
from storage.codec import text
from storage.errors import guarded, guarded_slow
from storage.keys import Keys
from storage.notice_scripts import GiveBack, Take
from storage.scripts import runner

Limit = Literal["daily", "monthly"]


@dataclass(frozen=True, slots=True)
class Taken:
    """A take that counted (``give_back`` it if the SMS never left)."""

    id: str
    customer: str
    day: str
    month: str
    parts: int
    day_count: int  # messages to this customer that day, this one included
    month_parts: int  # parts this month, these included


@dataclass(frozen=True, slots=True)
class Refusal:
    """A take refused: ``limit`` was hit (nothing was counted)."""

    limit: Limit
    day_count: int
    month_parts: int


class SmsQuota:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._take = runner(redis, Take)
        self._give_back = runner(redis, GiveBack)

    @guarded
    async def take_sms(self, customer: str, day: str, month: str, daily_limit: int | None,
                       monthly_budget: int | None, parts: int) -> Taken | Refusal:
        """Count one SMS of ``parts`` parts for ``customer`` on ``day`` (e.g. "2026-12-04",
        in the business's time zone) and in ``month`` ("2026-12"), unless that would pass
        ``daily_limit`` messages or ``monthly_budget`` parts (None: no limit)."""
        if parts < 1:
            raise ValueError(f"an SMS has at least one part, not {parts}")
        take_id = secrets.token_hex(8)
        why, day_count, month_parts = await self._take(Take(
            self._keys.sms_day(day, customer), self._keys.sms_month(month),
            self._keys.sms_take(take_id), _limit(daily_limit), _limit(monthly_budget), parts))
        if text(why) == "ok":
            return Taken(take_id, customer, day, month, parts, int(day_count), int(month_parts))
        limit: Limit = "daily" if text(why) == "daily" else "monthly"
        return Refusal(limit, int(day_count), int(month_parts))

    @guarded
    async def give_back(self, taken: Taken) -> bool:
        """Uncount ``taken`` (the send was refused before leaving); True the first time only."""
        return bool(await self._give_back(GiveBack(
            self._keys.sms_day(taken.day, taken.customer), self._keys.sms_month(taken.month),
            self._keys.sms_take(taken.id))))

    @guarded_slow
    async def erase(self, customer: str) -> int:
        """Delete the customer's daily counters (their names hold the id); how many."""
        found = [key async for key in self._redis.scan_iter(
            match=self._keys.sms_days_pattern(customer), count=1000)]
        for key in found:
            await self._redis.delete(key)
        return len(found)


def _limit(value: int | None) -> int:
    return -1 if value is None else max(value, 0)

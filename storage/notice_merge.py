"""Notices follow a merge: ``other``'s records, due entries, SMS index and quota counters
become ``keep``'s (``storage.merge`` calls ``move_notices``).

Without it a merge would leave ``other``'s notice records — their texts are the customer's
data — under an id nobody looks up any more: ``svyaz forget`` of the merged customer would not
reach them, a delivery report would point at a customer that is gone, and the SMS counted
today under ``other`` would not count against ``keep``'s daily limit.

Cross-slot (records live in each customer's slot, the indexes in ``{notices}``), so not atomic:
safe to run again — a merge interrupted half way is finished by the next ``merge``.
This module must not decide when to merge nor climb a ladder (``bots.ladder``).
"""

from __future__ import annotations

from typing import Any

from storage.client import RedisClient
from storage.codec import text
from storage.keys import NOTICE_TTL, SMS_DAY_TTL, Keys
from storage.notices import due_member, notice_record, rung_ref


async def move_notices(redis: RedisClient, keys: Keys, other: str, keep: str) -> int:
    """Move every notice of ``other`` to ``keep`` (a notice both have stays ``keep``'s and
    ``other``'s copy is dropped); how many moved. Then the quota counters."""
    ids = {text(i) for i in await redis.smembers(keys.notice_ids(other))}
    cut = len(keys.notice(other, "x")) - 1
    async for key in redis.scan_iter(match=keys.notices_pattern(other), count=1000):
        ids.add(text(key)[cut:])
    moved = 0
    for notice_id in sorted(ids):
        moved += await _move_one(redis, keys, other, keep, notice_id)
    await redis.delete(keys.notice_ids(other), keys.climbing(other))
    await _move_counters(redis, keys, other, keep)
    return moved


async def _move_one(redis: RedisClient, keys: Keys, other: str, keep: str,
                    notice_id: str) -> int:
    source, target = keys.notice(other, notice_id), keys.notice(keep, notice_id)
    flat: Any = await redis.hgetall(source)
    due = await redis.zscore(keys.notices_due, due_member(other, notice_id))
    taken = bool(flat) and not await redis.exists(target)
    if taken:
        await redis.hset(target, mapping=flat)
        await redis.expire(target, NOTICE_TTL)
        await redis.sadd(keys.notice_ids(keep), notice_id)
        if await redis.sismember(keys.climbing(other), notice_id):
            await redis.sadd(keys.climbing(keep), notice_id)
        if due is not None:
            await redis.zadd(keys.notices_due, {due_member(keep, notice_id): due})
    for rung, outcome in enumerate(notice_record(other, notice_id, flat).outcomes if flat else ()):
        if outcome is not None and outcome.message_id:  # its delivery report finds ``keep``
            index = keys.sms_sent(outcome.provider, outcome.message_id)
            if text(await redis.get(index) or b"") == rung_ref(other, notice_id, rung):
                if taken:
                    await redis.set(index, rung_ref(keep, notice_id, rung), keepttl=True)
                else:
                    await redis.delete(index)
    await redis.zrem(keys.notices_due, due_member(other, notice_id))
    await redis.delete(source)
    return int(taken)


async def _move_counters(redis: RedisClient, keys: Keys, other: str, keep: str) -> None:
    """Today's SMS of ``other`` count against ``keep``'s daily limit from now on."""
    prefix, suffix = keys.sms_days_pattern(other).split("*")
    async for raw in redis.scan_iter(match=keys.sms_days_pattern(other), count=1000):
        key = text(raw)
        day = key[len(prefix):len(key) - len(suffix)]
        count = await redis.get(key)
        if count is not None:
            target = keys.sms_day(day, keep)
            await redis.incrby(target, int(count))
            await redis.expire(target, SMS_DAY_TTL)
        await redis.delete(key)

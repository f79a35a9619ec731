"""What a drill found lost: per lost message, its customer's keys as the drill ended — inbox,
lock, state (version, step, left effects, notes of unsaved outbox entries), pending-set
membership, the last history entries and the customer's outbox entries — to stderr, with
the kills near its first delivery attempt. For reading (which step of a turn a kill cut), not
a figure. The cluster is torn down with the drill: this is the one look at it."""

from __future__ import annotations

import sys
from typing import Any

from storage.codec import text
from storage.outbox import every_shard
from storage.store import Store

Lost = tuple[str, int, str, float]  # channel, user, expected needle, first attempt (perf_counter)


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def _short(fields: dict[Any, Any], width: int = 200) -> dict[str, str]:
    return {text(k): text(v)[:width] for k, v in fields.items()}


async def autopsy(redis_url: str, bot: str, lost: list[Lost], kill_times: list[float]) -> None:
    if not lost:
        return
    store = Store.from_url(redis_url, bot=bot)
    await store.ready()
    try:
        for channel, user, needle, posted in lost:
            kills = [round(k - posted, 2) for k in kill_times if abs(k - posted) < 15]
            found = await store.redis.get(store.keys.account(f"{channel}:{user}"))
            customer = None if found is None else text(found)
            _say(f"LOST {channel}:{user} {needle!r}: customer {customer}, kills at {kills} s "
                 "from its first delivery attempt")
            if customer is not None:
                await _customer(store, customer)
    finally:
        await store.close()


async def _customer(store: Store, customer: str) -> None:
    r, keys = store.redis, store.keys
    rows = [(text(i), _short(f, 160)) for i, f in await r.xrange(keys.inbox(customer))]
    _say(f"  inbox {rows}")
    _say(f"  lock {await r.get(keys.lock(customer))!r} pttl {await r.pttl(keys.lock(customer))}")
    _say(f"  state {_short(await r.hgetall(keys.state(customer)), 300)}")
    _say(f"  pending {await r.sismember(keys.pending, customer)}")
    for entry_id, fields in await r.xrevrange(keys.history(customer), count=6):
        _say(f"  history {text(entry_id)} {_short(fields)}")
    for shard in every_shard(keys):
        for k, v in (await r.hgetall(shard.data)).items():
            if customer in text(v):
                lease = await r.zscore(shard.lease, text(k))
                _say(f"  outbox {text(k)} lease {lease} {text(v)[:300]}")

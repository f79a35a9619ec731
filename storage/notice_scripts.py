"""The notices' Lua scripts, each with its typed call (``storage.scripts``): the only way
``storage.notices`` and ``storage.sms_quota`` run them.

A notice's scripts touch the customer's keys only (its record hash, the sets of its notice ids
and of those still climbing: one hash tag, one Redis Cluster slot); the quota's scripts touch
the ``{notices}`` keys only. A record is a hash: ``rungs`` (JSON list of names), ``at`` (the
current rung), ``state``, ``created``, ``changed``, ``next`` (times as the caller gave them)
and ``r<i>`` per rung that was claimed: a JSON object whose ``s`` is ``claimed``, ``sent``,
``refused``, ``unknown`` or ``failed`` and whose ``token`` is the claim's.

This module must not decide what a notice does next nor decode records (``storage.notices``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from storage.keys import NOTICE_TTL, SMS_DAY_TTL, SMS_MONTH_TTL, SMS_TAKE_TTL, Keys
from storage.scripts import Key, Script, Spread

_EXAMPLE = ("c1", "job-1:2026-12-04T10:00")

OPEN_LUA = """
local new = 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'rungs', ARGV[2], 'at', 0, 'state', 'climbing',
             'created', ARGV[3], 'changed', ARGV[3], 'next', ARGV[4])
  for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
  redis.call('SADD', KEYS[2], ARGV[1])
  redis.call('SADD', KEYS[3], ARGV[1])
  for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
  new = 1
end
return {new, redis.call('HGETALL', KEYS[1])}
"""

# The one place a rung becomes claimed: only when it never was (the field is absent), the
# notice still climbs and the rung is its current one. A retry with the same token (a
# timeout, redis-py re-sending after a dropped connection) gets its own claim back. A rung
# refused with a reason starting "retry:" (the provider's rate limit: nothing left) may be
# claimed again.
CLAIM_LUA = """
local rec = redis.call('HMGET', KEYS[1], 'state', 'at')
if not rec[1] then return {'missing'} end
local field = 'r' .. ARGV[1]
local cur = redis.call('HGET', KEYS[1], field)
if cur then
  local o = cjson.decode(cur)
  if o.s == 'claimed' and o.token == ARGV[2] then return {'claimed', cur} end
  if not (o.s == 'refused' and string.sub(o.reason or '', 1, 6) == 'retry:') then
    return {'taken', cur}
  end
end
if rec[1] ~= 'climbing' then return {rec[1]} end
if tonumber(rec[2]) ~= tonumber(ARGV[1]) then return {'not_current'} end
local claim = cjson.encode({s = 'claimed', token = ARGV[2], at = ARGV[3]})
redis.call('HSET', KEYS[1], field, claim, 'changed', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {'claimed', claim}
"""

# Only the claim's token settles it, once; the same settlement again (a retry) is a success.
SETTLE_LUA = """
local field = 'r' .. ARGV[1]
local cur = redis.call('HGET', KEYS[1], field)
if not cur then return {0} end
local o = cjson.decode(cur)
if o.token ~= ARGV[2] then return {0, cur} end
if cur == ARGV[3] then return {1, cur} end
if o.s ~= 'claimed' then return {0, cur} end
redis.call('HSET', KEYS[1], field, ARGV[3], 'changed', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {1, ARGV[3]}
"""

# A delivery report for a sent rung, matched by provider and message id.
REPORT_LUA = """
local field = 'r' .. ARGV[1]
local cur = redis.call('HGET', KEYS[1], field)
if not cur then return 0 end
local o = cjson.decode(cur)
if (o.s ~= 'sent' and o.s ~= 'failed') or o.provider ~= ARGV[2] or o.id ~= ARGV[3] then
  return 0
end
if ARGV[4] == '1' then o.delivered = ARGV[5] else o.s = 'failed'; o.failed = ARGV[5] end
redis.call('HSET', KEYS[1], field, cjson.encode(o), 'changed', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[6])
return 1
"""

ANSWERED_LUA = """
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. id
  if redis.call('HGET', key, 'state') == 'climbing' then
    redis.call('HSET', key, 'state', 'answered', 'changed', ARGV[2])
    redis.call('EXPIRE', key, ARGV[3])
    table.insert(out, id)
  end
end
redis.call('DEL', KEYS[1])
return out
"""

# Moves from rung ARGV[2] only (two runtimes advancing the same rung move it once).
ADVANCE_LUA = """
local rec = redis.call('HMGET', KEYS[1], 'state', 'at', 'rungs')
if not rec[1] then return {0, {}} end
if rec[1] ~= 'climbing' or tonumber(rec[2]) ~= tonumber(ARGV[2]) then
  return {0, redis.call('HGETALL', KEYS[1])}
end
local at = tonumber(rec[2]) + 1
if at >= #cjson.decode(rec[3]) then
  redis.call('HSET', KEYS[1], 'state', 'exhausted', 'changed', ARGV[3])
  redis.call('SREM', KEYS[2], ARGV[1])
else
  redis.call('HSET', KEYS[1], 'at', at, 'changed', ARGV[3], 'next', ARGV[4])
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {1, redis.call('HGETALL', KEYS[1])}
"""

STOP_LUA = """
if redis.call('HGET', KEYS[1], 'state') ~= 'climbing' then
  return {0, redis.call('HGETALL', KEYS[1])}
end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'changed', ARGV[3])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {1, redis.call('HGETALL', KEYS[1])}
"""

RESCHEDULE_LUA = """
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'climbing' then
  redis.call('HSET', KEYS[1], 'next', ARGV[1], 'changed', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return state or ''
"""


@dataclass(slots=True)
class Open(Script):
    """``OPEN_LUA``: create the record unless it exists; {1 if created, HGETALL}."""

    LUA: ClassVar[str] = OPEN_LUA
    record: Key
    ids: Key
    climbing: Key
    notice_id: str
    rungs: str
    now: str
    next: str
    ttl: int = NOTICE_TTL
    fields: Spread = ()  # more (name, value) pairs written with the record, in one step

    @classmethod
    def example(cls, keys: Keys) -> Self:
        c, n = _EXAMPLE
        return cls(keys.notice(c, n), keys.notice_ids(c), keys.climbing(c), n, '["sms"]', "1", "1")


@dataclass(slots=True)
class ClaimRung(Script):
    """``CLAIM_LUA``: {why, the rung's JSON when it has one}."""

    LUA: ClassVar[str] = CLAIM_LUA
    record: Key
    rung: int
    token: str
    now: str
    ttl: int = NOTICE_TTL

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls(keys.notice(*_EXAMPLE), 0, "token", "1")


@dataclass(slots=True)
class Settle(Script):
    """``SETTLE_LUA``: {1 if settled (or already so), the rung's JSON}."""

    LUA: ClassVar[str] = SETTLE_LUA
    record: Key
    rung: int
    token: str
    outcome: str
    now: str
    ttl: int = NOTICE_TTL

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls(keys.notice(*_EXAMPLE), 0, "token", '{"s":"refused"}', "1")


@dataclass(slots=True)
class Report(Script):
    """``REPORT_LUA``: 1 if the rung sent ``message_id`` through ``provider`` and now says so."""

    LUA: ClassVar[str] = REPORT_LUA
    record: Key
    rung: int
    provider: str
    message_id: str
    delivered: int
    now: str
    ttl: int = NOTICE_TTL

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls(keys.notice(*_EXAMPLE), 1, "smsru", "000-1", 1, "1")


@dataclass(slots=True)
class Answered(Script):
    """``ANSWERED_LUA``: the ids of the notices it stopped (records under ``prefix``)."""

    LUA: ClassVar[str] = ANSWERED_LUA
    climbing: Key
    prefix: str
    now: str
    ttl: int = NOTICE_TTL

    @classmethod
    def of(cls, keys: Keys, customer: str, now: str) -> Self:
        prefix = keys.notice(customer, "x")[:-1]  # the record keys share the customer's tag
        return cls(keys.climbing(customer), prefix, now)

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys, "c1", "1")


@dataclass(slots=True)
class Advance(Script):
    """``ADVANCE_LUA``: {1 if moved, HGETALL}."""

    LUA: ClassVar[str] = ADVANCE_LUA
    record: Key
    climbing: Key
    notice_id: str
    rung: int
    now: str
    next: str
    ttl: int = NOTICE_TTL

    @classmethod
    def example(cls, keys: Keys) -> Self:
        c, n = _EXAMPLE
        return cls(keys.notice(c, n), keys.climbing(c), n, 0, "1", "1")


@dataclass(slots=True)
class Stop(Script):
    """``STOP_LUA``: {1 if a climbing notice took ``state``, HGETALL}."""

    LUA: ClassVar[str] = STOP_LUA
    record: Key
    climbing: Key
    notice_id: str
    state: str
    now: str
    ttl: int = NOTICE_TTL

    @classmethod
    def example(cls, keys: Keys) -> Self:
        c, n = _EXAMPLE
        return cls(keys.notice(c, n), keys.climbing(c), n, "delivered", "1")


@dataclass(slots=True)
class Reschedule(Script):
    """``RESCHEDULE_LUA``: the notice's state ("" when there is none)."""

    LUA: ClassVar[str] = RESCHEDULE_LUA
    record: Key
    next: str
    now: str
    ttl: int = NOTICE_TTL

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls(keys.notice(*_EXAMPLE), "2", "1")


# ---------------------------------------------------------------------- the SMS quota

# A limit below 0 is no limit. The daily limit counts messages, the monthly budget parts.
TAKE_LUA = """
local parts = tonumber(ARGV[3])
local day = tonumber(redis.call('GET', KEYS[1]) or '0')
local month = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) >= 0 and day + 1 > tonumber(ARGV[1]) then return {'daily', day, month} end
if tonumber(ARGV[2]) >= 0 and month + parts > tonumber(ARGV[2]) then
  return {'monthly', day, month}
end
redis.call('INCRBY', KEYS[1], 1)
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
redis.call('INCRBY', KEYS[2], parts)
if redis.call('TTL', KEYS[2]) < 0 then redis.call('EXPIRE', KEYS[2], ARGV[5]) end
redis.call('SET', KEYS[3], parts, 'EX', ARGV[6])
return {'ok', day + 1, month + parts}
"""

# Once per take: its mark is deleted as it is given back. Counters never go below 0.
GIVE_BACK_LUA = """
local parts = tonumber(redis.call('GET', KEYS[3]) or '-1')
if parts < 0 then return 0 end
redis.call('DEL', KEYS[3])
local day = tonumber(redis.call('GET', KEYS[1]) or '0')
if day > 0 then redis.call('DECRBY', KEYS[1], 1) end
local month = tonumber(redis.call('GET', KEYS[2]) or '0')
if month > 0 then redis.call('DECRBY', KEYS[2], math.min(parts, month)) end
return 1
"""


@dataclass(slots=True)
class Take(Script):
    """``TAKE_LUA``: {"ok" | "daily" | "monthly", the day's count, the month's parts}."""

    LUA: ClassVar[str] = TAKE_LUA
    day: Key
    month: Key
    take: Key
    daily_limit: int
    monthly_budget: int
    parts: int
    day_ttl: int = SMS_DAY_TTL
    month_ttl: int = SMS_MONTH_TTL
    take_ttl: int = SMS_TAKE_TTL

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls(keys.sms_day("2026-12-04", "c1"), keys.sms_month("2026-12"),
                   keys.sms_take("t1"), 3, 1000, 1)


@dataclass(slots=True)
class GiveBack(Script):
    """``GIVE_BACK_LUA``: 1 if the take was still there to give back."""

    LUA: ClassVar[str] = GIVE_BACK_LUA
    day: Key
    month: Key
    take: Key

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls(keys.sms_day("2026-12-04", "c1"), keys.sms_month("2026-12"),
                   keys.sms_take("t1"))

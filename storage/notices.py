"""Notice records: the storage under a critical notice's ladder (messenger -> SMS -> e-mail).

A notice (customer, notice id given by the caller, e.g. a reminder's job id and due time) is a
hash in the customer's slot: its rungs, the current rung, its state (``climbing``,
``answered``, ``delivered``, ``exhausted``), its times and, per rung tried, what happened
(``Rung``). The customer's notice ids and those still climbing are two sets beside it. Global,
in the ``{notices}`` slot: the due-checks zset and one key per sent SMS for delivery reports
(``Keys``). The SMS quota is ``storage.sms_quota`` (``Notices.quota``).

Guarantee: never two sends of one rung (never two SMS for one notice's SMS rung). It rests on
* ``claim`` being the only way to a send: the runtime claims a rung, then sends, then
  ``settle``s; a rung's claim is written once (Lua, atomic) and never removed while the record
  lives, so a second claim — another process, a retry, a re-fired timer, a restart after
  kill -9 between claim and send or between send and settle — is refused with what is known.
  A claim never settled stays ``claimed``: the send may have happened, the rung is never
  re-sent (the runtime may settle it ``unknown`` with the token it reads from the record);
* the same notice id across retries (the caller derives it from stable ids), and the record
  outliving every retry (``NOTICE_TTL`` after the last change; a notice reopened after that,
  or after erasure, starts afresh);
* the claim reaching Redis's disk before the send: a Redis that loses acknowledged writes (a
  crash within ``appendfsync everysec``'s second, a failover to a replica that missed the
  write) can lose a claim — run Redis with AOF ``always`` or ``WAIT`` for replicas where that
  matters. A timed-out claim may have been applied: retry it with the same token, which gets
  its own claim back (redis-py's own retry after a dropped connection does exactly that).
The global keys are written after the customer's record (``settle`` then the SMS index;
the due index before ``open``): a crash between loses at worst a delivery report, or leaves a
due entry whose record is gone (``reschedule`` removes it); never a second send.

This module must not send, decide when to climb, or build key names (``storage.keys``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from storage.client import RedisClient
from storage.codec import dumps, loads, text
from storage.errors import guarded, guarded_slow
from storage.keyparts import check_notice_id
from storage.keys import NOTICE_TTL, SMS_INDEX_TTL, Keys
from storage.notice_scripts import (
    Advance,
    Answered,
    ClaimRung,
    Open,
    Report,
    Reschedule,
    Settle,
    Stop,
)
from storage.notice_texts import NoticeTexts
from storage.scripts import CompareAndDelete, runner
from storage.sms_quota import SmsQuota

State = Literal["climbing", "answered", "delivered", "exhausted"]
Status = Literal["claimed", "sent", "refused", "unknown", "failed"]
ClaimWhy = Literal["claimed", "taken", "missing", "not_current", "answered", "delivered",
                   "exhausted"]


@dataclass(frozen=True, slots=True)
class Rung:
    """What happened on one rung: its claim, then its outcome."""

    status: Status
    token: str
    at: float  # when claimed, then when settled
    provider: str = ""
    message_id: str = ""
    parts: int = 0
    reason: str = ""
    delivered_at: float | None = None
    failed_at: float | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    customer: str
    id: str
    rungs: tuple[str, ...]
    at: int  # the current rung's index
    state: State
    created: float
    changed: float
    next_check: float
    outcomes: tuple[Rung | None, ...]  # per rung; None: never claimed
    text: str = ""  # what the later rungs send, and how they climb (``NoticeTexts.keep``)
    until: str = "answered"
    within: float = 7200.0
    urgent: bool = False

    @property
    def current(self) -> str:
        return self.rungs[self.at]


@dataclass(frozen=True, slots=True)
class Sent:
    provider: str
    message_id: str
    parts: int = 1


@dataclass(frozen=True, slots=True)
class Refused:
    """The provider refused: nothing left (a quota take may be given back)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Unknown:
    """The send may have happened (a timeout, a cut connection, a crash): never re-send."""

    reason: str = ""


Settlement = Sent | Refused | Unknown


@dataclass(frozen=True, slots=True)
class Claim:
    won: bool  # True: this token holds the rung and may send
    why: ClaimWhy  # "claimed" when won; else why not
    rung: Rung | None  # the rung as stored (the claim just made, or what was there)


@dataclass(frozen=True, slots=True)
class Settled:
    ok: bool
    rung: Rung | None  # the rung as stored after the call


@dataclass(frozen=True, slots=True)
class SmsRef:
    """Which notice's rung sent an SMS (for a delivery report)."""

    customer: str
    notice_id: str
    rung: int


@dataclass(frozen=True, slots=True)
class Due:
    customer: str
    notice_id: str
    at: float


class Notices:
    """Notice records, their indexes and the SMS quota (``quota``)."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self.quota = SmsQuota(redis, keys)
        self.texts = NoticeTexts(redis, keys)
        self._open = runner(redis, Open)
        self._claim = runner(redis, ClaimRung)
        self._settle = runner(redis, Settle)
        self._report = runner(redis, Report)
        self._answered = runner(redis, Answered)
        self._advance = runner(redis, Advance)
        self._stop = runner(redis, Stop)
        self._reschedule = runner(redis, Reschedule)
        self._cad = runner(redis, CompareAndDelete)

    @guarded
    async def open(self, customer: str, notice_id: str, rungs: Sequence[str], now: float, *,
                   check_at: float | None = None,
                   fields: Mapping[str, str] | None = None) -> tuple[Notice, bool]:
        """The notice, created climbing at rung 0 unless it exists (then as it is); True when
        created. Its first check is due at ``check_at`` (default ``now``); ``fields`` are
        written with it in the same step (the ladder's ``until``/``within``/``urgent``)."""
        if not rungs:
            raise ValueError("a notice needs at least one rung")
        k = self._keys
        due = now if check_at is None else check_at
        # The due entry first: a crash before the record leaves an entry that leads nowhere
        # (``reschedule`` drops it), never a record that no check finds.
        await self._redis.zadd(k.notices_due, {due_member(customer, notice_id): due}, nx=True)
        new, flat = await self._open(Open(
            k.notice(customer, notice_id), k.notice_ids(customer), k.climbing(customer),
            notice_id, dumps(list(rungs)), repr(now), repr(due), NOTICE_TTL,
            tuple(x for pair in (fields or {}).items() for x in pair)))
        notice = notice_record(customer, notice_id, flat)
        await self._index(customer, notice_id, notice)  # a notice opened again: as it is
        return notice, bool(new)

    @guarded
    async def get(self, customer: str, notice_id: str) -> Notice | None:
        flat = await self._redis.hgetall(self._keys.notice(customer, notice_id))
        return notice_record(customer, notice_id, flat) if flat else None

    @guarded
    async def claim(self, customer: str, notice_id: str, rung: int, token: str,
                    now: float) -> Claim:
        """Claim ``rung`` (the current one) of a climbing notice for ``token``: won only if the
        rung was never claimed (or this token holds it and has not settled it)."""
        reply = await self._claim(ClaimRung(self._keys.notice(customer, notice_id), rung,
                                            token, repr(now)))
        why = cast(ClaimWhy, text(reply[0]))
        stored = _rung(reply[1]) if len(reply) > 1 else None
        return Claim(why == "claimed", why, stored)

    @guarded
    async def settle(self, customer: str, notice_id: str, rung: int, token: str,
                     outcome: Settlement, now: float) -> Settled:
        """Record what the claimed send did; only the claim's token may, once (the same
        settlement again is a success). A sent SMS is indexed for its delivery report."""
        ok, *stored = await self._settle(Settle(
            self._keys.notice(customer, notice_id), rung, token, _outcome(token, outcome, now),
            repr(now)))
        if ok and isinstance(outcome, Sent) and outcome.message_id:  # (an SMS: its report)
            await self._redis.set(self._keys.sms_sent(outcome.provider, outcome.message_id),
                                  rung_ref(customer, notice_id, rung), ex=SMS_INDEX_TTL)
        return Settled(bool(ok), _rung(stored[0]) if stored else None)

    @guarded
    async def sms(self, provider: str, message_id: str) -> SmsRef | None:
        """The notice rung that sent ``message_id`` through ``provider`` (for its report)."""
        raw = await self._redis.get(self._keys.sms_sent(provider, message_id))
        if raw is None:
            return None
        data = loads(raw)
        return SmsRef(str(data["c"]), str(data["n"]), int(data["r"]))

    @guarded
    async def report(self, provider: str, message_id: str, delivered: bool,
                     now: float) -> SmsRef | None:
        """A delivery report: the rung is marked delivered, or ``failed``; the notice's state
        is the runtime's to change (``stop``). None when no rung sent that message."""
        ref = await self.sms(provider, message_id)
        if ref is None:
            return None
        done = await self._report(Report(self._keys.notice(ref.customer, ref.notice_id),
                                         ref.rung, provider, message_id, int(delivered),
                                         repr(now)))
        return ref if done else None

    @guarded
    async def answered(self, customer: str, now: float) -> list[str]:
        """The customer wrote (on any channel): every climbing notice of theirs is answered.
        The ids stopped."""
        stopped = [text(i) for i in await self._answered(Answered.of(self._keys, customer,
                                                                     repr(now)))]
        if stopped:
            await self._redis.zrem(self._keys.notices_due,
                                   *(due_member(customer, i) for i in stopped))
        return sorted(stopped)

    @guarded
    async def advance(self, customer: str, notice_id: str, rung: int, now: float, *,
                      check_at: float | None = None) -> Notice | None:
        """Move a climbing notice from ``rung`` (only from it: two callers move it once) to the
        next, due at ``check_at`` (default ``now``), or to ``exhausted`` after the last."""
        due = now if check_at is None else check_at
        _, flat = await self._advance(Advance(
            self._keys.notice(customer, notice_id), self._keys.climbing(customer), notice_id,
            rung, repr(now), repr(due)))
        notice = notice_record(customer, notice_id, flat) if flat else None
        await self._index(customer, notice_id, notice)
        return notice

    @guarded
    async def stop(self, customer: str, notice_id: str, state: State,
                   now: float) -> Notice | None:
        """End a climbing notice as ``state`` (e.g. ``delivered``); the record as it is."""
        _, flat = await self._stop(Stop(self._keys.notice(customer, notice_id),
                                        self._keys.climbing(customer), notice_id, state,
                                        repr(now)))
        notice = notice_record(customer, notice_id, flat) if flat else None
        await self._index(customer, notice_id, notice)
        return notice

    @guarded
    async def reschedule(self, customer: str, notice_id: str, at: float, now: float) -> bool:
        """Check a climbing notice next at ``at``; False (and out of the due index) when it is
        not climbing or gone."""
        state = text(await self._reschedule(Reschedule(self._keys.notice(customer, notice_id),
                                                       repr(at), repr(now))))
        member = due_member(customer, notice_id)
        if state == "climbing":
            await self._redis.zadd(self._keys.notices_due, {member: at})
            return True
        await self._redis.zrem(self._keys.notices_due, member)
        return False

    @guarded
    async def due(self, now: float, limit: int = 100) -> list[Due]:
        """Notices whose next check is at or before ``now``, soonest first (any process may
        see the same one: ``claim`` keeps their sends single)."""
        rows = cast(list[tuple[bytes | str, float]], await self._redis.zrangebyscore(
            self._keys.notices_due, "-inf", now, start=0, num=limit, withscores=True))
        found = []
        for member, score in rows:
            customer, _, notice_id = text(member).partition(" ")
            found.append(Due(customer, notice_id, float(score)))
        return found

    async def _index(self, customer: str, notice_id: str, notice: Notice | None) -> None:
        if notice is None or notice.state != "climbing":
            await self._redis.zrem(self._keys.notices_due, due_member(customer, notice_id))
        else:
            await self._redis.zadd(self._keys.notices_due,
                                   {due_member(customer, notice_id): notice.next_check})

    @guarded_slow
    async def erase(self, customer: str) -> int:
        """Erase the customer's notices, their due entries, the SMS index entries pointing at
        them and the customer's quota counters; how many notices."""
        k = self._keys
        ids = {text(i) for i in await self._redis.smembers(k.notice_ids(customer))}
        cut = len(k.notice(customer, "x")) - 1
        async for key in self._redis.scan_iter(match=k.notices_pattern(customer), count=1000):
            ids.add(text(key)[cut:])
        for notice_id in sorted(ids):
            await self._erase_one(customer, notice_id)
        members = cast(AsyncIterator[tuple[bytes | str, float]],
                       self._redis.zscan_iter(k.notices_due, match=f"{customer} *"))
        async for member, _ in members:
            await self._redis.zrem(k.notices_due, member)
        await self._redis.delete(k.notice_ids(customer), k.climbing(customer))
        await self.quota.erase(customer)
        return len(ids)

    async def _erase_one(self, customer: str, notice_id: str) -> None:
        notice = await self.get(customer, notice_id)
        for index, rung in enumerate(notice.outcomes if notice else ()):
            if rung is not None and rung.message_id:
                await self._cad(CompareAndDelete(
                    self._keys.sms_sent(rung.provider, rung.message_id),
                    rung_ref(customer, notice_id, index)))
        await self._redis.zrem(self._keys.notices_due, due_member(customer, notice_id))
        await self._redis.delete(self._keys.notice(customer, notice_id))


def due_member(customer: str, notice_id: str) -> str:
    """The notice's member in the due set (``Keys.notices_due``)."""
    return f"{customer} {check_notice_id(notice_id)}"


def rung_ref(customer: str, notice_id: str, rung: int) -> str:
    """What a provider's message index (an SMS id) points back to: the notice and its rung."""
    return dumps({"c": customer, "n": notice_id, "r": rung})


def _outcome(token: str, outcome: Settlement, now: float) -> str:
    data: dict[str, object] = {"token": token, "at": repr(now)}
    if isinstance(outcome, Sent):
        data.update(s="sent", provider=outcome.provider, id=outcome.message_id,
                    parts=outcome.parts)
    elif isinstance(outcome, Refused):
        data.update(s="refused", reason=outcome.reason)
    else:
        data.update(s="unknown", reason=outcome.reason)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _rung(raw: bytes | str) -> Rung:
    data = loads(raw)
    return Rung(
        status=data["s"], token=str(data["token"]), at=float(data["at"]),
        provider=str(data.get("provider", "")), message_id=str(data.get("id", "")),
        parts=int(data.get("parts", 0)), reason=str(data.get("reason", "")),
        delivered_at=_time(data.get("delivered")), failed_at=_time(data.get("failed")),
    )


def _time(value: Any) -> float | None:
    return None if value is None else float(value)


def notice_record(customer: str, notice_id: str, flat: Any) -> Notice:
    """A record from HGETALL (a dict from redis-py, a flat list from a script)."""
    if isinstance(flat, dict):
        fields = {text(k): v for k, v in flat.items()}
    else:
        fields = {text(flat[i]): flat[i + 1] for i in range(0, len(flat), 2)}
    rungs = tuple(str(r) for r in loads(fields["rungs"]))
    outcomes = tuple(_rung(fields[f"r{i}"]) if f"r{i}" in fields else None
                     for i in range(len(rungs)))
    return Notice(
        customer=customer, id=notice_id, rungs=rungs, at=int(fields["at"]),
        state=cast(State, text(fields["state"])), created=float(fields["created"]),
        changed=float(fields["changed"]), next_check=float(fields["next"]), outcomes=outcomes,
        text=text(fields.get("text", b"")), until=text(fields.get("until", b"answered")),
        within=float(fields.get("within", 7200.0)), urgent=fields.get("urgent") in (b"1", "1"),
    )

"""Customer profile: name, phone (E.164), e-mail, tags, and consent records (personal data,
and advertising: ``what="ads"``, which broadcasts read).

The phone index (``phone:<e164>`` -> customer) exists only while the customer's latest consent
is granted, so a phone seen in another channel can link the two only after consent (152-FZ).
Consent records are append-only (what, granted, when, text version, channel).

This module must not decide when consent is asked; the engine emits ``RecordConsent``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict

from flows.inputs import phone_e164
from storage.client import RedisClient
from storage.codec import text
from storage.errors import InvalidValue, guarded
from storage.keys import Keys
from storage.scripts import CompareAndDelete, Key, Script, runner

ProfileField = Literal["name", "phone", "email"]
FIELDS: tuple[ProfileField, ...] = ("name", "phone", "email")
DEFAULT_REGION = "RU"


class Consent(BaseModel):
    model_config = ConfigDict(frozen=True)

    what: str = "personal_data"
    granted: bool
    at: datetime
    text_version: str
    channel: str


class Profile(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    consents: tuple[Consent, ...] = ()
    tags: tuple[str, ...] = ()  # sorted

    @property
    def consent_granted(self) -> bool:
        """The latest personal-data consent answer (False when never asked)."""
        return self.latest_consent("personal_data")

    @property
    def ads_consent(self) -> bool:
        """A live advertising consent: the latest ads answer is a yes (38-FZ art. 18)."""
        return self.latest_consent("ads")

    def latest_consent(self, what: str) -> bool:
        latest = [c for c in self.consents if c.what == what]
        return bool(latest) and latest[-1].granted


def normalise_phone(value: str, region: str = DEFAULT_REGION) -> str:
    """``value`` in E.164; ``InvalidValue`` unless it is a *possible* number (length and
    country code fit). A flow's ``input: phone`` asks more: a *valid* number. Both read it
    with ``flows.inputs.phone_e164``, the one home of phone parsing, each keeping its rule."""
    e164 = phone_e164(value, region=region, check="possible")
    if e164 is None:
        raise InvalidValue("not a possible phone number")
    return e164


def normalise(field: str, value: str) -> str:
    value = value.strip()
    if field == "phone":
        return normalise_phone(value)
    if field == "email":
        local, at, domain = value.rpartition("@")
        if not at or not local or "." not in domain:
            raise InvalidValue("not an e-mail address")
        return f"{local}@{domain.lower()}"
    if field == "name":
        return value
    raise InvalidValue(f"unknown profile field {field!r}; fields are {', '.join(FIELDS)}")


def _profile(raw: dict[bytes | str, bytes | str], consents: list[bytes | str],
             tags: Iterable[bytes | str] = ()) -> Profile:
    fields = {text(k): text(v) for k, v in raw.items()}
    return Profile(
        name=fields.get("name"),
        phone=fields.get("phone"),
        email=fields.get("email"),
        consents=tuple(Consent.model_validate_json(c) for c in consents),
        tags=tuple(sorted(text(t) for t in tags)),
    )


@dataclass(slots=True)
class NameIfMissing(Script):
    """The platform's name for ``account``, kept unless the customer has a name (one they
    gave in a flow wins) and only while the account is still the customer's (not merged away
    nor erased meanwhile: a forgotten customer gets no profile back). 1 if stored, else 0."""

    LUA: ClassVar[str] = """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
return redis.call('HSETNX', KEYS[2], 'name', ARGV[2])
"""
    accounts: Key
    profile: Key
    account: str
    name: str

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls(keys.accounts("c1"), keys.profile("c1"), "vk:1", "Иван Петров")


class Profiles:
    """Profiles and the consent-gated phone index."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._name_if_missing = runner(redis, NameIfMissing)

    @guarded
    async def named(self, customers: Sequence[str]) -> list[bool]:
        """Which of ``customers`` have a name (one round trip; one slot per customer)."""
        pipe = self._redis.pipeline(transaction=False)
        for customer in customers:
            pipe.hexists(self._keys.profile(customer), "name")
        return [bool(found) for found in await pipe.execute()]

    @guarded
    async def platform_name(self, customer: str, account: str, name: str) -> bool:
        """``NameIfMissing``: keep the name ``account``'s platform shows; True if kept."""
        call = NameIfMissing(self._keys.accounts(customer), self._keys.profile(customer),
                             account, normalise("name", name))
        return bool(await self._name_if_missing(call))

    @guarded
    async def get(self, customer: str) -> Profile:
        pipe = self._redis.pipeline(transaction=False)  # one slot, one round trip
        pipe.hgetall(self._keys.profile(customer))
        pipe.lrange(self._keys.consents(customer), 0, -1)
        pipe.smembers(self._keys.tags(customer))
        raw, consents, tags = await pipe.execute()
        return _profile(raw, consents, tags)

    @guarded
    async def add_tags(self, customer: str, tags: Iterable[str]) -> None:
        if found := list(tags):
            await self._redis.sadd(self._keys.tags(customer), *found)

    @guarded
    async def set_field(self, customer: str, field: str, value: str) -> str:
        """Store a field (normalised: phone to E.164); returns the stored value. A phone
        costs two round trips: store it (reading the old one and the consents), then move
        the phone index."""
        value = normalise(field, value)
        if field != "phone":
            await self._redis.hset(self._keys.profile(customer), field, value)
            return value
        return (await self.set_phone(customer, value))[0]

    @guarded
    async def set_phone(self, customer: str, value: str) -> tuple[str, str | None]:
        """``set_field(customer, "phone", value)``, answering also what ``find_by_phone``
        answered just before: the stored phone and the consenting customer who held the
        number then (None: nobody). The holder is read in the store's round trip, so a number
        new to the bot costs two round trips, not three."""
        value = normalise("phone", value)
        pipe = self._redis.pipeline(transaction=False)  # the index key: any slot
        pipe.get(self._keys.phone(value))
        pipe.hget(self._keys.profile(customer), "phone")
        pipe.hset(self._keys.profile(customer), "phone", value)
        pipe.lrange(self._keys.consents(customer), 0, -1)
        holder, old, _, consents = await pipe.execute()
        found = None if holder is None else text(holder)
        if found is not None and found != customer:
            profile = await self.get(found)
            found = found if profile.phone == value and profile.consent_granted else None
        granted = _profile({}, consents).consent_granted
        await self._move_index(customer, None if old is None else text(old),
                               value if granted else None)
        return value, found

    async def _move_index(self, customer: str, old: str | None, new: str | None) -> None:
        """Drop the index entry of ``old`` (if it is this customer's), point ``new`` here
        unless another customer holds it: the first consenting holder keeps a number.

        Typing a number proves nothing. Were the index to follow the latest typist, a stranger
        typing a customer's number would become its holder, and the customer's next phone
        match would send *the stranger* a code that joins the customer's new chat to them.
        """
        if old == new:
            old = None
        if old is None and new is None:
            return
        pipe = self._redis.pipeline(transaction=False)  # index keys: any slots
        if old is not None:
            CompareAndDelete(self._keys.phone(old), customer).queue(pipe)  # still this one's
        if new is not None:
            pipe.set(self._keys.phone(new), customer, nx=True)
        taken = await pipe.execute()
        if new is not None and not taken[-1] and await self.find_by_phone(new) is None:
            # the holder has since lost the number or its consent: nobody holds it now
            await self._redis.set(self._keys.phone(new), customer)

    @guarded
    async def set_if_missing(self, customer: str, field: ProfileField, value: str) -> bool:
        value = normalise(field, value)
        added = await self._redis.hsetnx(self._keys.profile(customer), field, value)
        if added and field == "phone":
            await self._index(customer)
        return bool(added)

    @guarded
    async def record_consent(
        self,
        customer: str,
        granted: bool,
        text_version: str,
        at: datetime,
        channel: str,
        *,
        what: str = "personal_data",
    ) -> None:
        consent = Consent(
            what=what, granted=granted, at=at, text_version=text_version, channel=channel
        )
        pipe = self._redis.pipeline(transaction=False)
        pipe.rpush(self._keys.consents(customer), consent.model_dump_json())
        pipe.hget(self._keys.profile(customer), "phone")
        _, phone = await pipe.execute()
        if phone is not None and what == "personal_data":  # the latest answer decides
            phone = text(phone)
            await self._move_index(customer, None if granted else phone,
                                   phone if granted else None)

    @guarded
    async def find_by_phone(self, phone: str) -> str | None:
        """The customer with this phone, only if they have consented."""
        try:
            e164 = normalise_phone(phone)
        except InvalidValue:
            return None
        found = await self._redis.get(self._keys.phone(e164))
        if found is None:
            return None
        customer = text(found)
        profile = await self.get(customer)
        return customer if profile.phone == e164 and profile.consent_granted else None

    async def _index(self, customer: str) -> None:
        profile = await self.get(customer)
        if profile.phone and profile.consent_granted:
            await self._move_index(customer, None, profile.phone)

    async def _unindex(self, customer: str) -> None:
        phone = await self._redis.hget(self._keys.profile(customer), "phone")
        if phone is not None:
            await self._move_index(customer, text(phone), None)

    @guarded
    async def absorb(self, keep: str, other: str) -> None:
        """Merge: fields not set on ``keep`` come from ``other``; consents of both, in time."""
        theirs = await self.get(other)
        await self._unindex(other)
        for field in FIELDS:
            value = getattr(theirs, field)
            if value:
                await self._redis.hsetnx(self._keys.profile(keep), field, value)
        if theirs.tags:
            await self._redis.sadd(self._keys.tags(keep), *theirs.tags)
        if theirs.consents:
            ours = await self.get(keep)
            merged = sorted(ours.consents + theirs.consents, key=lambda c: c.at.timestamp())
            pipe = self._redis.pipeline(transaction=False)
            pipe.delete(self._keys.consents(keep))
            pipe.rpush(self._keys.consents(keep), *(c.model_dump_json() for c in merged))
            await pipe.execute()
        await self._redis.delete(self._keys.profile(other), self._keys.consents(other),
                                 self._keys.tags(other))
        await self._index(keep)

    @guarded
    async def erase(self, customer: str) -> None:
        await self._unindex(customer)
        await self._redis.delete(self._keys.profile(customer), self._keys.consents(customer),
                                 self._keys.tags(customer))

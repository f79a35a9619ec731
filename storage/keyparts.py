"""The parts of Redis key names that come from outside, checked before they go into a name.

A customer id, a notice id, an operator's name, a provider's message id: each must not break
the customer's hash tag (``{c:<id>}``), a separator or a SCAN pattern. ``storage.keys`` builds
the names from them; this module only checks and digests.
"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

_CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Notice ids come from the caller (a reminder's job id and due time): no braces (the hash tag),
# no spaces (the due index joins customer and id with one), no glob characters.
_NOTICE_ID = re.compile(r"^[A-Za-z0-9_.:@+=-]{1,160}$")
_PART = re.compile(r"^[A-Za-z0-9_.:@+=-]{1,100}$")  # a provider, message id, day, month, take
# An operator's name is shown to customers: letters of any script, digits, ``._-``; no braces,
# spaces or glob characters, so it is safe in a key name.
_OPERATOR = re.compile(r"^\w[\w.-]{0,39}$")


def check_bot(name: str) -> str:
    """A bot's namespace name follows the customer id's rule."""
    if not _CUSTOMER_ID.match(name):
        raise ValueError(f"invalid bot name {name!r}")
    return name


def check_customer_id(customer: str) -> str:
    """Customer ids go into key names: refuse anything that could break the hash tag."""
    if not _CUSTOMER_ID.match(customer):
        raise ValueError(f"invalid customer id {customer!r}")
    return customer


# Hash tags of recent customers by (bot, customer id), read first by ``Keys.tag``: a turn names
# ~18 keys of its customer, each a checked id and two f-strings before. Cleared when full.
TAGS_KEPT = 4096
TAGS: dict[tuple[str, str], str] = {}


def customer_tag(prefix: str, bot: str, customer: str) -> str:
    """``<prefix>{c:<id>}`` for a checked customer id, kept in ``TAGS``."""
    tag = f"{prefix}{{c:{check_customer_id(customer)}}}"
    if len(TAGS) >= TAGS_KEPT:
        TAGS.clear()
    TAGS[(bot, customer)] = tag
    return tag


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FUNNEL_TTL = 400 * 86_400  # seconds a day's funnel counts are kept (over a year, to compare)


def funnel_day(prefix: str, day: str) -> str:
    """The funnel's counts of ``day`` (``YYYY-MM-DD``, the business's time zone): a hash in
    the one slot ``{funnel}`` (fields: ``storage.funnel.field_of``; no customer id), under
    ``Keys.prefix`` ``prefix``. (Here rather than in ``storage.keys``, which is full.)"""
    if not _DAY.match(day):
        raise ValueError(f"invalid day {day!r}")
    return f"{prefix}{{funnel}}:day:{day}"


def token_digest(token: str) -> str:
    """Link tokens are stored by digest, so a key listing never reveals a usable token."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def check_notice_id(notice_id: str) -> str:
    if not _NOTICE_ID.match(notice_id):
        raise ValueError(f"invalid notice id {notice_id!r}")
    return notice_id


class OutboxKeys(NamedTuple):
    """One outbox shard's keys: entries (hash), leases (zset), claims (hash); one slot."""

    data: str
    lease: str
    tries: str


class BroadcastKeys(NamedTuple):
    """One broadcast's keys, all under ``{bc:<id>}`` (one slot): its definition and state
    (hash), the customers still to send (zset), the outcome per customer (hash), the
    per-customer marks already counted (hash) and the aggregate counters (hash)."""

    meta: str
    queue: str
    done: str
    marks: str
    stats: str


_BROADCAST_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def check_broadcast_id(broadcast: str) -> str:
    if not _BROADCAST_ID.match(broadcast):
        raise ValueError(f"invalid broadcast id {broadcast!r}")
    return broadcast


def broadcast_keys(prefix: str, broadcast: str) -> BroadcastKeys:
    """Broadcast ``broadcast``'s keys (each under its hash tag ``{bc:<id>}``)."""
    tag = f"{prefix}{{bc:{check_broadcast_id(broadcast)}}}"
    return BroadcastKeys(*(f"{tag}:{part}" for part in BroadcastKeys._fields))


def broadcasts_list(prefix: str) -> str:
    return f"{prefix}{{bc}}:all"


_BATCH_KEY = re.compile(r"^[0-9a-f]{1,64}$")


def broadcast_batch(prefix: str, broadcast: str, batch: str) -> str:
    """The members of a VK batch (hash: customer -> peer), under the broadcast's hash tag."""
    if not _BATCH_KEY.match(batch):
        raise ValueError(f"invalid batch key {batch!r}")
    return f"{prefix}{{bc:{check_broadcast_id(broadcast)}}}:batch:{batch}"


def broadcast_claim(prefix: str, broadcast: str, customer: str, shard: int) -> str:
    """The claim of ``customer``'s copy, in the customer's outbox shard ``{outbox:<n>}``."""
    return (f"{prefix}{{outbox:{shard}}}:bc:{check_broadcast_id(broadcast)}:"
            f"{check_customer_id(customer)}")


def check_operator(name: str) -> str:
    if not _OPERATOR.match(name):
        raise ValueError(f"invalid operator name {name!r}: letters, digits, '.', '_', '-'; "
                         "at most 40")
    return name


def _part(value: str) -> str:
    if not _PART.match(value):
        raise ValueError(f"invalid key part {value!r}")
    return value

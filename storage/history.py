"""Conversation history: every inbound and outbound message of a customer, in a Redis Stream.

One stream per customer (``{c:<id>}:history``), trimmed by length (``MAXLEN ~``) and, when set,
by age (``MINID ~``). Every entry has the same six fields so Redis stores field names once per
stream node (compact: well under 300 bytes a message). Export writes JSONL or CSV of one
customer or of all; ``forget`` erases a customer completely (``Store.forget``).
Merging two customers rebuilds the kept stream with both histories in time order.

This module must not decide what is recorded; the runtime appends.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, ClassVar, Literal, Self, TypeAlias

from flows.types import Attachment, Button
from storage.client import RedisClient
from storage.codec import (
    attachment_from_dict,
    attachment_to_dict,
    dumps,
    stream_rows,
    text,
)
from storage.errors import StorageError, guarded
from storage.keys import HISTORY_MAX_AGE, HISTORY_MAXLEN, Keys
from storage.scripts import Key, Script, runner

Direction = Literal["in", "out", "event"]
ExportFormat = Literal["jsonl", "csv"]
# The note of an outgoing entry an operator wrote, before the name: "operator: Анна".
OPERATOR_NOTE = "operator:"
# The note of the event that records a withdrawn advertising consent («стоп», «Отписаться»).
ADS_WITHDRAWN_NOTE = "consent: ads withdrawn"
CSV_COLUMNS = ("customer", "time", "channel", "direction", "text", "buttons", "note",
               "attachments")
# A customer's copies of files: file id -> "kept", "pending" or "no copy: <why>" (Files.outcomes).
Copies: TypeAlias = Callable[[str], Awaitable[Mapping[str, str]]]
NO_COPY = "no copy"
ForgetFn: TypeAlias = Callable[[str], Awaitable[list[str]]]
_BATCH = 500
_MERGE_ATTEMPTS = 5

@dataclass(slots=True)
class Swap(Script):
    """Swap the rebuilt ``scratch`` stream in as ``history`` only if nothing was appended
    meanwhile: its last id is still ``last`` ("" for none) and its length ``length``; 1 if
    swapped (else the scratch is dropped)."""

    LUA: ClassVar[str] = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local id = ''
if #last > 0 then id = last[1][1] end
if id ~= ARGV[1] or redis.call('XLEN', KEYS[1]) ~= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[2])
  return 0
end
redis.call('RENAME', KEYS[2], KEYS[1])
return 1
"""
    history: Key
    scratch: Key
    last: str
    length: int

    @classmethod
    def of(cls, keys: Keys, customer: str, last: str, length: int) -> Self:
        return cls(keys.history(customer), keys.scratch(customer), last, length)

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls.of(keys, "c1", "1-0", 1)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One message or event. ``buttons`` are the labels shown; ``keyboard`` the same buttons
    with their ids and links, kept for outgoing messages so a replay can offer them as buttons
    again (empty for entries stored before it was kept).
    """

    ts: float
    channel: str
    direction: Direction
    text: str
    buttons: tuple[str, ...] = ()
    note: str = ""
    keyboard: tuple[Button, ...] = ()
    attachments: tuple[Attachment, ...] = ()  # files the customer sent with this message

    def __post_init__(self) -> None:
        if self.keyboard and not self.buttons:
            object.__setattr__(self, "buttons", tuple(b.text for b in self.keyboard))

    def to_fields(self) -> dict[Any, Any]:  # redis-py's own (invariant) field types
        fields = {
            "ms": int(round(self.ts * 1000)),
            "ch": self.channel,
            "d": self.direction,
            "t": self.text,
            "b": self._buttons_field(),
            "n": self.note,
        }
        if self.attachments:  # (only then: the six shared fields stay compact)
            fields["a"] = dumps([attachment_to_dict(a) for a in self.attachments])
        return fields

    def _buttons_field(self) -> str:
        """Labels as a JSON list; with a keyboard, ``[id, label]`` (plus url) per button.

        Same field as before, so old entries (plain labels) still read and the stream keeps
        one set of field names.
        """
        if self.keyboard:
            return dumps([[b.id, b.text] + ([b.url] if b.url else []) for b in self.keyboard])
        return dumps(list(self.buttons)) if self.buttons else ""

    @classmethod
    def from_fields(cls, f: Mapping[str, str]) -> HistoryEntry:
        direction = f.get("d", "event")
        labels, keyboard = _read_buttons(f.get("b", ""))
        return cls(
            ts=int(f.get("ms", "0")) / 1000,
            channel=f.get("ch", ""),
            direction="in" if direction == "in" else "out" if direction == "out" else "event",
            text=f.get("t", ""),
            buttons=labels,
            note=f.get("n", ""),
            keyboard=keyboard,
            attachments=_read_attachments(f.get("a", "")),
        )

    def to_record(self, customer: str) -> dict[str, object]:
        when = datetime.fromtimestamp(self.ts, UTC).isoformat(timespec="milliseconds")
        return {
            "customer": customer,
            "ts": self.ts,
            "time": when,
            "channel": self.channel,
            "direction": self.direction,
            "text": self.text,
            "buttons": list(self.buttons),
            "note": self.note,
        } | ({"attachments": [attachment_to_dict(a) for a in self.attachments]}
             if self.attachments else {})


def with_copies(record: dict[str, Any], entry: HistoryEntry,
                copies: Mapping[str, str]) -> dict[str, Any]:
    """``record`` (``HistoryEntry.to_record``) whose files each say whether a copy is kept."""
    if entry.attachments:
        record["attachments"] = [
            attachment_to_dict(a) | {"kept": copies.get(a.id) == "kept",
                                     "copy": copies.get(a.id, NO_COPY)}
            for a in entry.attachments]
    return record


def csv_row(record: dict[str, Any], entry: HistoryEntry) -> list[object]:
    """A message's CSV row: buttons and files each in one cell."""
    files = " | ".join(
        f"{f['kind']}:{f['id']} name={f.get('name') or '-'} bytes={f.get('size', '-')} "
        f"copy={f['copy']}" for f in record.get("attachments", ()))
    cells = record | {"buttons": " | ".join(entry.buttons), "attachments": files}
    return [cells[c] for c in CSV_COLUMNS]


def _read_attachments(raw: str) -> tuple[Attachment, ...]:
    """The stored ``a`` field; an entry whose files cannot be read keeps its text."""
    if not raw:
        return ()
    try:
        return tuple(attachment_from_dict(a) for a in json.loads(raw))
    except (ValueError, TypeError):
        return ()


def _read_buttons(raw: str) -> tuple[tuple[str, ...], tuple[Button, ...]]:
    """(labels, keyboard) of a stored ``b`` field: plain labels (older entries) or buttons."""
    if not raw:
        return (), ()
    items = json.loads(raw)
    if not all(isinstance(item, list) for item in items):
        return tuple(str(item) for item in items), ()
    keyboard = tuple(Button(id=i[0], text=i[1], url=i[2] if len(i) > 2 else None) for i in items)
    return tuple(b.text for b in keyboard), keyboard


class History:
    """Per-customer message history."""

    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
        *,
        maxlen: int | None = HISTORY_MAXLEN,
        max_age: float | None = HISTORY_MAX_AGE,
    ) -> None:
        self._redis = redis
        self._keys = keys
        self.maxlen = maxlen
        self.max_age = max_age
        self._swap = runner(redis, Swap)
        self._forget: ForgetFn | None = None

    @guarded
    async def append(self, customer: str, entry: HistoryEntry) -> str:
        key = self._keys.history(customer)
        entry_id = await self._redis.xadd(
            key,
            entry.to_fields(),
            maxlen=self.maxlen,
            approximate=True,
        )
        if self.max_age is not None:
            min_id = int((time.time() - self.max_age) * 1000)
            await self._redis.xtrim(key, minid=min_id, approximate=False)
        return text(entry_id)

    def script_args(self, entry: HistoryEntry) -> list[str | int | float]:
        """``append`` as arguments for a Lua script of the customer's slot (``storage.save``;
        ``storage.lock_scripts.ReleaseAcked`` without the first): the MINID to trim to (or "") then
        XADD's arguments after the key."""
        min_id = "" if self.max_age is None else int((time.time() - self.max_age) * 1000)
        trim: list[str | int | float] = [] if self.maxlen is None else ["MAXLEN", "~", self.maxlen]
        fields = [x for pair in entry.to_fields().items() for x in pair]
        return [min_id, *trim, "*", *fields]

    def append_to(
        self, pipe: Any, customer: str, entry: HistoryEntry, *, trim: bool = True
    ) -> None:
        """Queue ``append`` on a pipeline (a plain one: the caller may mix slots). Without
        ``trim`` only the length cap applies now; the age limit waits for the next append
        that trims (every state save does)."""
        key = self._keys.history(customer)
        pipe.xadd(key, entry.to_fields(), maxlen=self.maxlen, approximate=True)
        if trim and self.max_age is not None:
            pipe.xtrim(key, minid=int((time.time() - self.max_age) * 1000), approximate=False)

    @guarded
    async def read(self, customer: str, count: int = 50) -> list[HistoryEntry]:
        """The last ``count`` entries, oldest first."""
        rows = await self._redis.xrevrange(self._keys.history(customer), count=count)
        return [HistoryEntry.from_fields(fields) for _, fields in reversed(stream_rows(rows))]

    async def entries(self, customer: str) -> AsyncIterator[HistoryEntry]:
        """All entries of a customer, oldest first, fetched in batches."""
        async for _, fields in self._rows(customer):
            yield HistoryEntry.from_fields(fields)

    async def _rows(self, customer: str) -> AsyncIterator[tuple[str, dict[str, str]]]:
        key, start = self._keys.history(customer), "-"
        while True:
            rows = stream_rows(await guarded(self._redis.xrange)(key, min=start, count=_BATCH))
            for row in rows:
                yield row
            if len(rows) < _BATCH:
                return
            start = "(" + rows[-1][0]

    @guarded
    async def customers(self) -> list[str]:
        """Every customer with a history: the registry ``Identities.resolve`` maintains, plus a
        scan for history streams (so an interrupted registration still gets exported)."""
        found = {text(m) for m in await self._redis.smembers(self._keys.customers)}
        async for key in self._redis.scan_iter(match=self._keys.history_pattern, count=1000):
            found.add(self._keys.customer_of_key(text(key)))
        return sorted(c for c in found if c)

    async def export(self, customer: str | None, fmt: ExportFormat, out: IO[str], *,
                     copies: Copies | None = None) -> int:
        """Write one customer's (or every customer's) history to ``out``; entries written.
        Each message lists its files, with whether ``copies`` says a copy is kept."""
        if fmt not in ("jsonl", "csv"):
            raise ValueError(f"unknown export format {fmt!r}; use jsonl or csv")
        writer = csv.writer(out) if fmt == "csv" else None
        if writer is not None:
            writer.writerow(CSV_COLUMNS)
        written = 0
        for who in [customer] if customer else await self.customers():
            known: Mapping[str, str] | None = None
            async for entry in self.entries(who):
                if entry.attachments and known is None:  # (read once, for the first file)
                    known = await copies(who) if copies is not None else {}
                record = with_copies(entry.to_record(who), entry, known or {})
                if writer is None:
                    out.write(dumps(record) + "\n")
                else:
                    writer.writerow(csv_row(record, entry))
                written += 1
        return written

    async def forget(self, customer: str) -> list[str]:
        """Erase the customer and everything about them; returns their reminder keys."""
        if self._forget is None:
            raise StorageError("History.forget needs the Store facade (Store.history)")
        return await self._forget(customer)

    def bind_forget(self, forget: ForgetFn) -> None:
        self._forget = forget

    async def absorb(self, keep: str, other: str) -> int:
        """Rebuild ``keep``'s stream with ``other``'s entries, in time order; moved count."""
        for _ in range(_MERGE_ATTEMPTS):
            moved = await self._absorb_once(keep, other)
            if moved is not None:
                await guarded(self._redis.delete)(self._keys.history(other))
                return moved
        raise StorageError(f"customer {keep}: history kept changing during merge")

    async def _absorb_once(self, keep: str, other: str) -> int | None:
        theirs = [fields async for _, fields in self._rows(other)]
        if not theirs:
            return 0
        ours = [(i, fields) async for i, fields in self._rows(keep)]
        combined = sorted(
            (HistoryEntry.from_fields(f) for f in [f for _, f in ours] + theirs),
            key=lambda e: e.ts,
        )
        swap = Swap.of(self._keys, keep, ours[-1][0] if ours else "", len(ours))
        scratch = swap.scratch
        pipe = self._redis.pipeline(transaction=False)
        pipe.delete(scratch)
        for entry in combined:
            pipe.xadd(scratch, entry.to_fields())
        await guarded(pipe.execute)()
        swapped = await guarded(self._swap)(swap)
        return len(theirs) if swapped else None

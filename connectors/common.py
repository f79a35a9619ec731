"""Pieces every connector needs: a request-rate limiter that bounds arrivals at the platform,
text splitting and button layout within a platform's limits, and the hygiene
of what comes in (valid Unicode in every ``Inbound``, JSON that cannot blow the stack,
constant-time secret checks, a memory of recent event ids). Retry back-off is
``flows.backoff``'s, shared with the runtime.

Pure helpers plus one small async limiter; nothing here knows a platform's wire format.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import re
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from connectors.base import Capabilities, InboundSink, Priority
from flows.types import JSON, Button, Event, Inbound, Reply

# A lone surrogate is what JSON "\ud800" decodes to: not text, and UTF-8 cannot encode it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable(text: str) -> bool:
    """Whether ``text`` holds no lone surrogate (the only thing UTF-8 cannot encode): at once
    for ASCII, else one pass of the C encoder — a fifth of the regex's search, whose whole
    scan every clean text paid."""
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def clean_text(text: str) -> str:
    """``text`` as valid Unicode: every lone surrogate becomes U+FFFD (the replacement sign)."""
    return text if encodable(text) else _SURROGATE.sub("\ufffd", text)


def clean_inbound(inbound: Inbound) -> Inbound:
    """``inbound`` with ``clean_text`` applied to each of its and its event's string fields.

    Every parse path ends here, so storage, templates and channels only ever see valid text.
    An ``inbound`` with nothing to clean is returned as it is (no copy: ~1 % of the MAX
    webhook's CPU went to ``dataclasses.replace`` rebuilding an unchanged one).
    """
    event = _cleaned(inbound.event)
    cleaned = _cleaned(inbound)
    return cleaned if event is inbound.event else dataclasses.replace(cleaned, event=event)


_Item = TypeVar("_Item", Inbound, Event)


# Each dataclass's field names, read once (``dataclasses.fields`` builds them on every call).
_FIELDS: dict[type, tuple[str, ...]] = {}


def _cleaned(item: _Item) -> _Item:
    names = _FIELDS.get(type(item))
    if names is None:
        names = _FIELDS[type(item)] = tuple(f.name for f in dataclasses.fields(item))
    changes: dict[str, Any] = {  # only str fields, each replaced by a str
        name: clean_text(value)
        for name in names
        if isinstance(value := getattr(item, name), str) and not encodable(value)
    }
    return dataclasses.replace(item, **changes) if changes else item


def load_json(raw: str | bytes | bytearray) -> JSON:
    """``json.loads`` that answers ``ValueError`` for every bad body, nesting too deep included.

    The standard decoder recurses once per level; ``[`` x 50,000 raises ``RecursionError``.
    """
    try:
        value: JSON = json.loads(raw)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc
    return value


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of two secrets whatever the characters in ``given``.

    A header byte that is not UTF-8 arrives surrogate-escaped and JSON may carry a lone
    surrogate; both encode with ``surrogatepass`` and simply do not match.
    """
    return hmac.compare_digest(_raw(given), _raw(expected))


def _raw(secret: str) -> bytes:
    return secret.encode("utf-8", "surrogatepass")


class RecentIds:
    """The last ``size`` event ids handed over, the least recently seen forgotten first.

    Spares the sink obvious platform re-deliveries; the runtime de-duplicates durably.
    """

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)


class OnceSink:
    """The sink, minus obvious repeats: an event id recorded recently is not handed over again.

    ``Unavailable`` from the sink passes through and the id is not remembered, so the
    platform's re-delivery is handed over again. The runtime de-duplicates durably.
    """

    def __init__(self, sink: InboundSink, recent: RecentIds) -> None:
        self._sink = sink
        self.recent = recent

    def seen(self, event_id: str | None) -> bool:
        return event_id is not None and event_id in self.recent

    async def __call__(self, inbound: Inbound) -> bool:
        """True when handed over, False when skipped as a repeat."""
        if inbound.event_id in self.recent:
            return False
        await self._sink(inbound)
        self.recent.add(inbound.event_id)
        return True


# Bulk grants go at most BULK_BURST at a time, at BULK_SPREAD times the rate's pace
# (``ArrivalLimiter``'s rule 2: a live reply then finds a slot within a pace or two).
BULK_SPREAD = 1.5
BULK_BURST = 2


class ArrivalLimiter:
    """At most ``rate`` requests ARRIVE at the platform in any window shorter than ``per`` s.

    The platform counts arrivals; the client sees only when a request starts (the slot is
    granted) and when its answer comes (the slot is released). The arrival lies in between.

    Invariant: a slot is granted at ``t`` only while fewer than ``rate`` requests are still
    in flight or were released after ``t - per``; a slot thus stays taken until ``per`` seconds
    after its release.

    Why that suffices: take any ``rate + 1`` requests and let ``r`` be the last granted (at
    ``t``, so it arrives at ``a_r >= t``). Each other one ``j`` was granted earlier; if it was
    released at ``e_j <= t - per`` it arrived at ``a_j <= e_j <= a_r - per``, outside any
    window of less than ``per`` seconds holding ``a_r``. So for all ``rate + 1`` to arrive in
    one such window, the other ``rate`` must have been in flight or released after ``t - per``
    when ``r`` was granted, which the grant rule forbids. This needs no assumption about
    latency or jitter. It assumes nothing reaches the platform after its release (a request
    that timed out could still be in a network buffer: release only once the connection is
    closed, as aiohttp does on a timeout).

    Cost: each request holds its slot for its latency plus ``per``, so the sustained rate is
    ``rate / (per + latency)``: 29.7/s for 30 per second at a 10 ms round trip.

    Waiters are served ``live`` first, then ``bulk``, in arrival order within a class, so a
    customer's reply never queues behind a burst of reminders.

    Bulk grants are spread: at most ``BULK_BURST`` in any ``BULK_BURST`` paces of
    ``per / (rate * BULK_SPREAD)`` s (rule 2; live grants are not paced). Without it a long
    bulk queue takes every slot the moment it frees, the slots keep freeing together, and a
    live reply that comes just after such a burst waits up to ``per`` for the next one (seen:
    bursts of 30 MAX sends then 0.9 s of none, live replies waiting up to 866 ms). Rule 2 only
    ever delays a grant, so the argument above holds as it stands. Its cost is the pace's
    delays, each added to its slot's cycle: 0.2 % of a MAX broadcast's drain at the measured
    slot holds (simulated; 0.7 % at a loaded machine's); the bench's live dialogue beside
    20,000 copies then had a p99 of 36 ms instead of 1,015 (bench/README).
    """

    def __init__(
        self, rate: int, per: float = 1.0, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate < 1:
            raise ValueError("rate must be at least 1")
        self.rate = rate
        self.per = per
        self._clock = clock
        self._in_flight = 0
        self._released: deque[float] = deque()  # release times, oldest first
        self._waiters: dict[Priority, deque[asyncio.Future[None]]] = {
            "live": deque(),
            "bulk": deque(),
        }
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self.pace = per / (rate * BULK_SPREAD)  # seconds between bulk grants, BULK_BURST apart
        self._bulk_granted: deque[float] = deque(maxlen=BULK_BURST)  # the latest bulk grants

    @property
    def taken(self) -> int:
        """Slots taken now: requests in flight plus those released less than ``per`` ago."""
        self._expire(self._clock())
        return self._in_flight + len(self._released)

    @asynccontextmanager
    async def slot(self, priority: Priority = "live") -> AsyncIterator[None]:
        """Hold a slot around one request: ``async with limiter.slot(): await send()``."""
        await self.acquire(priority)
        try:
            yield
        finally:
            self.release()

    async def acquire(self, priority: Priority = "live") -> None:
        """Wait for a slot; every ``acquire`` must be followed by exactly one ``release``."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[priority].append(waiter)
        self._dispatch()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # granted just as it was cancelled: hand the slot back
            else:
                self._waiters[priority].remove(waiter)
            raise

    def release(self) -> None:
        """The request's answer (or failure) is in: its slot frees ``per`` seconds from now."""
        self._in_flight -= 1
        self._released.append(self._clock())
        self._dispatch()

    def _expire(self, now: float) -> None:
        while self._released and self._released[0] <= now - self.per:
            self._released.popleft()

    def _bulk_at(self) -> float:
        """When rule 2 lets the next bulk grant go (the pace from the ``BULK_BURST``-th last)."""
        if len(self._bulk_granted) < BULK_BURST:
            return float("-inf")
        return self._bulk_granted[0] + BULK_BURST * self.pace

    def _next_waiter(self, now: float) -> asyncio.Future[None] | None:
        for priority, queue in self._waiters.items():  # "live" before "bulk"
            while queue and queue[0].done():  # cancelled while queued
                queue.popleft()
            if queue and (priority == "live" or now >= self._bulk_at()):
                if priority == "bulk":
                    self._bulk_granted.append(now)
                return queue.popleft()
        return None

    def _dispatch(self) -> None:
        now = self._clock()
        self._expire(now)
        while self._in_flight + len(self._released) < self.rate:
            waiter = self._next_waiter(now)
            if waiter is None:
                break
            self._in_flight += 1
            waiter.set_result(None)
        self._wake_later(now)

    def _wake_later(self, now: float) -> None:
        """Run ``_dispatch`` when a waiter may be served: the oldest released slot frees, or,
        with a slot free and only bulk waiting, rule 2's pace lets the next one go."""
        if not any(self._waiters.values()):
            return
        if self._in_flight + len(self._released) < self.rate:
            at = self._bulk_at()  # (a slot is free: only the pace holds the bulk queue)
        elif self._released:
            at = self._released[0] + self.per
        else:
            return  # every slot in flight: a release dispatches
        if self._timer is not None:
            if self._timer_at <= at:
                return
            self._timer.cancel()
        self._timer_at = at
        self._timer = asyncio.get_running_loop().call_later(max(0.0, at - now), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._dispatch()


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def split_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` characters.

    Prefers paragraph, then line, then sentence, then word boundaries; cuts hard only inside a
    single over-long word. Parts are never empty; joined with newlines/spaces they give back
    the text's words in order.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = _best_cut(rest, limit)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if head:
            parts.append(head)
    if rest:
        parts.append(rest)
    return parts


def _best_cut(text: str, limit: int) -> int:
    window = text[: limit + 1]
    floor = limit // 3  # a boundary too close to the start gives tiny parts; look further
    for pattern in ("\n\n", "\n"):
        at = window.rfind(pattern)
        if at > floor:
            return at + len(pattern)
    sentence_ends = [m.end() for m in _SENTENCE_END.finditer(window) if m.end() <= limit]
    if sentence_ends and sentence_ends[-1] > floor:
        return sentence_ends[-1]
    at = window.rfind(" ")
    if at > floor:
        return at + 1
    return limit


@dataclass(frozen=True, slots=True)
class Layout:
    """A reply fitted to a channel: its text parts and button rows (on the last part)."""

    parts: tuple[str, ...]
    rows: tuple[tuple[Button, ...], ...]


def signed(reply: Reply) -> Reply:
    """An operator's message as a messenger without a sender field shows it: «Анна: текст»
    (the web chat sends the name in its own frame field instead)."""
    if reply.operator is None or not reply.text:
        return reply
    return dataclasses.replace(reply, text=f"{reply.operator}: {reply.text}")


def shorten(label: str, limit: int) -> str:
    label = " ".join(label.split())
    return label if len(label) <= limit else label[: max(1, limit - 1)].rstrip() + "…"


def layout_reply(reply: Reply, caps: Capabilities, *, per_row: int | None = None) -> Layout:
    """Fit ``reply`` to ``caps``.

    When the choice buttons do not fit the keyboard, they become a numbered list appended to
    the text (the engine accepts "2" for the second option), and only link buttons stay as
    buttons when they fit. Labels are shortened to the channel's limit.
    """
    choices = [b for b in reply.buttons if b.url is None]
    links = [b for b in reply.buttons if b.url is not None and caps.link_buttons]
    text = reply.text
    row_width = max(1, min(per_row or caps.max_per_row, caps.max_per_row))
    if len(choices) + len(links) > caps.max_buttons or _rows_needed(
        len(choices), len(links), row_width
    ) > caps.max_rows:
        numbered = "\n".join(f"{i}. {b.text}" for i, b in enumerate(choices, 1))
        text = f"{text}\n\n{numbered}" if text else numbered
        choices = []
        links = links[: max(0, min(caps.max_buttons, caps.max_rows))]
    rows = _rows(choices, row_width, caps.max_label) + [
        (_relabel(b, caps.max_label),) for b in links
    ]
    return Layout(parts=tuple(split_text(text, caps.max_text)) or ("",), rows=tuple(rows))


def _rows_needed(choices: int, links: int, width: int) -> int:
    return -(-choices // width) + links


def _relabel(button: Button, limit: int) -> Button:
    text = shorten(button.text, limit)
    return button if text == button.text else Button(id=button.id, text=text, url=button.url)


def _rows(buttons: list[Button], width: int, label_limit: int) -> list[tuple[Button, ...]]:
    return [
        tuple(_relabel(b, label_limit) for b in buttons[i : i + width])
        for i in range(0, len(buttons), width)
    ]

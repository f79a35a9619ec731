"""Who a segment reaches now: the dry run of ``svyaz segments``, ``svyaz broadcast dry-run``
and the desk, and the recipients a broadcast is queued for.

Walks every customer once (``storage.audience``), asking ``flows.segments`` who is in.
It must not send or record anything.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping

from flows.segments import Segment, tally
from storage.store import Store


async def dry_run(store: Store, segments: Mapping[str, Segment],
                  now: float | None = None) -> dict[str, Counter[str]]:
    """Per segment, how many customers it has per channel (the channel a message takes)."""
    when = time.time() if now is None else now
    counts: dict[str, Counter[str]] = {name: Counter() for name in segments}
    async for batch in store.audience.batches():
        tally(segments, batch, when, counts)
    return counts


async def recipients(store: Store, segment: Segment,
                     now: float | None = None) -> AsyncIterator[list[tuple[str, str]]]:
    """The segment's customers with the account each message goes to, a batch at a time."""
    when = time.time() if now is None else now
    async for batch in store.audience.batches():
        found = [(f.customer, account) for f in batch
                 if segment.matches(f, when) and (account := segment.route(f)) is not None]
        if found:
            yield found

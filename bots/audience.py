"""Who a segment reaches now: the dry run of ``svyaz segments``, ``svyaz broadcast dry-run``
and the desk, and the recipients a broadcast is queued for.

Walks every customer once (``storage.audience``), asking ``flows.segments`` who is in.
It must not send or record anything.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from pathlib import Path

from flows.segments import SEGMENTS_FILE, Segment, read, tally
from storage.store import Store

log = logging.getLogger("svyaz.bots")


class SegmentFile:
    """The segments of a flows folder, read again when ``_segments.yaml`` changes (a file
    with errors keeps the last good segments and is logged once per change)."""

    def __init__(self, folder: Path, channels: Collection[str],
                 steps: Callable[[], Collection[str]] | None = None) -> None:
        self._path = folder / SEGMENTS_FILE
        self._channels = channels
        self._steps = steps  # the flows' steps: a ``reached:`` naming none is an error
        self._seen: float | None = None
        self._segments: dict[str, Segment] = {}

    def __call__(self) -> Mapping[str, Segment]:
        try:
            changed = self._path.stat().st_mtime
        except OSError:
            changed = 0.0
        if changed != self._seen:
            self._seen = changed
            found, problems = read(self._path.parent, channels=self._channels,
                                   steps=None if self._steps is None else self._steps())
            errors = [str(p) for p in problems if p.severity == "error"]
            if errors:
                log.error("segments not reloaded: %s", "; ".join(errors))
            else:
                self._segments = found
        return self._segments


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

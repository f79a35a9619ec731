"""The flows a running bot uses, reloaded when their files change.

This module owns the current ``FlowSet`` and its hot reload: the folder's files are polled
(modification times) every couple of seconds; a changed folder is loaded again and swapped in
only when it loads without errors. A broken edit is logged with every problem and the previous
flows keep running. It also tells the flows what only the running bot knows (whether another
channel can be offered: ``FlowSet.can_link``). It must not run flows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from connectors.registry import INSTALLED
from flows.loader import FlowLoadError, load
from flows.model import FlowSet
from flows.segments import reachable

log = logging.getLogger("svyaz.bots")

POLL_EVERY = 2.0
_SUFFIXES = (".yaml", ".yml")
# Channels that carry notices only: a flow cannot move the dialogue there (link_channel).
_SEND_ONLY = INSTALLED.send_only()

Stamp = tuple[tuple[str, int, int], ...]


def stamp(folder: Path) -> Stamp:
    """What changes when a flow file is edited, added or removed."""
    found = []
    for path in sorted(folder.rglob("*")):
        if path.suffix in _SUFFIXES and path.is_file():
            info = path.stat()
            found.append((str(path), info.st_mtime_ns, info.st_size))
    return tuple(found)


class FlowSource:
    """Holds the current flows; ``watch()`` swaps in good edits."""

    def __init__(self, folder: Path, *, timezone: str,
                 can_link: Callable[[], bool] = lambda: True) -> None:
        self.folder = folder
        self.timezone = timezone
        self._can_link = can_link
        self._flows: FlowSet | None = None
        self._told: tuple[FlowSet, FlowSet] | None = None  # (loaded, with can_link set)
        self._stamp: Stamp = ()
        self.reloads = 0
        self.refused = 0

    def load(self) -> FlowSet:
        """First load; raises ``FlowLoadError`` listing every problem."""
        self._stamp = stamp(self.folder)
        self._flows = load(self.folder, timezone=self.timezone, channels=INSTALLED.names(),
                           send_only=_SEND_ONLY)
        for warning in self._flows.warnings:
            log.warning("%s", warning)
        return self._flows

    def current(self) -> FlowSet:
        if self._flows is None:
            raise RuntimeError("flows not loaded yet")
        can_link = self._can_link()  # changes once MAX has told its username
        if self._told is None or self._told[0] is not self._flows \
                or self._told[1].can_link != can_link:
            self._told = (self._flows, replace(self._flows, can_link=can_link))
        return self._told[1]

    def steps(self) -> frozenset[str]:
        """Every flow and ``flow.step`` now: what ``reached:`` and ``converts_at`` may name."""
        return reachable(self.current())

    async def check_once(self) -> bool:
        """Reload when the folder changed; True when new flows were swapped in."""
        new_stamp = await asyncio.to_thread(stamp, self.folder)
        if new_stamp == self._stamp:
            return False
        self._stamp = new_stamp
        try:
            flows = await asyncio.to_thread(load, self.folder, timezone=self.timezone,
                                            channels=INSTALLED.names(), send_only=_SEND_ONLY)
        except FlowLoadError as exc:
            self.refused += 1
            log.error("flows in %s not reloaded; the previous flows keep running:", self.folder)
            for problem in exc.problems:
                log.error("  %s", problem)
            return False
        self._flows = flows
        self.reloads += 1
        log.info("flows reloaded from %s: %s", self.folder, ", ".join(sorted(flows.flows)))
        return True

    async def check_quietly(self) -> None:
        try:
            await self.check_once()
        except OSError as exc:
            log.warning("cannot read flows folder %s: %s", self.folder, exc)

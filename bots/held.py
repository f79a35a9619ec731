"""A lease while a turn runner works through its customer's inbox (``bots.turn``): what the
runner knows between entries so that a later entry under the same lock costs no more round
trips than the first. This module must not do I/O.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from flows.types import DialogState
from storage.kept import gone as kept_fields
from storage.locks import Lock, Snapshot
from storage.save import Marks


@dataclass(slots=True)
class Held:
    """The lease while its entries run: the lock, the state read with it until the first
    load uses it (a save or a release makes it stale), and the state its last save stored
    (what the next entry under the same lock starts from: nobody else writes it meanwhile,
    and the next save's version check would refuse if someone did)."""

    lock: Lock
    snapshot: Snapshot | None
    saved: tuple[DialogState | None, int] | None = None
    renewed: float = field(default_factory=time.monotonic)  # the lock's last renewal
    # The state may hold a turn's effects (``storage.save``): left by the lease's turn or
    # saved since. False spares the save and the release their HDEL of nothing.
    effects: bool = True
    # The state's refresh mark as stored: read with the lock, then each save's own. With it a
    # save does not read the state again (``storage.save.Marks``).
    mark: str | None = None
    # The ids of the replies kept in the state (``storage.kept``) by the turns under this
    # lock, or re-sent from it: the release deletes ``out`` and their post marks (``gone``).
    kept: list[str] = field(default_factory=list)

    def gone(self) -> list[str]:
        """The state's fields the release deletes once the lock proves ours."""
        return kept_fields(self.kept)

    def first_read(self) -> Snapshot | None:
        snapshot, self.snapshot = self.snapshot, None
        return snapshot

    def stale(self) -> bool:
        """A third of the lock's time has passed since its last renewal: the next save renews
        it (a fresh lock is left as it is, as between two entries: at least two thirds of its
        time remain for the turn's sends, a third more than the next entry's own turn gets)."""
        return time.monotonic() - self.renewed > self.lock.ttl / 3

    def effects_to_save(self, customer: str, effects: str) -> str | None:
        """The ``effects`` argument of ``States.save`` for a turn's encoded ``effects``: None
        (leave the stored ones) when there are none to store and none are stored."""
        if not effects and not self.effects and customer == self.lock.customer:
            return None
        return effects

    def marks(self, customer: str, now: str) -> Marks | None:
        """The refresh marks of a save of ``customer`` now (``now``: ``States.mark``): None
        for another customer than the lock's (its save reads and checks the version)."""
        return Marks(self.mark, now) if customer == self.lock.customer else None

    def stored(self, customer: str, state: DialogState | None, version: int,
               effects: str, *, renewed: bool, marks: Marks | None = None) -> None:
        """A save of ``customer``'s ``state`` at ``version`` with the turn's encoded
        ``effects`` went through (``renewed``: it renewed the lock, asked by ``stale``;
        ``marks``: the save's, which leave the state holding ``marks.now``)."""
        if customer == self.lock.customer:
            self.saved = (state, version)
            if marks is not None:
                self.mark = marks.now
            if renewed:
                self.renewed = time.monotonic()
            self.effects = bool(effects)

"""What a turn did to flows, for the funnel (``flows.funnel``): part of ``flows.types``'
contract (which re-exports every name here), kept apart for size. No imports of ours, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

HappenedKind = Literal["started", "entered", "answered", "retried", "failed", "finished",
                       "handed_off"]
HAPPENED_KINDS: tuple[str, ...] = get_args(HappenedKind)


@dataclass(frozen=True, slots=True)
class Happened:
    """One thing a turn did to a flow, for the funnel (``flows.funnel``). ``step`` is "" for
    a flow's ``started`` and ``finished``; ``choice`` the option id (``yes``/``no`` at a
    yes/no step) of an ``answered`` choice; ``seconds`` how long an ``answered`` step waited
    for its answer (None: asked before svyaz kept that time)."""

    kind: HappenedKind
    flow: str
    step: str = ""
    choice: str | None = None
    seconds: int | None = None

"""Back-off: the pause before the next try after failures in a row, for every layer.

The one home of the formula (exponential, capped, optionally jittered) used by the platform
clients' retries, the polling loops, MAX's ``GET /me`` at start-up and the runtime's own
retries. It lives in ``flows/`` because that is the one package every layer may import
(``tests/test_layers.py``); the engine never uses it.

Pure: it computes pauses and counts failures; the caller sleeps. No clock, no I/O. The
``backoff`` package (installed through maxapi) was considered: its decorators retry a whole
call, which fits none of the loops here (they log once, keep health state, or schedule with
``call_later``), and its jitter spans 0..ceiling where ours keeps at least half the pause.
"""

from __future__ import annotations

import random

# 2**62 times any sane base is far past every cap; a larger exponent would only overflow a float
# (a loop failing for a day reaches attempt ~1,000, and 0.5 * 2**1100 raises OverflowError).
_MAX_EXPONENT = 62


def backoff_delay(
    attempt: int, *, base: float = 0.5, cap: float = 30.0, jitter: bool = True,
    spread: tuple[float, float] = (0.5, 1.0),
) -> float:
    """The pause before retry number ``attempt`` (0-based): ``base * 2**attempt``, at most
    ``cap``; with ``jitter`` a random point between ``spread``'s two multiples of it (by
    default its upper half), so clients that failed together do not all come back at the
    same instant."""
    ceiling: float = min(cap, base * (2 ** min(max(attempt, 0), _MAX_EXPONENT)))
    if not jitter:
        return ceiling
    low, high = spread
    return random.uniform(ceiling * low, ceiling * high)  # noqa: S311 - jitter, not security


class Backoff:
    """Failures in a row of one retry loop and the pause each earns.

    ``delay()`` counts a failure and answers how long to wait; ``reset()`` (after a success)
    answers how many failures there were, for the loop's "recovered" log line.
    """

    __slots__ = ("base", "cap", "failures", "jitter")

    def __init__(self, *, base: float, cap: float, jitter: bool = True) -> None:
        self.base = base
        self.cap = cap
        self.jitter = jitter
        self.failures = 0

    def delay(self) -> float:
        pause = backoff_delay(self.failures, base=self.base, cap=self.cap, jitter=self.jitter)
        self.failures += 1
        return pause

    def reset(self) -> int:
        failures, self.failures = self.failures, 0
        return failures

"""Drill: forged secrets, forged web chat tokens, replayed/guessed link tokens, 1,000 tries
against a 6-digit link code — all refused. Counts printed as ``name: value``.

Runs tests/drills/test_security.py against a fresh ``svyaz run`` with ``SVYAZ_DRILL_SCALE``
(default 10: 500 forged MAX and VK webhooks each, 1,000 code guesses from 1,000 accounts).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from bench.drills.pytest_drill import run_drill  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=10)
    args = parser.parse_args()
    sys.exit(run_drill("tests/drills/test_security.py", args.scale))


if __name__ == "__main__":
    main()

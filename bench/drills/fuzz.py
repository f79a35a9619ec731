"""Drill: hypothesis-generated and mutated MAX updates, VK callbacks and web chat frames against
a fresh ``svyaz run``: 0 crashes, 0 answers 500, malformed input answered 400.

Runs tests/drills/test_fuzz_webhooks.py (examples x ``--scale``) and the known-bug cases of
tests/drills/test_fuzz_known_bugs.py, then prints the outcome counts as ``name: value``.
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
    code = run_drill("tests/drills/test_fuzz_webhooks.py", args.scale)
    run_drill("tests/drills/test_fuzz_known_bugs.py", 1)
    sys.exit(code)


if __name__ == "__main__":
    main()

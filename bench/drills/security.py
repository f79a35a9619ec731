"""Drill: forged secrets, forged web chat tokens, replayed/guessed link tokens, 1,000 tries
against a 6-digit link code — all refused; and the attacks on linking (issue 13): an
attacker's link opened by victims with a history (each asked, none merged unasked) and a
stranger typing a customer's phone again and again (codes limited per number, the answer the
same as for an unknown number). Counts printed as ``name: value``.

Runs tests/drills/test_security.py, then ``link_attacks`` and ``phone_match_attacks``
(tests/drills/test_security_links.py), each against a fresh ``svyaz run`` with
``SVYAZ_DRILL_SCALE`` (default 10: 500 forged MAX and VK webhooks each, 1,000 code guesses from
1,000 accounts, 50 link victims).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from bench.drills.pytest_drill import run_drill  # noqa: E402

LINKS = "tests/drills/test_security_links.py"


def link_attacks(scale: int) -> int:
    """An attacker's link opened by victims who have a history: prints
    ``link_victims_asked``, ``link_merged_unasked``, ``link_confirmed_established_side_stays``."""
    return run_drill(f"{LINKS}::test_victims_opening_an_attackers_link_are_asked", scale)


def phone_match_attacks(scale: int) -> int:
    """Strangers typing a customer's phone: prints ``phone_match_tries``,
    ``phone_match_codes_sent`` and ``phone_match_answer_same_as_unknown``."""
    return run_drill(f"{LINKS}::test_phone_match_is_silent_and_rate_limited", scale)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=10)
    args = parser.parse_args()
    codes = [run_drill("tests/drills/test_security.py", args.scale),
             link_attacks(args.scale), phone_match_attacks(args.scale)]
    sys.exit(max(codes))


if __name__ == "__main__":
    main()

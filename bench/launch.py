"""``python -m bench.launch [--no-rate-limit] run``: the ``svyaz`` command, for benchmarks.

Exactly ``svyaz`` (``bots.cli.main``) with one optional change: ``--no-rate-limit`` lifts the
MAX (30 requests/s) and VK (20 requests/s) client limiters before start-up, so a throughput run
measures svyaz rather than the platforms' published limits (the peer has no limiter either).
``--no-funnel`` turns the funnel's counting off (``bots.funnel.COUNTING``), so
``bench/funnel.py`` can measure what it costs. Every other byte of the turn path is the
shipped one. Must not be used outside bench/.
"""

from __future__ import annotations

import sys


def lift_rate_limits() -> None:
    import connectors.maxbot.client as max_client
    import connectors.vk.client as vk_client

    for module, name in ((max_client, "RATE"), (vk_client, "RATE")):
        if not hasattr(module, name):  # renamed: fail loudly rather than measure the limiter
            raise SystemExit(f"bench/launch.py: {module.__name__}.{name} is gone; update me")
    max_client.RATE = 1_000_000  # the clients read RATE when they build their limiters
    vk_client.RATE = 1_000_000


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--no-funnel":
        import bots.funnel

        bots.funnel.COUNTING = False
        argv = argv[1:]
    if argv and argv[0] == "--no-rate-limit":
        lift_rate_limits()
        argv = argv[1:]
    from bots.cli import main as svyaz_main

    return svyaz_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

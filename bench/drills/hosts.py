"""Several "hosts" on one machine for drills: a Linux network namespace per host, each with its
own address on a bridge (10.77.0.10, .11, …; this machine is 10.77.0.1 on the bridge), as CI
can create them (root, ``ip netns``). Where namespaces cannot be made (no root, no
CAP_SYS_ADMIN) every host is 127.0.0.1 with a port of its own, and ``mode`` says so.

Everything made is removed on exit, also after a failure half-way.
"""

from __future__ import annotations

import os
import subprocess
from types import TracebackType

SUBNET = "10.77.0"
GATEWAY = f"{SUBNET}.1"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


class Hosts:
    """``count`` hosts; ``wrap(i, argv)`` runs a command on host ``i``."""

    def __init__(self, count: int, *, netns: bool = True) -> None:
        self.count = count
        self.want_netns = netns
        self.mode = "ports"
        tag = os.getpid() % 100_000
        self._bridge = f"svzbr{tag}"
        self._names = [f"svz{tag}h{i}" for i in range(count)]
        self._made: list[tuple[str, ...]] = []  # undo commands, newest last
        self.why_not = ""

    @property
    def gateway(self) -> str:
        """This machine's address as the hosts reach it (fakes, Redis, the balancer)."""
        return GATEWAY if self.mode == "netns" else "127.0.0.1"

    def address(self, i: int) -> str:
        return f"{SUBNET}.{10 + i}" if self.mode == "netns" else "127.0.0.1"

    def wrap(self, i: int, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self._names[i], *argv] if self.mode == "netns" else argv

    def __enter__(self) -> Hosts:
        if self.want_netns:
            try:
                self._make()
                self.mode = "netns"
            except (OSError, subprocess.SubprocessError) as exc:
                stderr = getattr(exc, "stderr", b"") or b""
                self.why_not = (stderr.decode(errors="replace").strip() or str(exc))[:200]
                self._undo()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._undo()

    def _make(self) -> None:
        _ip("link", "add", self._bridge, "type", "bridge")
        self._made.append(("link", "del", self._bridge))
        _ip("addr", "add", f"{GATEWAY}/24", "dev", self._bridge)
        _ip("link", "set", self._bridge, "up")
        for i, name in enumerate(self._names):
            _ip("netns", "add", name)
            self._made.append(("netns", "del", name))
            veth = f"{self._bridge}v{i}"
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
            self._made.append(("link", "del", veth))
            _ip("link", "set", veth, "master", self._bridge, "up")
            inside = ("netns", "exec", name, "ip")
            _ip(*inside, "addr", "add", f"{self.address_of(i)}/24", "dev", "eth0")
            _ip(*inside, "link", "set", "eth0", "up")
            _ip(*inside, "link", "set", "lo", "up")
            _ip(*inside, "route", "add", "default", "via", GATEWAY)

    @staticmethod
    def address_of(i: int) -> str:
        return f"{SUBNET}.{10 + i}"

    def _undo(self) -> None:
        while self._made:
            undo = self._made.pop()
            subprocess.run(["ip", *undo], capture_output=True, timeout=10, check=False)

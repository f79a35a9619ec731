"""Redis round trips counted at redis-py's socket write (one per command or pipeline): exact,
whatever the machine. ``round_trips`` is a fixture (registered in tests/conftest.py) that
counts them from the moment a test asks for it (``.count``)."""

from __future__ import annotations

import pytest
from redis.asyncio.connection import AbstractConnection


class RoundTrips:
    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> RoundTrips:
    """Counts the Redis round trips of the test from here on (``.count``)."""
    counter = RoundTrips()
    original = AbstractConnection.send_packed_command

    async def counted(self: AbstractConnection, command: object, check_health: bool = True) -> None:
        counter.count += 1
        await original(self, command, check_health)  # type: ignore[arg-type]

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    return counter

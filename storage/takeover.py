"""Breaking the customer locks a process that died left, at start (``Runtime.take_over``).

This module must not touch a lock a live process may hold: ``break_all`` is for a Redis no
other process can reach, ``break_mine`` deletes only tokens carrying this process's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from storage.client import RedisClient
from storage.codec import text
from storage.errors import guarded_slow
from storage.keys import Keys
from storage.scripts import Key, Script

BREAK_BATCH = 500  # lock deletions per round trip when taking over at start

@dataclass(slots=True)
class DelIfPrefix(Script):
    """Delete the lock if its token starts with ``prefix``; 1 if deleted. ``lock``: a key
    found by ``Keys.lock_pattern``."""

    LUA: ClassVar[str] = """
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, string.len(ARGV[1])) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
    lock: Key
    prefix: str

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls(keys.lock("c1"), "p.")


class LockBreaker:
    """Deletes dead processes' customer locks, a batch per round trip."""

    def __init__(self, redis: RedisClient, keys: Keys, *, token_prefix: str) -> None:
        self._redis = redis
        self._keys = keys
        self._prefix = token_prefix

    @guarded_slow
    async def break_mine(self) -> list[str]:
        """Delete the customer locks whose token carries this process's name; their
        customers. At start only: they were taken by a process that had the name before and
        died (a live one cannot have it), so their customers need not wait for the locks to
        expire."""
        return await self._break(
            lambda pipe, key: DelIfPrefix(text(key), self._prefix).queue(pipe))

    @guarded_slow
    async def break_all(self) -> list[str]:
        """Delete every customer lock of this bot; their customers. Only for a Redis that no
        other process can reach (the embedded one, at start): their holders are gone, and
        waiting for the locks to expire would keep those customers waiting for nothing."""
        return await self._break(lambda pipe, key: pipe.delete(key))

    async def _break(self, queue: Callable[[Any, Any], object]) -> list[str]:
        broken: list[str] = []
        pipe = self._redis.pipeline(transaction=False)
        keys: list[Any] = []

        async def run() -> None:
            for key, gone in zip(keys, await pipe.execute(), strict=True):
                if gone and (customer := self._keys.customer_of_key(text(key))):
                    broken.append(customer)
            keys.clear()

        async for key in self._redis.scan_iter(match=self._keys.lock_pattern, count=1000):
            queue(pipe, key)
            keys.append(key)
            if len(keys) >= BREAK_BATCH:  # one round trip per batch, not per lock
                await run()
        if keys:
            await run()
        return broken

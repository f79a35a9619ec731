"""One Lua script call as a value: its keys and arguments, in the script's order.

Each script of the turn's storage (``storage.locks``, ``storage.save``, ``storage.intake``,
``storage.inbox``) has one typed builder beside it that returns a ``ScriptCall``; nothing else
spells a script's KEYS or ARGV by position. A test checks that every key of each builder's call
shares one Redis Cluster slot (``tests/storage/test_scripts_slots.py``).

(When ``storage.scripts`` offers the shared builder helper, this module's two helpers are the
place to point at it.) This module must not know any script.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

Arg = str | int | float


class Script(Protocol):
    """A registered script: redis-py's ``AsyncScript`` or ``storage.batch.BatchedScript``."""

    async def __call__(self, keys: Any = ..., args: Any = ...) -> Any: ...


@dataclass(frozen=True, slots=True)
class ScriptCall:
    """The KEYS and ARGV of one call of one script."""

    keys: tuple[str, ...]
    args: tuple[Arg, ...]

    async def run(self, script: Script) -> Any:
        """Call the registered ``script`` (EVALSHA)."""
        return await script(keys=list(self.keys), args=list(self.args))

    def queue(self, pipe: Any, lua: str) -> None:
        """Queue the call on a plain pipeline (EVAL, not EVALSHA: a pipeline cannot reload a
        script the server forgot), so it shares the pipeline's round trip."""
        pipe.eval(lua, len(self.keys), *self.keys, *self.args)

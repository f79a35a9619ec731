"""Lua scripts, each declared once with named keys and arguments, and the shared small ones.

A script is a dataclass subclassing ``Script``: ``LUA`` is its text, the fields typed
``Key`` are its KEYS (in field order), the others its ARGV (in field order; one last field typed
``Spread`` adds each of its items). That dataclass is the only way to call the
script: build it — usually with a classmethod taking ``Keys`` beside it — and hand it to

* ``runner(redis, ScriptClass)``, made once by the script's owner: an awaitable ``Runner``
  (redis-py's ``register_script``: EVALSHA, loading the script on NOSCRIPT); ``hot=True`` joins
  the event-loop batch of ``storage.batch`` outside a cluster;
* ``call.queue(pipe)``: EVAL on a caller's plain pipeline (a pipeline cannot reload a script).

Every subclass is listed by ``registered()``; each gives an ``example(keys)`` built the way
its callers build it, so one test (tests/storage/test_scripts.py) checks that every script's
keys fall in ``SLOTS`` Redis Cluster slots — one: the customer's hash tag or the script's own
(``{outbox}``). A script with ``SLOTS`` > 1 may run only outside a cluster; its runner refuses
on one.

``CompareAndDelete`` and ``CompareAndExpire`` are the one copy of "delete / renew this key
only while it still holds my value" (locks, index entries). This module must not know key
names (``Keys`` builds them) nor what any script means to its caller.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import (
    Annotated,
    Any,
    ClassVar,
    Generic,
    Self,
    TypeAlias,
    TypeVar,
    get_args,
    get_origin,
    get_type_hints,
)

from redis.asyncio import Redis

from storage.batch import BatchedScript
from storage.client import RedisClient
from storage.errors import StorageError
from storage.keys import Keys

Arg: TypeAlias = str | int | float | bytes
S = TypeVar("S", bound="Script")

_KEY, _SPREAD = "svyaz.script.key", "svyaz.script.spread"

Key: TypeAlias = Annotated[str, _KEY]
"""A field that is one of the script's KEYS (declare them first, in KEYS order)."""
Spread: TypeAlias = Annotated[Sequence[Arg], _SPREAD]
"""A field whose items are ARGV, each in turn (at most one, the last field)."""


_REGISTRY: dict[str, type[Script]] = {}


class Script:
    """Base of a script's call: subclass as a dataclass (see the module docstring).

    ``@dataclass(slots=True)``, not frozen: a call is built and spent at once, and a frozen
    dataclass sets each field through ``object.__setattr__`` — with the accept's 19 fields and
    the save's 15, about a tenth of the instructions the redesign added per message."""

    __slots__ = ()
    LUA: ClassVar[str]
    SLOTS: ClassVar[int] = 1  # Cluster slots its keys may span (>1: never run on a cluster)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # dataclass(slots=True) makes a second class of the same name: the last one stays.
        _REGISTRY[f"{cls.__module__}.{cls.__qualname__}"] = cls

    @classmethod
    def example(cls, keys: Keys) -> Self:
        """A call as its callers build it (for the slot test); every script defines one."""
        raise NotImplementedError(f"{cls.__qualname__} gives no example call")

    def key_list(self) -> list[Arg]:
        return _layout(type(self)).keys(self)

    def arg_list(self) -> list[Arg]:
        return _layout(type(self)).args(self)

    def queue(self, pipe: Any) -> None:
        """Queue this call on a plain pipeline (EVAL: the text travels with it)."""
        keys, args = _layout(type(self)).split(self)
        pipe.eval(self.LUA, len(keys), *keys, *args)


class Layout:
    """Where a script class's KEYS and ARGV are among its fields (read once per class)."""

    __slots__ = ("_fields", "_count", "_spread")

    def __init__(self, keys: list[str], args: list[str], spread: str | None) -> None:
        self._fields = _getter([*keys, *args, *([spread] if spread else [])])
        self._count = len(keys)
        self._spread = spread is not None

    def split(self, call: Script) -> tuple[list[Arg], list[Arg]]:
        """KEYS and ARGV of ``call``: one ``attrgetter`` call and two slices (this runs for
        every script call on the hot path)."""
        values, n = self._fields(call), self._count
        if self._spread:
            return list(values[:n]), [*values[n:-1], *values[-1]]  # type: ignore[misc]
        return list(values[:n]), list(values[n:])

    def keys(self, call: Script) -> list[Arg]:
        return self.split(call)[0]

    def args(self, call: Script) -> list[Arg]:
        return self.split(call)[1]


def _getter(names: list[str]) -> Callable[[Script], tuple[Arg, ...]]:
    """The fields ``names`` of a call as a tuple (``attrgetter``: no Python loop per call)."""
    if len(names) > 1:
        return attrgetter(*names)
    name = names[0]
    return lambda call: (getattr(call, name),)


_LAYOUTS: dict[type[Script], Layout] = {}


def _layout(cls: type[Script]) -> Layout:
    found = _LAYOUTS.get(cls)
    if found is None:
        found = _LAYOUTS[cls] = _read_layout(cls)
    return found


def _read_layout(cls: type[Script]) -> Layout:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__qualname__} must be a dataclass")
    hints = get_type_hints(cls, include_extras=True)
    keys: list[str] = []
    args: list[str] = []
    spread: str | None = None
    for item in dataclasses.fields(cls):
        if hasattr(Script, item.name):
            raise TypeError(f"{cls.__qualname__}: a field may not be named {item.name!r}")
        hint = hints[item.name]
        role = get_args(hint)[1] if get_origin(hint) is Annotated else None
        if spread is not None or (role == _KEY and (args or spread)):
            raise TypeError(f"{cls.__qualname__}: the keys first, then the arguments, then "
                            f"at most one Spread, last")
        if role == _KEY:
            keys.append(item.name)
        elif role == _SPREAD:
            spread = item.name
        else:
            args.append(item.name)
    return Layout(keys, args, spread)


def registered() -> list[type[Script]]:
    """Every script class defined so far (import a module to have its scripts listed)."""
    return [cls for cls in _REGISTRY.values() if "LUA" in vars(cls)]


class Runner(Generic[S]):
    """Runs calls of one script on one client: ``await runner(call)`` is the script's reply."""

    __slots__ = ("_layout", "_name", "_refuse", "_script")

    def __init__(self, script: Any, cls: type[S], *, refuse: bool) -> None:
        self._script = script
        self._layout = _layout(cls)
        self._name = cls.__qualname__
        self._refuse = refuse

    def __call__(self, call: S) -> Awaitable[Any]:
        if self._refuse:
            raise StorageError(f"script {self._name} spans slots: never on a Redis Cluster")
        keys, args = self._layout.split(call)
        result: Awaitable[Any] = self._script(keys=keys, args=args)
        return result


def runner(redis: RedisClient, cls: type[S], *, hot: bool = False) -> Runner[S]:
    """A runner of ``cls`` on ``redis``; make it once, in its owner's constructor (it
    registers the script: no I/O, EVALSHA from then on). ``hot``: calls in one loop iteration
    share a pipeline outside a cluster (``storage.batch``). Not cached here: a client-wide
    cache would keep every client alive (each script holds its client)."""
    script: Any = redis.register_script(cls.LUA)
    if hot and isinstance(redis, Redis):
        script = BatchedScript(redis, script)
    on_cluster = not isinstance(redis, Redis)
    return Runner(script, cls, refuse=on_cluster and cls.SLOTS > 1)


# ---------------------------------------------------------------------- shared scripts


@dataclass(slots=True)
class CompareAndDelete(Script):
    """Delete ``key`` only while it holds ``value`` (a lock's token, an index's customer);
    1 if deleted, else 0."""

    LUA: ClassVar[str] = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
    key: Key
    value: str

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls(keys.lock("c1"), "token")


@dataclass(slots=True)
class CompareAndExpire(Script):
    """Renew ``key``'s expiry to ``ttl_ms`` only while it holds ``value``; 1 if renewed."""

    LUA: ClassVar[str] = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
    key: Key
    value: str
    ttl_ms: int

    @classmethod
    def example(cls, keys: Keys) -> Self:
        return cls(keys.lock("c1"), "token", 30_000)

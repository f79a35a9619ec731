"""storage.scripts: every Lua script of storage/ is called through its typed call, and every call's
keys share the Redis Cluster slots it declares (one: the customer's hash tag or the script's
own, such as ``{outbox}``). The registry is discovered: a script added to any storage module
is checked here without naming it."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot  # what redis.cluster.key_slot is

import storage
from flows.types import Inbound, TextEvent
from storage.errors import StorageError
from storage.funnel import Counts
from storage.intake import AcceptJoint, Push, accept_call
from storage.keys import Keys
from storage.lock_scripts import ReleaseIfIdle
from storage.locks import Lock
from storage.save import Record, save_call
from storage.scripts import (
    Arg,
    CompareAndDelete,
    CompareAndExpire,
    Key,
    Script,
    Spread,
    registered,
    runner,
)

STORAGE = Path(storage.__file__).parent
# Modules whose scripts are still called by position (KEYS/ARGV spelled at the call site);
# their owners move them to typed calls. Remove a module here once it has.
NOT_YET_TYPED: set[str] = set()


def _all_scripts() -> list[type[Script]]:
    for module in pkgutil.iter_modules(storage.__path__):
        importlib.import_module(f"storage.{module.name}")
    return sorted(registered(), key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


SCRIPTS = _all_scripts()
NAMESPACES = [Keys("main"), Keys("shop-2")]


def test_the_registry_finds_the_scripts_of_every_storage_module() -> None:
    names = {cls.__qualname__ for cls in SCRIPTS}
    assert {"CompareAndDelete", "CompareAndExpire", "Put", "Ack", "Claim", "ClaimIds",
            "Inherit", "Touch", "Swap", "Acquire", "ReleaseIfIdle", "Save", "SaveCounted",
            "PostingKept", "AckKept", "Accept", "AcceptJoint", "Done", "DelIfPrefix"} <= names


@pytest.mark.parametrize("keys", NAMESPACES, ids=lambda k: k.bot)
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_a_scripts_keys_share_its_declared_cluster_slots(script: type[Script], keys: Keys) -> None:
    call = script.example(keys)
    names = call.key_list()
    assert names, f"{script.__qualname__} declares no keys"
    slots = {key_slot(str(name).encode()) for name in names}
    assert len(slots) == script.SLOTS, f"{script.__qualname__}: {names} span slots {slots}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_a_script_reads_no_key_it_was_not_given(script: type[Script]) -> None:
    """A text shared by two calls (``Save``/``SaveWithOutbox``, ``Accept``/``AcceptJoint``)
    reads its further keys only when the longer call's arguments ask for them: the text may
    use as many keys as the longest call of it gives."""
    used = {int(n) for n in re.findall(r"KEYS\[(\d+)\]", script.LUA)}
    given = max(len(other.example(Keys("main")).key_list()) for other in SCRIPTS
                if other.LUA == script.LUA)
    assert max(used, default=0) <= given


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_a_calls_keys_and_arguments_are_plain_values(script: type[Script]) -> None:
    call = script.example(Keys("main"))
    assert all(isinstance(name, str) for name in call.key_list())
    assert all(isinstance(arg, str | int | float | bytes) for arg in call.arg_list())


def _positional_calls(path: Path) -> list[str]:
    """Calls that hand a script its KEYS/ARGV by position in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
            if name in ("eval", "evalsha", "register_script", "hot_script"):
                found.append(f"{path.name}:{node.lineno} {name}")
    return found


def test_storage_calls_lua_only_through_typed_calls() -> None:
    helpers = {"scripts.py", "client.py", "batch.py"}  # where the typed calls are run
    found = [call for path in sorted(STORAGE.glob("*.py"))
             if path.name not in helpers | NOT_YET_TYPED for call in _positional_calls(path)]
    assert found == []


def test_a_call_builds_keys_then_arguments_in_field_order() -> None:
    keys = Keys("main")
    call = ReleaseIfIdle.of(keys, _lock(), gone=["out", "p:1-a-b"],
                            acked=[["*", "t", "hi"], []])
    assert call.key_list() == [keys.lock("c1"), keys.inbox("c1"), keys.history("c1"),
                               keys.state("c1")]
    assert call.arg_list() == ["token", 30_000, "1", 2, "out", "p:1-a-b", 2, 3, "*", "t", "hi",
                               0]


def test_a_script_whose_keys_span_slots_is_refused_on_a_cluster() -> None:
    cluster = RedisCluster(host="127.0.0.1", port=1)  # never connected: refused before I/O
    call = AcceptJoint.example(Keys("main"))
    with pytest.raises(StorageError, match="spans slots"):
        runner(cluster, AcceptJoint)(call)


@dataclass(frozen=True, slots=True)
class Backwards(Script):  # (defined after SCRIPTS was read: not among them)
    LUA: ClassVar[str] = "return 1"
    value: str
    key: Key
    more: Spread = ()


def test_keys_must_come_before_arguments() -> None:
    with pytest.raises(TypeError, match="the keys first"):
        Backwards("v", "k").key_list()


@dataclass(frozen=True, slots=True)
class Shadowing(Script):
    LUA: ClassVar[str] = "return 1"
    key_list: Key  # type: ignore[assignment]


def test_a_field_may_not_hide_a_calls_methods() -> None:
    with pytest.raises(TypeError, match="may not be named 'key_list'"):
        Script.key_list(Shadowing("k"))


def _lock() -> Lock:
    return Lock("c1", "token", 30.0)


async def test_compare_and_delete_deletes_only_the_holders_value(
    redis_client: aioredis.Redis,
) -> None:
    name = f"test:scripts:{uuid.uuid4().hex}"
    await redis_client.set(name, "mine")
    delete = runner(redis_client, CompareAndDelete)
    assert await delete(CompareAndDelete(name, "theirs")) == 0
    assert await redis_client.get(name) == b"mine"
    assert await delete(CompareAndDelete(name, "mine")) == 1
    assert await redis_client.exists(name) == 0


async def test_compare_and_expire_renews_only_the_holders_value(
    redis_client: aioredis.Redis,
) -> None:
    name = f"test:scripts:{uuid.uuid4().hex}"
    await redis_client.set(name, "mine", px=5_000)
    expire = runner(redis_client, CompareAndExpire)
    assert await expire(CompareAndExpire(name, "theirs", 60_000)) == 0
    assert await redis_client.pttl(name) <= 5_000
    assert await expire(CompareAndExpire(name, "mine", 60_000)) == 1
    assert await redis_client.pttl(name) > 5_000


async def test_a_queued_call_runs_on_a_plain_pipeline(redis_client: aioredis.Redis) -> None:
    name = f"test:scripts:{uuid.uuid4().hex}"
    await redis_client.set(name, "mine")
    pipe = redis_client.pipeline(transaction=False)
    CompareAndDelete(name, "mine").queue(pipe)
    assert await pipe.execute() == [1]


# Where the keys of the scripts that span slots fall: the customer's slot, and only the
# outbox's or the global keys besides (the registry test above counts the slots only).

SLOT_KEYS = Keys("slots")
CUSTOMER = "c0ffee"
LOCK = Lock(CUSTOMER, "p.token", 30.0)


def _slots(names: list[str] | list[Arg] | tuple[str, ...]) -> set[int]:
    return {key_slot(str(name).encode()) for name in names}


def _customer_slot() -> int:
    return key_slot(SLOT_KEYS.state(CUSTOMER).encode())


def test_the_slot_check_sees_two_slots() -> None:
    assert len(_slots([SLOT_KEYS.state(CUSTOMER), SLOT_KEYS.state("other")])) == 2
    assert len(_slots([SLOT_KEYS.state(CUSTOMER), SLOT_KEYS.outbox(0).data])) == 2


def test_the_save_keeps_to_the_customers_slot_with_its_replies() -> None:
    """The turn's replies are kept in the state (``storage.kept``): no outbox key, on a
    cluster or not."""
    names = save_call(SLOT_KEYS, LOCK, Record(data="{}", version=0, ttl=0, inbox_id="1-0",
                                              history=("", "*", "t", "x"),
                                              replies='[["o1",{}]]')).key_list()
    assert _slots(names) == {_customer_slot()}


def test_the_save_counts_the_funnel_in_its_own_slot_only_outside_a_cluster() -> None:
    counts = Counts("2026-12-05", (("e|booking|day|vk", 1),))
    plain = save_call(SLOT_KEYS, LOCK, Record(data="{}", version=0, ttl=0)).key_list()
    counted = save_call(SLOT_KEYS, LOCK, Record(data="{}", version=0, ttl=0,
                                                counts=counts)).key_list()
    assert counted[:-1] == plain
    funnel = key_slot(counts.key(SLOT_KEYS).encode())
    assert _slots(counted[-1:]) == {funnel} != {_customer_slot()}


def test_the_release_with_its_replies_keeps_to_the_customers_slot() -> None:
    """Recording the turn's replies and deleting the kept ones: one slot, so also on a
    cluster (it spanned the outbox's shard while the replies were outbox entries)."""
    names = ReleaseIfIdle.of(SLOT_KEYS, LOCK, gone=["out"], acked=[["*", "t", "x"]]).key_list()
    assert _slots(names) == {_customer_slot()}


def test_the_accept_keeps_to_the_customers_slot_on_a_cluster() -> None:
    inbound = Inbound(channel="max", user_id="42", event_id="e1", event=TextEvent("привет"))
    push = Push(CUSTOMER, "max:e1", inbound, token=LOCK.token, lock_ms=30_000)
    assert _slots(accept_call(SLOT_KEYS, push, joint=False).key_list()) == {_customer_slot()}
    joint = accept_call(SLOT_KEYS, push, joint=True)
    assert isinstance(joint, AcceptJoint)
    names = joint.key_list()
    assert _slots(names[:6]) == {_customer_slot()}
    assert names[6:] == [SLOT_KEYS.pending, SLOT_KEYS.account(inbound.account),
                         SLOT_KEYS.customers, SLOT_KEYS.desk_active]

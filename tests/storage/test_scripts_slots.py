"""Every Lua script of the turn's storage, called through its builder, touches one Redis
Cluster slot: the customer's (or, outside a cluster only, the outbox's and the global keys as
well, each of them named here)."""

from __future__ import annotations

from redis.crc import key_slot

from flows.types import Inbound, TextEvent
from storage.inbox import done_call
from storage.intake import Push, accept_call
from storage.keys import Keys
from storage.locks import (
    Lock,
    acquire_call,
    compare_and_delete_call,
    extend_call,
    release_acked_call,
    release_if_idle_call,
)
from storage.lua import ScriptCall
from storage.save import Record, save_call
from storage.takeover import del_if_prefix_call

KEYS = Keys("slots")
CUSTOMER = "c0ffee"
LOCK = Lock(CUSTOMER, "p.token", 30.0)
INBOUND = Inbound(channel="max", user_id="42", event_id="e1", event=TextEvent("привет"))


def slots(keys: tuple[str, ...] | list[str]) -> set[int]:
    return {key_slot(key.encode()) for key in keys}


def customer_slot() -> int:
    return key_slot(KEYS.state(CUSTOMER).encode())


def test_the_slot_check_sees_two_slots() -> None:
    assert len(slots([KEYS.state(CUSTOMER), KEYS.state("other")])) == 2
    assert len(slots([KEYS.state(CUSTOMER), KEYS.outbox_data])) == 2


def test_each_lock_script_keeps_to_the_customers_slot() -> None:
    calls: list[ScriptCall] = [
        acquire_call(KEYS, LOCK, ["p.old"]),
        release_if_idle_call(KEYS, LOCK),
        compare_and_delete_call(KEYS, LOCK),
        extend_call(KEYS, LOCK, 1000),
        del_if_prefix_call(KEYS.lock(CUSTOMER), "p."),
        done_call(KEYS, CUSTOMER, "1-0"),
    ]
    for call in calls:
        assert slots(call.keys) == {customer_slot()}, call


def test_the_save_keeps_to_the_customers_slot_and_adds_the_outbox_only_outside_a_cluster(
) -> None:
    cluster = save_call(KEYS, LOCK, Record(data="{}", version=0, ttl=0, inbox_id="1-0",
                                           history=("", "*", "t", "x")))
    assert slots(cluster.keys) == {customer_slot()}
    outbox_keys = (KEYS.outbox_data, KEYS.outbox_lease)
    joint = save_call(KEYS, LOCK, Record(data="{}", version=0, ttl=0, outbox=[("o1", "{}")],
                                         outbox_keys=outbox_keys))
    assert joint.keys[:-2] == cluster.keys
    assert slots(joint.keys[:-2]) == {customer_slot()}
    assert slots(joint.keys[-2:]) == {key_slot(KEYS.outbox_data.encode())}


def test_the_release_with_acknowledgements_spans_the_customer_and_the_outbox_only() -> None:
    call = release_acked_call(KEYS, LOCK, [("o1", ["*", "t", "x"])])
    outbox = {KEYS.outbox_data, KEYS.outbox_lease, KEYS.outbox_tries}
    assert slots([k for k in call.keys if k not in outbox]) == {customer_slot()}
    assert slots(list(outbox)) == {key_slot(KEYS.outbox_data.encode())}
    assert call.keys[-1] == KEYS.state(CUSTOMER)  # RELEASE_IF_IDLE_LUA's KEYS[#KEYS]


def test_the_accept_keeps_to_the_customers_slot_on_a_cluster() -> None:
    push = Push(CUSTOMER, "max:e1", INBOUND, token=LOCK.token, lock_ms=30_000)
    assert slots(accept_call(KEYS, push, joint=False).keys) == {customer_slot()}
    joint = accept_call(KEYS, push, joint=True).keys
    assert slots(joint[:6]) == {customer_slot()}
    assert joint[6:] == (KEYS.pending, KEYS.account(INBOUND.account), KEYS.customers)

"""A broadcast's VK copies in batches of up to 100 ``peer_ids`` per ``messages.send``, on real
Redis and the VK fake: every peer once, per-peer refusals counted for that customer only, and
no one twice through a crash between VK's answer and the acknowledgements (kill -9 style: the
process's state is dropped and a fresh one re-sends what the outbox holds)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from bots_harness import Harness

from bots.broadcast_send import Sender
from bots.broadcast_vk import VkBatches
from bots.broadcasts import Broadcaster
from bots.delivery import Delivery
from connectors.base import InboundSink
from connectors.vk import VkConnector
from connectors.vk.batch import address, batch_key, parse_address
from flows.broadcast import BroadcastSpec, reply_of
from flows.segments import Segment
from flows.types import Reply
from storage.broadcast_batches import Members
from tests.bots.test_erasure import values_of
from tests.fakes import vk as vk_fakes
from tests.fakes.vk import FakeVk

fake_vk_factory = vk_fakes.fake_vk_factory
fake_vk = vk_fakes.fake_vk

SEGMENTS: Mapping[str, Segment] = {"vk": Segment(channel=["vk"])}
NOTICE = BroadcastSpec(title="31-го", kind="service", segment="vk",
                       text="31 декабря мы закрыты.")
PEERS = [str(5_000 + n) for n in range(250)]
BLOCKED = (5_007, 5_180)  # have not allowed the community's messages: 901


async def _nowhere(*_: object, **__: object) -> None:
    return None


@pytest.fixture
async def vk(fake_vk: FakeVk) -> AsyncIterator[VkConnector]:
    connector = VkConnector(token=fake_vk.token, group_id=fake_vk.group_id,
                            api_url=fake_vk.api_url, sink=_sink())
    yield connector
    await connector.stop()


def _sink() -> InboundSink:
    return _nowhere  # type: ignore[return-value]


async def _as_a_new_process(harness: Harness, fake_vk: FakeVk, *, drain: bool) -> None:
    """What a restarted process does, with a fresh connector and only Redis: the outbox's
    re-sends of what the old one left claimed, then (``drain``) the rest of broadcast v1."""
    again = VkConnector(token=fake_vk.token, group_id=fake_vk.group_id,
                        api_url=fake_vk.api_url, sink=_sink())
    try:
        _, sender, delivery = _parts(harness, again)
        while await delivery.resend_stale(min_idle_ms=0):
            pass
        if drain:
            await sender.drain("v1")
    finally:
        await again.stop()


def _parts(harness: Harness, vk: VkConnector, *, with_max: bool = False,
           segments: Mapping[str, Segment] = SEGMENTS) -> tuple[Broadcaster, Sender, Delivery]:
    """The owner's side, the sender and its delivery over VK (and ``with_max``, the
    harness's MAX channel)."""
    connectors = {"vk": vk, "max": harness.channels["max"]} if with_max else {"vk": vk}
    delivery = Delivery(store=harness.store, connectors=connectors, metrics=harness.metrics)
    batches = VkBatches(store=harness.store, connector=vk, delivery=delivery)
    owner = Broadcaster(store=harness.store, segments=lambda: segments)
    sender = Sender(store=harness.store, delivery=delivery, inject=harness.runtime.inject,
                    segments=lambda: segments, timezone="Europe/Moscow", vk_batches=batches)
    return owner, sender, delivery


async def _start(harness: Harness, owner: Broadcaster, fake: FakeVk) -> None:
    for peer in PEERS:
        await harness.store.identities.resolve(f"vk:{peer}")
    for peer in BLOCKED:
        fake.block(peer, 901)
    await owner.create(NOTICE, "v1")
    assert await owner.start("v1") == len(PEERS)


def _copies(fake: FakeVk) -> Counter[int]:
    return Counter(m.peer_id for m in fake.sent if m.message == NOTICE.text)


async def test_each_peer_once_in_batches_of_100_and_refusals_counted(
    harness: Harness, fake_vk: FakeVk, vk: VkConnector,
) -> None:
    owner, sender, _ = _parts(harness, vk)
    await _start(harness, owner, fake_vk)
    assert await sender.drain("v1") == len(PEERS)
    sends = fake_vk.calls_of("messages.send")
    assert sorted(len(c.params["peer_ids"].split(",")) for c in sends) == [50, 100, 100]
    assert "peer_id" not in sends[0].params
    copies = _copies(fake_vk)
    assert set(copies.values()) == {1}
    assert set(copies) == {int(p) for p in PEERS} - set(BLOCKED)
    numbers = await owner.numbers("v1")
    assert numbers["vk"] == {"queued": 250, "sent": 248, "refused VkUndeliverable": 2}
    assert await harness.store.outbox.pending() == []  # every member acknowledged
    outcomes = await harness.store.broadcasts.numbers.outcomes("v1")
    refused = {await harness.customer("vk", str(p)) for p in BLOCKED}
    assert {c for c, o in outcomes.items() if o.startswith("refused")} == refused


async def test_no_one_twice_through_a_crash_between_the_send_and_the_acks(
    harness: Harness, fake_vk: FakeVk, vk: VkConnector, monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner, sender, _ = _parts(harness, vk)
    await _start(harness, owner, fake_vk)

    async def died(*_: object, **__: object) -> None:  # VK answered; nothing acknowledged
        return None

    monkeypatch.setattr(VkBatches, "_outcome", died)
    await sender.drain("v1")  # (its next pass finds every copy claimed: the outbox has them)
    monkeypatch.undo()
    first = [(c.params["peer_ids"], c.params["random_id"])
             for c in fake_vk.calls_of("messages.send")]
    assert len(first) == 3
    assert len(await harness.store.outbox.pending()) == 250
    await _as_a_new_process(harness, fake_vk, drain=True)  # nothing of the old one's memory
    retries = [(c.params["peer_ids"], c.params["random_id"])
               for c in fake_vk.calls_of("messages.send")][3:]
    assert sorted(retries) == sorted(first)  # the same batches, the same random_ids, once each
    copies = _copies(fake_vk)
    assert set(copies.values()) == {1}
    assert set(copies) == {int(p) for p in PEERS} - set(BLOCKED)
    assert await harness.store.outbox.pending() == []
    assert await harness.store.broadcasts.left("v1") == 0


async def test_a_batch_overlapping_another_gives_its_claims_back(
    harness: Harness, fake_vk: FakeVk, vk: VkConnector, monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner, sender, delivery = _parts(harness, vk)
    await _start(harness, owner, fake_vk)
    first = await harness.customer("vk", PEERS[0])

    async def not_yet(_: object, __: str, customers: list[str]) -> list[bool]:
        return [False] * len(customers)

    monkeypatch.setattr(Members, "taken", not_yet)  # looked before the other process claimed
    # another process took the first customer's copy on its own (not in this batch) and died
    entry = harness.store.outbox.prepare(first, "vk", PEERS[0], reply_of(NOTICE))
    assert await harness.store.broadcasts.claim("v1", first, entry)
    await sender.drain("v1")
    batches = [c.params["peer_ids"].split(",") for c in fake_vk.calls_of("messages.send")]
    assert all(PEERS[0] not in peers for peers in batches)  # given back, then formed anew
    assert sum(len(peers) for peers in batches) == 249
    assert len(batches) == 3
    assert await delivery.resend_stale(min_idle_ms=0) == 1  # the other's entry, alone
    copies = _copies(fake_vk)
    assert set(copies.values()) == {1}
    assert set(copies) == {int(p) for p in PEERS} - set(BLOCKED)
    assert await harness.store.outbox.pending() == []


async def test_a_crash_among_a_batchs_claims_sends_the_rest_with_another_only(
    harness: Harness, fake_vk: FakeVk, vk: VkConnector,
) -> None:
    owner, sender, _ = _parts(harness, vk)
    await _start(harness, owner, fake_vk)
    people = [(p, await harness.customer("vk", p)) for p in PEERS[:100]]
    key = batch_key("v1", [c for _, c in people])
    for peer, customer in people[:60]:  # the process died after 60 of its 100 claims
        entry = harness.store.outbox.prepare(customer, "vk", address(key, "v1", peer, people),
                                             reply_of(NOTICE))
        assert await harness.store.broadcasts.members.claim("v1", customer, entry, key) is None
    # a new process: the outbox re-sends the 60, the queue sends the other 190
    await _as_a_new_process(harness, fake_vk, drain=True)
    copies = _copies(fake_vk)
    assert set(copies.values()) == {1}
    assert set(copies) == {int(p) for p in PEERS} - set(BLOCKED)
    assert await harness.store.outbox.pending() == []


@pytest.mark.parametrize(("segment", "to_max"), [(Segment(), True),
                                                 (Segment(channel=["vk"]), False)])
async def test_a_copy_refused_for_one_peer_fails_over_to_the_customers_other_account(
    harness: Harness, fake_vk: FakeVk, vk: VkConnector, segment: Segment, to_max: bool,
) -> None:
    """As a single copy does: VK refuses one peer of a batch (901) and that customer's copy
    goes to their MAX account instead, within the segment's channels."""
    max_channel = harness.channels["max"]
    owner, sender, _ = _parts(harness, vk, with_max=True, segments={"some": segment})
    for peer in PEERS[:10]:
        await harness.store.identities.resolve(f"vk:{peer}")
    blocked = await harness.customer("vk", "5007")
    await harness.store.identities.attach("max:77", blocked, 1.0)  # VK the latest
    fake_vk.block(5_007, 901)
    await owner.create(NOTICE.model_copy(update={"segment": "some"}), "v2")
    assert await owner.start("v2") == 10
    assert await sender.drain("v2") == 10
    assert set(_copies(fake_vk)) == {int(p) for p in PEERS[:10]} - {5_007}
    assert max_channel.texts("77") == ([NOTICE.text] if to_max else [])
    outcomes = await harness.store.broadcasts.numbers.outcomes("v2")
    assert outcomes[blocked] == ("sent max" if to_max else "refused VkUndeliverable vk")
    assert await harness.store.outbox.pending() == []


async def test_forget_leaves_nothing_of_a_member_in_the_batchs_other_entries(
    harness: Harness, fake_vk: FakeVk, vk: VkConnector, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch's pending entries (VK answered, a kill before the acks) name only their own
    peer; the batch's record is where the members are, and erasing one takes them out of it,
    so the re-send goes to the rest only, each once."""
    owner, sender, _ = _parts(harness, vk)
    await _start(harness, owner, fake_vk)

    async def died(*_: object, **__: object) -> None:
        return None

    monkeypatch.setattr(VkBatches, "_outcome", died)
    await sender.drain("v1")
    monkeypatch.undo()
    gone = await harness.customer("vk", "5003")
    await harness.store.forget(gone)
    pending = await harness.store.outbox.pending()
    assert len(pending) == len(PEERS) - 1
    for entry in pending:
        found = parse_address(entry.user_id)
        assert found is not None
        assert (found.peers, found.customers) == ((), ())
        assert found.own != "5003"
    store = harness.store
    async for key in store.redis.scan_iter(match=f"{store.keys.prefix}*"):
        assert gone.encode() not in key + await values_of(store.redis, key)
        if b":batch:" in key:
            peers = [v.partition(b" ")[2] for v in (await store.redis.hgetall(key)).values()]
            assert b"5003" not in peers
    await _as_a_new_process(harness, fake_vk, drain=False)
    resent = fake_vk.calls_of("messages.send")[3:]
    assert "5003" not in ",".join(c.params["peer_ids"] for c in resent).split(",")
    copies = _copies(fake_vk)
    assert set(copies.values()) == {1}
    assert set(copies) == {int(p) for p in PEERS} - set(BLOCKED)
    assert await harness.store.outbox.pending() == []


async def test_the_vk_batch_goes_while_the_pass_s_max_copies_still_wait(
    harness: Harness, fake_vk: FakeVk, vk: VkConnector, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pass's VK batch goes once each customer was looked at, beside the MAX copies still
    waiting for MAX's limit (here: a MAX copy that goes out only after VK's request), not
    after the slowest of them: MAX's limit stood idle meanwhile, a few tenths of a second per
    pass of a long broadcast."""
    max_channel = harness.channels["max"]
    owner, sender, _ = _parts(harness, vk, with_max=True, segments={"both": Segment()})
    for peer in PEERS[:10]:
        await harness.store.identities.resolve(f"vk:{peer}")
    await harness.store.identities.resolve("max:77")
    send = max_channel.send

    async def after_vk(user_id: str, reply: Reply, **kwargs: Any) -> None:
        while not fake_vk.calls_of("messages.send"):
            await asyncio.sleep(0.01)
        await send(user_id, reply, **kwargs)

    monkeypatch.setattr(max_channel, "send", after_vk)
    await owner.create(NOTICE.model_copy(update={"segment": "both"}), "v3")
    assert await owner.start("v3") == 11
    assert await asyncio.wait_for(sender.drain("v3"), timeout=10) == 11
    assert set(_copies(fake_vk)) == {int(p) for p in PEERS[:10]}
    assert max_channel.texts("77") == [NOTICE.text]
    assert await harness.store.outbox.pending() == []

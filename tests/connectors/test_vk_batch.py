"""VK batches (``connectors.vk.batch``, ``VkConnector.send_batch``) against the VK fake: the
per-peer answer of ``peer_ids`` read per peer, a member's re-send repeating its batch."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectors.vk import VkConnector
from connectors.vk.batch import MISSING, address, batch_key, outcomes, parse_address
from connectors.vk.client import VkUndeliverable
from flows.types import Reply
from tests.fakes import vk as vk_fakes
from tests.fakes.vk import FakeVk

fake_vk_factory = vk_fakes.fake_vk_factory
fake_vk = vk_fakes.fake_vk
MEMBERS = [("11", "c1"), ("12", "c2"), ("13", "c3")]


async def _nowhere(*_: object, **__: object) -> None:
    return None


@pytest.fixture
async def vk(fake_vk: FakeVk) -> AsyncIterator[VkConnector]:
    connector = VkConnector(token=fake_vk.token, group_id=fake_vk.group_id,
                            api_url=fake_vk.api_url, sink=_nowhere)  # type: ignore[arg-type]
    yield connector
    await connector.stop()


def test_an_address_names_the_batch_and_its_own_peer() -> None:
    key = batch_key("b1", ["c2", "c1"])
    assert key == batch_key("b1", ["c1", "c2"]) != batch_key("b2", ["c1", "c2"])
    found = parse_address(address(key, "b1", "12", [("11", "c1"), ("12", "c2")]))
    assert found is not None
    assert (found.key, found.scope, found.own) == (key, "b1", "12")
    assert (found.peers, found.customers) == (("11", "12"), ("c1", "c2"))
    assert parse_address("12") is None


def test_outcomes_read_each_peer_of_the_answer() -> None:
    answer = [{"peer_id": 11, "message_id": 5, "conversation_message_id": 2},
              {"peer_id": 12, "error": {"code": 901, "description": "no permission"}}]
    assert outcomes(answer, ["11", "12", "13"]) == {"11": 0, "12": 901, "13": MISSING}


async def test_one_request_for_many_peers_and_a_refusal_for_one(
    fake_vk: FakeVk, vk: VkConnector,
) -> None:
    fake_vk.block(12, 901)
    found = await vk.send_batch(("11", "12", "13"), Reply(text="Скидка"), key="k1")
    assert found == {"11": 0, "12": 901, "13": 0}
    (call,) = fake_vk.calls_of("messages.send")
    assert call.params["peer_ids"] == "11,12,13"
    assert sorted(m.peer_id for m in fake_vk.sent) == [11, 13]


async def test_a_members_resend_repeats_its_batch_which_vk_drops(
    fake_vk: FakeVk, vk: VkConnector,
) -> None:
    fake_vk.block(12, 901)
    reply = Reply(text="Скидка")
    await vk.send_batch(("11", "12", "13"), reply, key="k1")
    fresh = VkConnector(token=fake_vk.token, group_id=fake_vk.group_id,
                        api_url=fake_vk.api_url, sink=_nowhere)  # type: ignore[arg-type]
    try:  # a new process re-sends the members' outbox entries
        await fresh.send(address("k1", "b1", "11", MEMBERS), reply, message_key="e1")
        with pytest.raises(VkUndeliverable):
            await fresh.send(address("k1", "b1", "12", MEMBERS), reply, message_key="e2")
        await fresh.send(address("k1", "b1", "13", MEMBERS), reply, message_key="e3")
    finally:
        await fresh.stop()
    calls = fake_vk.calls_of("messages.send")
    assert len(calls) == 2  # the re-sent batch once, its other members from its answer
    assert calls[0].params["random_id"] == calls[1].params["random_id"]
    assert sorted(m.peer_id for m in fake_vk.sent) == [11, 13]  # no one twice

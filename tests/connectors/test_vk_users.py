"""VK names from ``users.get`` (connectors/vk/users.py and ``VkConnector.names``), against the
VK fake's wire shape: named profiles kept, deleted/banned ones and unknown ids left out, up to
1000 ids a request, in the limiter's bulk lane, VK's errors raised as ``ChannelError``s."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from connectors.base import ChannelError, Priority
from connectors.common import ArrivalLimiter
from connectors.vk import VkConnector
from connectors.vk.client import RetryPolicy
from connectors.vk.users import USERS_PER_CALL, user_names, users_params
from flows.types import Inbound
from tests.fakes import vk as vk_fakes
from tests.fakes import vk_wire as wire
from tests.fakes.vk import GROUP_ID, TOKEN, FakeVk

fake_vk = vk_fakes.fake_vk
fake_vk_factory = vk_fakes.fake_vk_factory
FAST = RetryPolicy(attempts=2, base=0.01, cap=0.02, flood_base=0.01, timeout=2.0)


class Lanes:
    """The real limiter, noting the lane of each slot taken."""

    def __init__(self) -> None:
        self._real = ArrivalLimiter(20, 1.0)
        self.rate, self.per = self._real.rate, self._real.per
        self.taken: list[Priority] = []

    @contextlib.asynccontextmanager
    async def slot(self, priority: Priority = "live") -> AsyncIterator[None]:
        self.taken.append(priority)
        async with self._real.slot(priority):
            yield


async def _nowhere(inbound: Inbound) -> None:
    raise AssertionError("no updates expected")


def _connector(fake: FakeVk, limiter: Lanes | None = None) -> VkConnector:
    return VkConnector(token=TOKEN, group_id=GROUP_ID, api_url=fake.api_url, sink=_nowhere,
                       retry=FAST, limiter=limiter)


def test_names_of_live_profiles_only() -> None:
    answer = [wire.user(1, "Иван", "Петров"), wire.user(2, "", "", deactivated="deleted"),
              wire.user(3, "Ольга", "", closed=True), wire.user(4, "", "", deactivated="banned"),
              {"id": 5, "first_name": "DELETED", "last_name": ""}, {"id": 6}, "junk"]
    assert user_names(answer) == {"1": "Иван Петров", "3": "Ольга"}
    assert user_names({"error": 1}) == {}


def test_users_params_bounds() -> None:
    assert users_params(("1", "2")) == {"user_ids": "1,2"}
    with pytest.raises(ValueError, match="1000"):
        users_params(tuple(str(i) for i in range(USERS_PER_CALL + 1)))
    with pytest.raises(ValueError, match="1000"):
        users_params(())


async def test_names_asks_once_in_the_bulk_lane(fake_vk: FakeVk) -> None:
    fake_vk.person(77, "Иван", "Петров")
    fake_vk.person(78, deactivated="deleted")
    lanes = Lanes()
    vk = _connector(fake_vk, lanes)
    try:
        assert await vk.names(("77", "78", "79")) == {"77": "Иван Петров"}
    finally:
        await vk.stop()
    [call] = fake_vk.calls_of("users.get")
    assert call.params["user_ids"] == "77,78,79"
    assert lanes.taken == ["bulk"]


async def test_more_than_1000_ids_take_two_requests(fake_vk: FakeVk) -> None:
    ids = tuple(str(i) for i in range(1, USERS_PER_CALL + 3))
    fake_vk.person(USERS_PER_CALL + 2, "Анна", "Смирнова")
    vk = _connector(fake_vk)
    try:
        assert await vk.names(ids) == {str(USERS_PER_CALL + 2): "Анна Смирнова"}
    finally:
        await vk.stop()
    assert [len(c.params["user_ids"].split(",")) for c in fake_vk.calls_of("users.get")] == [
        USERS_PER_CALL, 2]


@pytest.mark.parametrize(("code", "status"), [(15, None), (6, None), (None, 429), (None, 503)])
async def test_a_failing_users_get_raises_a_channel_error(
    fake_vk: FakeVk, code: int | None, status: int | None,
) -> None:
    fake_vk.person(77, "Иван", "Петров")
    fake_vk.fail("users.get", code=code, http_status=status, times=None)
    vk = _connector(fake_vk)
    try:
        with pytest.raises(ChannelError):
            await vk.names(("77",))
    finally:
        await vk.stop()

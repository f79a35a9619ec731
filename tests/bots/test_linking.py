"""Regressions of issue 13 (§2, §5): linking never hands one customer's data to another.

Each attack of the issue on the real runtime (Redis, storage, engine): a link or code opened
by a victim with a history merges nothing until the victim presses «Объединить», and whoever
stays, neither side's web chat replays the other's past; the phone match reads the same for a
known and an unknown number and is rate-limited; six digits are a guess only from an account
told to type a code; wrong guesses burn nobody's code; no offer names a channel that cannot
be opened.
"""

from __future__ import annotations

import re

from bots_harness import Harness

from bots.linking import (
    CONFIRM_EXPIRED,
    JOINED,
    KEPT_APART,
    LINK_NO,
    LINK_YES,
    NO_OTHER_CHANNEL,
    YES_LABEL,
    Linking,
    LinkTargets,
)
from bots.webdialogue import history as web_history
from flows.types import ButtonEvent, Channel, Reply, StartEvent, TextEvent
from storage.keys import LINK_ADDRESS_MAX_FAILURES, PHONE_MATCH_MAX

VICTIM_SAID = ("Оля", "30")  # the hello flow: name, then age


async def _victim(harness: Harness, channel: Channel, user: str) -> str:
    """A customer with a history: name and age told, the booking-like flow finished."""
    await harness.send(channel, user, StartEvent())
    for said in VICTIM_SAID:
        await harness.send(channel, user, TextEvent(said))
    return await harness.customer(channel, user)


async def _link_of(harness: Harness, channel: Channel, user: str, where: str) -> str:
    """The attacker asks «продолжить в …» and takes the token of the offered link."""
    await harness.send(channel, user, TextEvent(f"продолжить {where}"))
    reply = harness.channels[channel].sent[-1][1]
    url = next(b.url for b in reply.buttons if b.url)
    found = re.search(r"link[-=]([A-Za-z0-9_-]+)", url)
    assert found, url
    return found.group(1)


def _last(harness: Harness, channel: Channel, user: str) -> Reply:
    return [r for u, r in harness.channels[channel].sent if u == user][-1]


async def _web_replay(harness: Harness, sid: str) -> list[str]:
    return [item.text for item in await web_history(harness.store, sid)]


async def _opened_by_victim(harness: Harness, channel: Channel, user: str, token: str) -> None:
    victim = await harness.customer(channel, user)
    await harness.send(channel, user, StartEvent(payload=f"link-{token}"))
    asked = _last(harness, channel, user)
    assert "Объединить" in asked.text
    assert [b.id for b in asked.buttons] == [LINK_YES, LINK_NO]
    assert await harness.customer(channel, user) == victim  # nothing merged on opening


async def test_web_chat_link_opened_in_vk_by_a_victim_is_asked_and_hides_the_past(
    harness: Harness,
) -> None:
    victim = await _victim(harness, "vk", "100")
    await harness.send("web", "att", StartEvent())
    token = await _link_of(harness, "web", "att", "во ВКонтакте")
    await _opened_by_victim(harness, "vk", "100", token)
    replay = await _web_replay(harness, "att")
    assert all(said not in replay for said in VICTIM_SAID)

    await harness.send("vk", "100", ButtonEvent(LINK_YES, YES_LABEL))
    assert await harness.customer("vk", "100") == victim  # the established side stays
    assert await harness.customer("web", "att") == victim
    assert JOINED in harness.texts("vk", "100")
    replay = await _web_replay(harness, "att")
    assert all(said not in replay for said in VICTIM_SAID)  # the attacker's chat: no past


async def test_chat_link_opened_by_a_web_victim_is_asked_first(harness: Harness) -> None:
    """``/chat#link=T`` in a browser whose session has a history."""
    victim = await _victim(harness, "web", "victim")
    await harness.send("vk", "100", StartEvent())
    token = await _link_of(harness, "vk", "100", "на сайте")
    await _opened_by_victim(harness, "web", "victim", token)
    await harness.send("web", "victim", ButtonEvent(LINK_NO))
    assert _last(harness, "web", "victim").text != CONFIRM_EXPIRED
    assert KEPT_APART in harness.texts("web", "victim")
    assert await harness.customer("vk", "100") != victim
    await harness.send("web", "victim", ButtonEvent(LINK_YES))  # the link is gone with the no
    assert await harness.customer("web", "victim") == victim
    assert harness.texts("web", "victim")[-1] == CONFIRM_EXPIRED


async def test_max_start_link_opened_by_a_victim_is_asked_first(harness: Harness) -> None:
    victim = await _victim(harness, "max", "200")
    await harness.send("web", "att", StartEvent())
    token = await _link_of(harness, "web", "att", "в MAX")
    await _opened_by_victim(harness, "max", "200", token)
    await harness.send("max", "200", TextEvent(YES_LABEL))  # the label typed works as well
    assert await harness.customer("web", "att") == victim


async def test_a_fresh_account_joins_after_confirming_and_continues_without_the_past(
    harness: Harness,
) -> None:
    await harness.send("vk", "100", StartEvent())
    await harness.send("vk", "100", TextEvent("Оля"))
    customer = await harness.customer("vk", "100")
    token = await _link_of(harness, "vk", "100", "на сайте")
    await harness.send("web", "new", StartEvent(payload=f"link-{token}"))
    await harness.send("web", "new", ButtonEvent(LINK_YES))
    assert await harness.customer("web", "new") == customer
    assert harness.texts("web", "new")[-2:] == [
        JOINED, "Приятно познакомиться, Оля! Сколько вам лет?"]  # from its current step
    replay = await _web_replay(harness, "new")
    assert "Оля" not in replay  # nothing from before the join
    assert JOINED in replay


async def _give_phone(harness: Harness, channel: Channel, user: str, phone: str) -> list[str]:
    before = len(harness.texts(channel, user))
    for text in ("телефон", "да", phone):
        await harness.send(channel, user, TextEvent(text))
    return harness.texts(channel, user)[before:]


async def test_phone_match_reads_the_same_is_limited_and_asks_before_merging(
    harness: Harness,
) -> None:
    await _give_phone(harness, "vk", "100", "+7 999 123-45-67")
    victim = await harness.customer("vk", "100")
    known = await _give_phone(harness, "web", "att", "8 (999) 123-45-67")
    unknown = await _give_phone(harness, "web", "other", "+7 999 765-43-21")
    assert known == unknown  # the answer does not tell whether the number is a customer's
    code = re.search(r"код (\d{6})", harness.texts("vk", "100")[-1])
    assert code
    await harness.send("vk", "100", TextEvent(code.group(1)))
    assert "Объединить" in harness.texts("vk", "100")[-1]
    assert await harness.customer("vk", "100") == victim  # typing the code merged nothing
    await harness.send("vk", "100", ButtonEvent(LINK_YES))
    assert await harness.customer("web", "att") == victim  # the older customer stays
    replay = await _web_replay(harness, "att")
    assert "+7 999 123-45-67" not in replay  # the victim's own messages from before

    for i in range(PHONE_MATCH_MAX + 3):  # strangers typing the number again and again
        await _give_phone(harness, "web", f"s{i}", "+7 999 123-45-67")
    codes = [t for ch in ("vk", "web") for t in harness.texts(ch) if "напишите здесь код" in t]
    assert len(codes) == PHONE_MATCH_MAX


async def test_wrong_codes_from_many_sessions_do_not_deny_linking(harness: Harness) -> None:
    """§5: 20 wrong six-digit texts from any sessions burned every live code bot-wide."""
    await harness.send("vk", "100", StartEvent())
    await harness.send("vk", "100", TextEvent("продолжить на сайте"))
    code = re.search(r"код (\d{6})", harness.texts("vk", "100")[-1])
    assert code
    for i in range(LINK_ADDRESS_MAX_FAILURES + 5):
        wrong = f"{(int(code.group(1)) + 1 + i) % 10**6:06d}"
        await harness.send("web", f"guess{i}", TextEvent(wrong))
    await harness.send("web", "owner", TextEvent(code.group(1)))
    await harness.send("web", "owner", ButtonEvent(LINK_YES))
    assert await harness.customer("web", "owner") == await harness.customer("vk", "100")


async def test_a_postcode_from_an_established_customer_spends_no_guess(
    harness: Harness,
) -> None:
    """§5: while any code was live, an ordinary six-digit answer counted as a guess."""
    await harness.send("max", "1", StartEvent())
    await harness.send("max", "1", TextEvent("продолжить на сайте"))  # a live code, elsewhere
    await harness.send("web", "s1", StartEvent())
    for said in ("Оля", "30", "привет", "Оля"):  # past a fresh customer's first messages
        await harness.send("web", "s1", TextEvent(said))
    await harness.send("web", "s1", TextEvent("190000"))
    assert harness.texts("web", "s1")[-1] == "Записал: Оля, 190000."
    store = harness.store
    assert await store.redis.get(store.keys.link_account_failures("web:s1")) is None


async def test_with_only_the_web_chat_no_channel_is_offered(harness: Harness) -> None:
    effects = harness.runtime.turns._effects
    links = LinkTargets({"web": "http://bot.test"})  # no VK group, no MAX bot: no deep link
    effects._links, effects._channels = (lambda: links), frozenset({"web"})
    effects.linking = Linking(harness.store.identities, links=lambda: links, channels={"web"})
    await harness.send("web", "s1", TextEvent("продолжить в другом мессенджере"))
    assert harness.texts("web", "s1") == [NO_OTHER_CHANNEL]
    await harness.send("web", "s1", TextEvent("продолжить"))  # a flow's link_channel step
    assert all("код" not in text for text in harness.texts("web", "s1"))
    assert not [r for _, r in harness.channels["web"].sent if r.buttons]

"""An advertising consent given in a flow, and withdrawn by «стоп» / «отписаться» on any
channel: recorded on the customer's profile with its channel and in the history."""

from __future__ import annotations

from bots_harness import Harness

from flows.types import UNSUBSCRIBE_BUTTON_ID, UNSUBSCRIBED_VERSION, ButtonEvent, TextEvent
from storage.history import ADS_WITHDRAWN_NOTE


async def test_a_flow_records_the_ads_consent_and_its_tag(harness: Harness) -> None:
    await harness.send("vk", "1", TextEvent("рассылка"))
    await harness.send("vk", "1", TextEvent("да"))
    customer = await harness.customer("vk", "1")
    profile = await harness.store.profiles.get(customer)
    assert profile.ads_consent
    assert not profile.consent_granted  # personal data was not asked
    assert [(c.what, c.granted, c.text_version, c.channel) for c in profile.consents] == [
        ("ads", True, "ads-1", "vk")]
    assert profile.tags == ("vip",)


async def test_stop_on_any_channel_withdraws_it_and_the_history_says_so(
    harness: Harness,
) -> None:
    await harness.send("max", "5", TextEvent("рассылка"))
    await harness.send("max", "5", TextEvent("да"))
    await harness.send("max", "5", TextEvent("Стоп"))
    customer = await harness.customer("max", "5")
    profile = await harness.store.profiles.get(customer)
    assert not profile.ads_consent
    last = profile.consents[-1]
    assert (last.what, last.granted, last.text_version, last.channel) == (
        "ads", False, UNSUBSCRIBED_VERSION, "max")
    notes = [e.note for e in await harness.store.history.read(customer)]
    assert ADS_WITHDRAWN_NOTE in notes
    assert harness.texts("max", "5")[-1].startswith("Вы отписались")


async def test_the_unsubscribe_button_on_the_web_withdraws_it(harness: Harness) -> None:
    await harness.send("web", "s", TextEvent("рассылка"))
    await harness.send("web", "s", TextEvent("да"))
    await harness.send("web", "s", ButtonEvent(UNSUBSCRIBE_BUTTON_ID, "Отписаться"))
    customer = await harness.customer("web", "s")
    assert not (await harness.store.profiles.get(customer)).ads_consent

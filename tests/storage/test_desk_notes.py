"""storage.desk's notes in the owner's chat: a note's message id leads to its hand-off's
short number (not to a customer), so erasing the customer leaves a note that answers nobody."""

from __future__ import annotations

from storage.store import Store


async def test_a_note_leads_to_its_number_and_erasure_ends_it(store: Store) -> None:
    handoffs = store.desk.handoffs
    customer = await store.identities.resolve("max:5")
    number = await handoffs.short_number(customer)
    await handoffs.noted("max", "mid.00ab", number)
    assert await handoffs.of_note("max", "mid.00ab") == number
    assert await handoffs.of_note("vk", "mid.00ab") is None  # another chat's message
    assert await handoffs.of_note("max", "not a key part") is None
    assert await handoffs.by_short(number) == customer
    await store.forget(customer)
    assert await handoffs.by_short(await handoffs.of_note("max", "mid.00ab") or 0) is None

"""The desk's reads: the conversation list (for its pages and ``/api/v1/handoffs``) and a
customer's export (the desk's owner-only download and ``/api/v1``'s).

This module must not arrange or render rows (``bots.desk.conversations`` does).
"""

from __future__ import annotations

import heapq
from typing import Any

from bots.desk.conversations import Row, rows_of
from storage.store import Store


async def conversation_rows(store: Store) -> list[Row]:
    """Every customer's row: state, waiting since, holder, last message."""
    customers = await store.desk.summaries.customers()
    summaries = await store.desk.summaries.of(customers)
    handed = [s.customer for s in summaries if s.handoff]
    since = await store.desk.handoffs.since(handed)
    holders = await store.desk.handoffs.holders(handed)
    return rows_of(summaries, since, holders)


async def recent_rows(store: Store, limit: int) -> tuple[list[Row], int]:
    """The rows of the hand-offs waiting and of the ``limit`` most recently active customers
    (the list's first page), and how many customers there are: whole summaries are read for
    these only."""
    summaries = store.desk.summaries
    customers = await summaries.customers()
    active = await summaries.last_active(customers)
    waiting = await store.desk.handoffs.waiting()
    top = heapq.nlargest(limit, zip(active, customers, strict=True))
    chosen = list(dict.fromkeys([*waiting, *(customer for _, customer in top)]))
    recent = {customer for _, customer in top}
    read = [s for s in await summaries.of(chosen) if s.handoff or s.customer in recent]
    for customer in set(waiting) - {s.customer for s in read if s.handoff}:
        await store.desk.handoffs.ended(customer)  # went back to the bot by themselves
    handed = [s.customer for s in read if s.handoff]
    holders = await store.desk.handoffs.holders(handed)
    return rows_of(read, {c: waiting[c] for c in handed if c in waiting}, holders), len(customers)


async def customer_export(store: Store, customer: str) -> dict[str, Any]:
    """Everything kept about a customer (a 152-FZ access request): accounts, profile with
    consents, and every message as the rows of ``svyaz export``'s JSONL. The caller audits."""
    accounts = await store.identities.accounts(customer)
    profile = await store.profiles.get(customer)
    messages = [e.to_record(customer) async for e in store.history.entries(customer)]
    return {
        "customer": customer,
        "accounts": [{"account": a.account, "last_active": a.last_active} for a in accounts],
        "profile": profile.model_dump(mode="json"),
        "broadcasts": await store.broadcasts.received(customer),  # broadcast -> outcome
        "messages": messages,
    }

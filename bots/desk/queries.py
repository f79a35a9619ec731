"""The desk's reads: the conversation list (for its pages and ``/api/v1/handoffs``) and a
customer's export (the desk's owner-only download and ``/api/v1``'s).

This module must not arrange or render rows (``bots.desk.conversations`` does).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bots.desk.conversations import Row, rows_of, state_of
from storage.history import with_copies
from storage.store import Store


async def conversation_rows(store: Store) -> list[Row]:
    """Every customer's row: state, waiting since, holder, last message."""
    customers = await store.desk.summaries.customers()
    summaries = await store.desk.summaries.of(customers)
    handed = [s.customer for s in summaries if s.handoff]
    since = await store.desk.handoffs.since(handed)
    holders = await store.desk.handoffs.holders(handed)
    return rows_of(summaries, since, holders)


async def waiting_rows(store: Store) -> list[Row]:
    """The rows of the hand-offs waiting (``Handoffs.waiting``), the longest waiting first:
    summaries are read for those only (the list's "waiting" filter, ``/api/v1/handoffs``)."""
    began = await store.desk.handoffs.waiting()
    summaries = [s for s in await store.desk.summaries.of(list(began))
                 if s.accounts and state_of(s) == "waiting"]
    holders = await store.desk.handoffs.holders([s.customer for s in summaries])
    rows = rows_of(summaries, began, holders)
    return sorted(rows, key=lambda r: (r.since or 0.0, r.customer))


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Row]  # the page's hand-offs waiting (longest first), then by last activity
    total: int  # conversations in all
    waiting: int  # hand-offs waiting in all


async def page_rows(store: Store, page: int, size: int, *, again: bool = True) -> Page:
    """One page of the list: the hand-offs waiting (the longest first), then the customers
    by last activity (``Summaries.active``); whole summaries are read for that page only.
    Entries found stale leave the indexes, and the page is read ``again`` without them."""
    summaries, handoffs = store.desk.summaries, store.desk.handoffs
    waiting = await handoffs.waiting()
    order = sorted(waiting, key=lambda c: (waiting[c], c))
    start = (max(1, page) - 1) * size
    first = order[start:start + size]
    rest, total = await summaries.active(max(0, start - len(order)), size - len(first),
                                           skip=waiting)
    read = await summaries.of([*first, *rest])
    gone = [s.customer for s in read if not s.accounts]  # merged or erased meanwhile
    stale = [s.customer for s in read if s.customer in waiting
             and (not s.handoff or not s.accounts)]
    for customer in stale:
        await handoffs.ended(customer)  # went back to the bot by themselves (or are gone)
    if await summaries.inactive(gone) + len(stale) and again:
        return await page_rows(store, page, size, again=False)
    read = [s for s in read if s.accounts and s.customer not in stale]
    handed = [s.customer for s in read if s.handoff]
    holders = await handoffs.holders(handed)
    rows = rows_of(read, {c: waiting[c] for c in handed if c in waiting}, holders)
    return Page(rows=rows, total=total, waiting=len(waiting))


async def customer_export(store: Store, customer: str) -> dict[str, Any]:
    """Everything kept about a customer (a 152-FZ access request): accounts, profile with
    consents, every message as the rows of ``svyaz export``'s JSONL, and the copies of the
    files they sent. The caller audits."""
    accounts = await store.identities.accounts(customer)
    profile = await store.profiles.get(customer)
    copies = await store.files.outcomes(customer)
    messages = [with_copies(e.to_record(customer), e, copies)
                async for e in store.history.entries(customer)]
    return {
        "customer": customer,
        "accounts": [{"account": a.account, "last_active": a.last_active} for a in accounts],
        "profile": profile.model_dump(mode="json"),
        "broadcasts": await store.broadcasts.received(customer),  # broadcast -> outcome
        "reached": await store.reached.steps(customer),  # flow.step -> when, for segments
        "invitations": {channel: asdict(sent) for channel, sent in  # sms/email -> what went
                        (await store.invite_sends.records(customer)).items()},
        "messages": messages,
        "files": [f.to_record(customer) for f in await store.files.listing(customer)],
    }

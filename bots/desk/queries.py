"""The desk's reads of the conversation list (for its pages and ``/api/v1/handoffs``).

This module must not arrange or render rows (``bots.desk.conversations`` does).
"""

from __future__ import annotations

from bots.desk.conversations import Row, rows_of
from storage.store import Store


async def conversation_rows(store: Store) -> list[Row]:
    """Every customer's row: state, waiting since, holder, last message."""
    customers = await store.desk.summaries.customers()
    summaries = await store.desk.summaries.of(customers)
    handed = [s.customer for s in summaries if s.state is not None and s.state.handoff]
    since = await store.desk.handoffs.since(handed)
    holders = await store.desk.handoffs.holders(handed)
    return rows_of(summaries, since, holders)

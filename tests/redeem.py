"""Claim and confirm a link in one call, for tests: the runtime asks the person in between
(``bots.linking``), so the product has no such shortcut."""

from __future__ import annotations

from storage.identity import Identities


async def redeem_link_token(identities: Identities, token: str, account: str) -> str | None:
    """``claim_link_token`` then ``confirm_link``: the customer that stays, or None."""
    if await identities.claim_link_token(token, account) is None:
        return None
    joined = await identities.confirm_link(account)
    return None if joined is None else joined.keep


async def redeem_link_code(identities: Identities, code: str, account: str) -> str | None:
    """``claim_link_code`` then ``confirm_link`` (as ``redeem_link_token``)."""
    if await identities.claim_link_code(code, account) is None:
        return None
    joined = await identities.confirm_link(account)
    return None if joined is None else joined.keep

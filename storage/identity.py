"""Identities: accounts (``storage.accounts``) plus linking them across customers.

* Link tokens (128 random bits, url-safe, single use via ``GETDEL``, 15 min) and 6-digit link
  codes join an account to another customer in two steps: ``claim_link_token`` /
  ``claim_link_code`` spend the token or code and park it for that account
  (``LINK_CONFIRM_TTL``); only ``confirm_link``, after the person pressed «Объединить», joins.
  Code guesses are limited per account and per address (``storage.links.Guesses``); which
  six digits are guesses at all the runtime decides (``bots.linking``).
* Invitation tokens of imported customers are ``storage.invites``' (``invitations``).
* Joining two customers is ``storage.merge``'s ``Merger.merge`` (``merge`` here hands over);
  who stays is ``storage.links.keeps_issuer``.

``Identities`` is an ``Accounts`` (resolve, routes, ...), so one object serves the runtime.
This module must not run flows or decide when to link; the runtime asks. The threat model is
in ``bots.linking``.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

from storage.accounts import AccountInfo, Accounts, new_customer_id
from storage.client import RedisClient
from storage.codec import text
from storage.errors import StorageError, guarded, guarded_slow
from storage.history import History
from storage.inbox import Inbox
from storage.invites import Invitations
from storage.kept import Kept
from storage.keys import (
    LINK_CODE_DIGITS,
    LINK_CODE_TTL,
    LINK_TOKEN_BYTES,
    LINK_TOKEN_TTL,
    Keys,
)
from storage.links import Guesses, Standing, keeps_issuer, park, phone_match_allowed, remember_link
from storage.merge import Merger
from storage.profile import Profiles
from storage.reminders import Reminders

__all__ = ["AccountInfo", "Identities", "Joined", "new_customer_id"]

_CODE = re.compile(rf"[0-9]{{{LINK_CODE_DIGITS}}}")
_CODE_TRIES = 20


@dataclass(frozen=True, slots=True)
class Joined:
    """A confirmed link: ``keep`` stays; ``gone`` (if any) was merged into it."""

    keep: str
    gone: str | None


class Identities(Accounts):
    """Accounts, link tokens and codes; merging through ``Merger``."""

    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
        *,
        history: History,
        profiles: Profiles,
        reminders: Reminders,
        inbox: Inbox,
        kept: Kept | None = None,
        link_token_ttl: int = LINK_TOKEN_TTL,
        link_code_ttl: int = LINK_CODE_TTL,
    ) -> None:
        super().__init__(redis, keys, profiles=profiles)
        self._inbox = inbox
        self.link_token_ttl = link_token_ttl
        self.link_code_ttl = link_code_ttl
        self._guesses = Guesses(redis, keys)
        self.invitations = Invitations(redis, keys)
        self._merger = Merger(redis, keys, accounts=self, history=history, profiles=profiles,
                              reminders=reminders, inbox=inbox, kept=kept)

    # ------------------------------------------------------------------ link tokens

    @guarded
    async def issue_link_token(self, customer: str) -> str:
        """A single-use url-safe token (128 bits) that joins another account to ``customer``."""
        token = secrets.token_urlsafe(LINK_TOKEN_BYTES)
        key = self._keys.link_token(token)
        await self._redis.set(key, customer, ex=self.link_token_ttl)
        await remember_link(self._redis, self._keys, customer, key,
                            max(self.link_token_ttl, self.link_code_ttl))
        return token

    @guarded
    async def claim_link_token(self, token: str, account: str) -> str | None:
        """Spend ``token`` for ``account``: its customer now waits for the account's
        ``confirm_link``; None when the token is unknown, used or expired."""
        if not token or len(token) > 128:
            return None
        key = self._keys.link_token(token)
        found = await self._redis.getdel(key)
        if found is None:
            return None
        return await park(self._redis, self._keys, account, text(found), key)

    @guarded
    async def pending_link(self, account: str) -> str | None:
        """The customer a claimed link of ``account`` waits to join, if any."""
        found = await self._redis.get(self._keys.link_pending(account))
        return None if found is None else text(found)

    @guarded
    async def drop_link(self, account: str) -> bool:
        """The person said no: forget the claimed link (it was spent when claimed)."""
        return bool(await self._redis.delete(self._keys.link_pending(account)))

    @guarded_slow
    async def confirm_link(
        self, account: str, *, settle: tuple[str, str] | None = None,
    ) -> Joined | None:
        """Join ``account``'s customer and the claimed link's (see ``keeps_issuer``); None when
        nothing waits or the link's customer is gone. ``settle`` (customer, inbox entry id):
        the entry that confirmed, settled before its customer is merged away (its inbox moves,
        and the entry with it would be run a second time)."""
        found = await self._redis.getdel(self._keys.link_pending(account))
        if found is None:
            return None
        issuer, current = text(found), await self.customer_of(account)
        if not await self._redis.exists(self._keys.accounts(issuer)):
            return None  # erased meanwhile
        if current is None or current == issuer:
            now = time.time()
            if current is None:  # a new account: nothing of its own, nothing of theirs shown
                await self._redis.hset(self._keys.visible(issuer), account, now)
            await self.attach(account, issuer, now)
            return Joined(issuer, None)
        stays = keeps_issuer(await self._merger.standing(issuer),
                             await self._merger.standing(current))
        keep, other = (issuer, current) if stays else (current, issuer)
        if settle is not None and settle[0] == other:
            await self._inbox.done(*settle)
        await self.merge(keep, other)
        return Joined(keep, other)

    @guarded_slow
    async def join_invited(self, account: str, invited: str, *,
                           settle: tuple[str, str] | None = None) -> str | None:
        """Join ``account`` (and its customer, merged away) to ``invited``, whose invitation
        it spent (``bots.invites`` decided it may); the customer merged away, if any.
        ``settle`` as in ``confirm_link``. The invited customer's other invitations go."""
        current = await self.customer_of(account)
        await self.invitations.erase(invited)
        if current is None or current == invited:
            await self.attach(account, invited, time.time())
            return None
        if settle is not None and settle[0] == current:
            await self._inbox.done(*settle)
        await self.merge(invited, current)
        return current

    @guarded
    async def standing(self, customer: str) -> Standing:
        """How established ``customer`` is (``storage.links.Standing``)."""
        return await self._merger.standing(customer)

    # ------------------------------------------------------------------ link codes

    @guarded
    async def issue_link_code(self, customer: str) -> str:
        """A 6-digit code, expiring and attempt-limited, that joins an account to ``customer``."""
        for _ in range(_CODE_TRIES):
            code = f"{secrets.randbelow(10**LINK_CODE_DIGITS):0{LINK_CODE_DIGITS}d}"
            key = self._keys.link_code(code)
            if await self._redis.set(key, customer, nx=True, ex=self.link_code_ttl):
                await remember_link(self._redis, self._keys, customer, key,
                                    max(self.link_token_ttl, self.link_code_ttl))
                return code
        raise StorageError("no free link code; too many live codes")

    @guarded
    async def claim_link_code(
        self, code: str, account: str, *, address: str | None = None,
    ) -> str | None:
        """Spend ``code`` for ``account`` as ``claim_link_token`` does. Call it only for an
        account told to type a code: every miss is a guess, limited per account and per
        ``address`` (None: refused, or wrong, or no code)."""
        if not await self._guesses.allowed(account, address):
            return None
        key = self._keys.link_code(code) if _CODE.fullmatch(code) else None
        found = None if key is None else await self._redis.getdel(key)
        if key is None or found is None:
            await self._guesses.failed(account, address)
            return None
        return await park(self._redis, self._keys, account, text(found), key)

    @guarded
    async def expect_code(self, account: str) -> None:
        """``account`` was told to type a code (shown a link offer, sent a phone match)."""
        await self._redis.set(self._keys.link_expected(account), 1, ex=self.link_code_ttl)

    @guarded
    async def expects_code(self, account: str, customer: str) -> bool:
        """Whether six digits from ``account`` are a code guess: it was told to type one, or
        its customer is fresh (a visitor's first messages); else they are an ordinary answer,
        a postcode or an order number."""
        if await self._redis.exists(self._keys.link_expected(account)):
            return True
        return (await self._merger.standing(customer)).fresh

    @guarded
    async def phone_match_allowed(self, phone: str) -> bool:
        return await phone_match_allowed(self._redis, self._keys, phone)

    @guarded_slow
    async def merge(self, keep: str, other: str) -> None:
        """Fold ``other`` into ``keep`` (``Merger.merge``); safe to re-run."""
        await self._merger.merge(keep, other)

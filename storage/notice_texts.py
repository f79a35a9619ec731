"""The text a notice carries to its later rungs (SMS, e-mail): kept in the notice's record.

The reminder's turn writes it once its replies are known (``keep``); ``Notices.get`` reads it
back as ``Notice.text``. It is the customer's data: it lives and is erased with the record.
"""

from __future__ import annotations

from storage.client import RedisClient
from storage.errors import guarded
from storage.keys import Keys


class NoticeTexts:
    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    @guarded
    async def keep(self, customer: str, notice_id: str, text: str) -> bool:
        """Store the text the later rungs send; False when the notice does not exist
        (nothing is created: a record without its rungs would lead nowhere)."""
        key = self._keys.notice(customer, notice_id)
        if not await self._redis.exists(key):
            return False
        await self._redis.hset(key, "text", text)
        return True

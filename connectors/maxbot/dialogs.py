"""The bot's one-to-one dialogs with MAX users, as MAX's answers name them.

MAX names a dialog's chat in nothing but its events and answers (``GET /chats`` is gone since
June 2026, maxapi's note), and a re-send can read a dialog back only through its chat. The
answer to a message sent by bare user id names the dialog (``recipient`` of type ``dialog``):
``MaxClient`` keeps it here for the connector's ``route_of``, which ``bots.routes_kept``
stores as the account's route.

Must not: send, or import storage/bots.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

# Users whose dialog chat this process learned from a send's answer: read right after the send
# (``bots.delivery`` keeps it as the account's route), so a few thousand bridge any burst.
DIALOGS_KEPT = 4096


def dialog_of(answer: dict[str, Any]) -> int | None:
    """The chat id of the one-to-one dialog a ``POST /messages`` answer names (its
    ``recipient`` of type ``dialog``); None for a group chat or an answer without one."""
    message = answer.get("message")
    recipient = message.get("recipient") if isinstance(message, dict) else None
    if not isinstance(recipient, dict) or recipient.get("chat_type") != "dialog":
        return None
    chat = recipient.get("chat_id")
    return chat if isinstance(chat, int) and not isinstance(chat, bool) and chat else None


class Dialogs:
    """User id -> the chat of the bot's dialog with them, as MAX's answers named it (the last
    ``DIALOGS_KEPT``): a re-send can read such a dialog back (``bots.routes_kept`` stores it)."""

    def __init__(self, size: int = DIALOGS_KEPT) -> None:
        self._size = size
        self._chats: OrderedDict[int, int] = OrderedDict()

    def learn(self, user_id: int, chat: int | None) -> None:
        if chat is None:
            return
        self._chats[user_id] = chat
        self._chats.move_to_end(user_id)
        while len(self._chats) > self._size:
            self._chats.popitem(last=False)

    def get(self, user_id: int) -> int | None:
        return self._chats.get(user_id)

"""The texts the channels themselves show customers: the web chat's error messages and the
MAX button that shares a phone number.

One home, so a review of what customers read or a translation finds every channel text here
(the runtime's are in ``bots.texts``, the owner-overridable flow texts in
``flows.schema.Texts``; the widget's own labels are in ``webchat/static/widget.js``). Plain
constants: no logic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from connectors.webchat.frames import ErrorCode

# The message of a web chat ``error`` frame, per code (``connectors.webchat.frames``).
WEBCHAT_ERRORS: Final[dict[ErrorCode, str]] = {
    "bad_frame": "Непонятное сообщение.",
    "too_long": "Сообщение слишком длинное.",
    "empty": "Пустое сообщение.",
    "hello_first": "Соединение ещё не готово.",
    "rate_limited": "Слишком много сообщений подряд, подождите немного.",
    "too_many_connections": "Слишком много открытых окон чата.",
    "unavailable": "Не получилось отправить, попробуйте ещё раз.",
}

# MAX's contact-request button under a question that asks for a phone.
MAX_PHONE_BUTTON: Final = "📱 Отправить номер телефона"

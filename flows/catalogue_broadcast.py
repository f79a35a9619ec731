"""Messages about advertising consent, tags, commands, segments and broadcasts
(``flows.catalogue`` merges them)."""

from __future__ import annotations

from collections.abc import Mapping

BROADCAST: Mapping[str, Mapping[str, str]] = {
    "pattern.tag": {
        "ru": "'{found}' — не годится как метка: строчные буквы, цифры, '_' или '-', до 40 "
              "знаков, например vip",
        "en": "'{found}' is not a valid tag: use lower-case letters, digits, '_' or '-', up "
              "to 40 characters, e.g. vip"},
    "shape.tag": {"ru": "метка или список меток, например vip или [vip, записан]",
                  "en": "a tag or a list of tags, e.g. vip or [vip, booked]"},
    "commands.same_word": {
        "ru": "слово «{word}» стоит и в '{first}', и в '{second}': оставьте его в одной "
              "команде (по умолчанию «стоп» — это 'unsubscribe', отписка от рекламы)",
        "en": "the word «{word}» is in both '{first}' and '{second}': keep it in one command "
              "(by default «стоп» is 'unsubscribe', withdrawing the advertising consent)"},
}

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
    "cli.schema.segments": {"ru": "схему _segments.yaml (сегменты рассылок) вместо сценариев",
                            "en": "the schema of _segments.yaml (broadcast segments) instead"},
    "cli.segments": {
        "ru": "сколько клиентов в каждом сегменте _segments.yaml, по каналам (ничего не "
              "отправляет)",
        "en": "how many customers each segment of _segments.yaml has, per channel (sends "
              "nothing)"},
    "segments.none": {"ru": "{folder}: нет сегментов (файла _segments.yaml)",
                      "en": "{folder}: no segments (no _segments.yaml file)"},
    "segments.count": {"ru": "{segment}{title}: клиентов {total} — {channels}",
                       "en": "{segment}{title}: {total} customer(s) — {channels}"},
    "segment.too_long": {
        "ru": "'{found}' — слишком давно: не больше трёх лет",
        "en": "'{found}' is too long ago: three years at most"},
    "segment.channel_unknown": {
        "ru": "сегмент '{segment}': канала '{channel}' у бота нет{hint}; каналы: {channels}",
        "en": "segment '{segment}': the bot has no channel '{channel}'{hint}; channels: "
              "{channels}"},
    "segment.tag_unset": {
        "ru": "сегмент '{segment}': метку '{tag}' не ставит ни один сценарий (шаг с "
              "'tag: {tag}'); она может быть только у клиентов из импорта",
        "en": "segment '{segment}': no flow sets the tag '{tag}' (a step with 'tag: {tag}'); "
              "only imported customers may have it"},
}

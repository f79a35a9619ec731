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
    "broadcast.quiet": {
        "ru": "'{found}' — не промежуток времени: пишите, например, 21:00-09:00",
        "en": "'{found}' is not a span of time: write e.g. 21:00-09:00"},
    "broadcast.button_one": {
        "ru": "у кнопки рассылки должно быть одно из двух: url (ссылка) или button (кнопка, "
              "которая запускает сценарий)",
        "en": "a broadcast button has exactly one of url (a link) or button (starts a flow)"},
    "broadcast.content": {
        "ru": "у рассылки должно быть одно из двух: text (сообщение) или flow (сценарий)",
        "en": "a broadcast has exactly one of text (a message) or flow (a flow to start)"},
    "broadcast.flow_buttons": {
        "ru": "кнопки задаются в самом сценарии: у рассылки с flow не бывает buttons",
        "en": "a broadcast that starts a flow takes its buttons from the flow, not buttons"},
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

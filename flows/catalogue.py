"""Every message ``svyaz check`` can print, in Russian and English, in one place.

A key names a message; its texts are ``str.format`` templates with the same placeholders in
both languages (a test checks it, and that every key the code uses is here). Values that
are phrases themselves (``where``, ``hint``) are rendered in the same language first. Code
and flow keys ('ask', 'next') stay as the owner writes them, in both languages.
"""

from __future__ import annotations

from collections.abc import Mapping

from flows.catalogue_broadcast import BROADCAST
from flows.catalogue_chat import CHAT
from flows.catalogue_cli import CLI
from flows.catalogue_data import DATA
from flows.catalogue_hours import HOURS
from flows.catalogue_invite import INVITE
from flows.catalogue_settings import SETTINGS
from flows.catalogue_steps import STEPS
from flows.catalogue_tests import TESTS

_FILES: Mapping[str, Mapping[str, str]] = {
    # ------------------------------------------------------------------ common
    "empty": {"ru": "", "en": ""},
    "severity.error": {"ru": "ошибка", "en": "error"},
    "severity.warning": {"ru": "предупреждение", "en": "warning"},
    "load.failed": {"ru": "ошибок в сценариях: {count}", "en": "{count} error(s) in flows:"},
    "hint.did_you_mean": {"ru": "; может быть, '{word}'?", "en": "; did you mean '{word}'?"},
    "where.step": {"ru": "шаг '{step}': ", "en": "step '{step}': "},
    "where.trigger": {"ru": "триггер {number}: ", "en": "trigger {number}: "},
    # ------------------------------------------------------------------ files and folders
    "folder.missing": {"ru": "нет такой папки со сценариями",
                       "en": "no such folder of flows"},
    "folder.empty": {"ru": "в папке нет сценариев (файлов *.yaml)",
                     "en": "the folder has no flows (*.yaml files)"},
    "file.not_utf8": {
        "ru": "файл не в кодировке UTF-8 ({reason}); сохраните его как UTF-8",
        "en": "the file is not UTF-8 text ({reason}); save it as UTF-8"},
    "check.failed": {"ru": "{folder}: ошибок: {errors}, предупреждений: {warnings}",
                     "en": "{folder}: {errors} error(s), {warnings} warning(s)"},
    "check.ok": {"ru": "{folder}: всё в порядке, сценариев: {flows}, предупреждений: {warnings}",
                 "en": "{folder}: ok, {flows} flow(s), {warnings} warning(s)"},
    "check.see_check": {
        "ru": "ошибок в сценариях: {errors}; подробности: 'svyaz check'",
        "en": "{errors} error(s) in flows; run 'svyaz check' for details"},
    # ------------------------------------------------------------------ YAML
    "yaml.error": {"ru": "YAML не читается: {detail}", "en": "YAML error: {detail}"},
    "yaml.syntax": {
        "ru": "YAML не читается ({detail}); проверьте отступы и возьмите в кавычки текст "
              "со знаками ':', '#', '?'",
        "en": "YAML syntax error ({detail}); check the indentation and put a text with "
              "':', '#' or '?' in quotes"},
    "yaml.tab": {
        "ru": "в строке знак табуляции: YAML понимает отступы только из пробелов; "
              "замените табуляцию пробелами",
        "en": "a tab character: YAML indents with spaces only; replace the tab with spaces"},
    "yaml.question_mark": {
        "ru": "'? ' в начале текста YAML понимает как начало ключа; возьмите текст в "
              "кавычки: \"? …\"",
        "en": "YAML reads '? ' at the start of a text as the start of a key; put the text "
              "in quotes: \"? …\""},
    "yaml.indent": {
        "ru": "неверный отступ в строке {line}: он не совпадает с отступом ключей выше; "
              "выровняйте строку пробелами по соседним ключам",
        "en": "wrong indentation on line {line}: it matches no key above; align the line "
              "with its neighbours using spaces"},
    "yaml.indent_more": {
        "ru": "строка {line} сдвинута правее, чем ключ строкой выше, и YAML приклеил её к "
              "его тексту; выровняйте её по ключу выше",
        "en": "line {line} is indented further than the key above it, so YAML glued it to "
              "that key's text; align it with the key above"},
    "yaml.no_colon": {
        "ru": "после ключа нет двоеточия: пишите 'ключ: значение' (например, 'say: Привет')",
        "en": "the key has no colon: write 'key: value' (e.g. 'say: Hello')"},
    "yaml.colon_in_text": {
        "ru": "в тексте есть ': ', и YAML принял его за новый ключ; возьмите текст в "
              "кавычки: {key}: \"…\"",
        "en": "the text contains ': ', which YAML reads as a new key; put the text in "
              "quotes: {key}: \"…\""},
    "yaml.after_quote": {
        "ru": "после закрывающей кавычки или скобки идёт ещё текст; возьмите в кавычки весь "
              "текст (кавычки внутри — другого вида: \"Салон 'Ромашка' ждёт\")",
        "en": "more text follows a closing quote or bracket; put the whole text in quotes "
              "(quotes inside of the other kind: \"Salon 'Daisy' awaits\")"},
    "yaml.special_start": {
        "ru": "текст не может начинаться с '{char}' без кавычек (YAML понимает этот знак "
              "по-своему); возьмите весь текст в кавычки",
        "en": "a text cannot start with '{char}' without quotes (YAML gives that sign a "
              "meaning); put the whole text in quotes"},
    "yaml.no_key": {
        "ru": "строка без 'ключ:'; если это продолжение текста строкой выше, сдвиньте её "
              "правее ключа или напишите текст в одну строку после двоеточия",
        "en": "a line without 'key:'; if it continues the text above, indent it further than "
              "that key, or write the text on one line after the colon"},
    "yaml.colon_in_item": {
        "ru": "в элементе списка '{key}' есть ': ', и YAML сделал из него пару ключ: значение; "
              "возьмите этот элемент в кавычки: [\"Нет: не хочу\"]",
        "en": "an item of the list '{key}' contains ': ', which YAML made a key: value pair; "
              "put the item in quotes: [\"No: not now\"]"},
    "schema.step_key_as_step": {
        "ru": "'{key}' стоит на уровне шагов, а это ключ шага: сдвиньте строку вправо, под "
              "шаг выше (на уровень его 'say'/'ask')",
        "en": "'{key}' is at the level of steps, but it is a step's key: indent the line "
              "under the step above (to the level of its 'say'/'ask')"},
    "schema.empty_step": {
        "ru": "шаг '{step}' пустой: напишите под ним с отступом хотя бы 'say: …' или 'ask: …'",
        "en": "the step '{step}' is empty: write at least 'say: …' or 'ask: …' under it, "
              "indented"},
    "yaml.quote": {
        "ru": "кавычка открыта здесь и не закрыта; закройте её в конце текста",
        "en": "a quote opens here and is never closed; close it at the end of the text"},
    "yaml.bracket": {
        "ru": "скобка '[' или '{{' открыта здесь и не закрыта (или внутри текст с ':' или ','); "
              "закройте скобку или возьмите текст в кавычки",
        "en": "a '[' or '{{' opens here and is never closed (or a text inside has ':' or ','); "
              "close it or put the text in quotes"},
    "yaml.duplicate": {
        "ru": "ключ '{key}' написан дважды в одном месте (первый раз в строке {line}); "
              "удалите или переименуйте один из них",
        "en": "the key '{key}' is written twice in one place (first on line {line}); "
              "remove or rename one of them"},
    "yaml.swallowed": {
        "ru": "у строки '{name}:' лишний отступ: ключи под ней попали в блок выше, и '{key}' "
              "там повторился (строки {first} и {again}); сдвиньте '{name}:' влево, на уровень "
              "блока выше",
        "en": "the line '{name}:' is indented too far: the keys under it went into the block "
              "above, where '{key}' is now written twice (lines {first} and {again}); move "
              "'{name}:' left, to the level of the block above"},
    "yaml.date_number": {
        "ru": "YAML прочитал {raw} как число, а не как дату; если это дата или время, "
              "возьмите в кавычки: \"{raw}\"",
        "en": "YAML reads {raw} as a number, not a date; if it is a date or a time, put it "
              "in quotes: \"{raw}\""},
    "yaml.hash_cut": {
        "ru": "текст обрезан на '#': YAML считает всё после ' #' комментарием и оставит "
              "только «{kept}»; если «{cut}» — часть текста, возьмите весь текст в кавычки",
        "en": "the text is cut at '#': YAML reads everything after ' #' as a comment and "
              "keeps only \"{kept}\"; if \"{cut}\" is part of the text, put it all in quotes"},
    # ------------------------------------------------------------------ shapes (validation)
    "schema.unknown_key": {
        "ru": "{where}неизвестный ключ '{key}'{hint} (можно: {allowed})",
        "en": "{where}unknown key '{key}'{hint} (allowed keys: {allowed})"},
    "schema.missing": {"ru": "{where}нужен ключ '{key}'",
                       "en": "{where}the key '{key}' is required"},
    "schema.at": {"ru": "{where}{what}", "en": "{where}{what}"},
    "schema.raw": {"ru": "{text}", "en": "{text}"},
    "schema.key": {"ru": "'{key}'", "en": "'{key}'"},
    "schema.this_value": {"ru": "значение", "en": "this value"},
    "schema.number_not_text": {
        "ru": "YAML прочитал {raw} как число, а здесь нужен текст; возьмите в кавычки: "
              "\"{raw}\"",
        "en": "YAML reads {raw} as a number, but text is needed here; put it in quotes: "
              "\"{raw}\""},
    "schema.not_allowed": {
        "ru": "'{found}' здесь нельзя{hint} (можно: {allowed})",
        "en": "'{found}' is not allowed here{hint} (allowed: {allowed})"},
    "schema.wrong_shape": {
        "ru": "не та форма (написано {found}); нужно: {shape}",
        "en": "the wrong form (found {found}); expected {shape}"},
    "schema.wrong_type": {
        "ru": "{key}: нужно {wanted}, написано {found}",
        "en": "{key} should be {wanted}, found {found}"},
    "schema.limit": {"ru": "{key}: нужно {limit}, написано {found}",
                     "en": "{key} should be {limit}, found {found}"},
    "limit.le": {"ru": "не больше {value}", "en": "at most {value}"},
    "limit.lt": {"ru": "меньше {value}", "en": "less than {value}"},
    "limit.ge": {"ru": "не меньше {value}", "en": "at least {value}"},
    "limit.gt": {"ru": "больше {value}", "en": "more than {value}"},
    "limit.min_items": {"ru": "хотя бы {value} шт.", "en": "at least {value} item(s)"},
    "limit.max_items": {"ru": "не больше {value} шт.", "en": "at most {value} item(s)"},
    "limit.min_chars": {"ru": "не короче {value} симв.", "en": "at least {value} character(s)"},
    "limit.max_chars": {"ru": "не длиннее {value} симв.", "en": "at most {value} character(s)"},
    "schema.other": {"ru": "{key}: {text} (написано {found})",
                     "en": "{key}: {text} (found {found})"},
    "shape.next": {
        "ru": "имя шага, соответствие ответ: шаг ({{yes: a, no: b}}) или список правил "
              "([{{if: ..., then: шаг}}, {{else: шаг}}])",
        "en": "a step name, a mapping from answer to step ({{yes: a, no: b}}) or a list of "
              "rules ([{{if: ..., then: step}}, {{else: step}}])"},
    "shape.choice": {"ru": "список текстов кнопок или соответствие id: текст",
                     "en": "a list of button texts, or a mapping id: text"},
    "shape.text": {"ru": "слово или фраза, или их список",
                   "en": "a word or phrase, or a list of them"},
    "shape.remind": {
        "ru": "напоминание {{flow: ..., at: ..., before: 24h}} или их список",
        "en": "a reminder {{flow: ..., at: ..., before: 24h}} or a list of them"},
    "shape.cancel_reminder": {"ru": "ключ напоминания или список ключей",
                              "en": "a reminder key or a list of keys"},
    "shape.handoff": {"ru": "текст для клиента или true",
                      "en": "a text for the customer, or true"},
    "pattern.channel": {
        "ru": "'{found}' — не имя канала: строчные латинские буквы, цифры и '_', например sms",
        "en": "'{found}' is not a channel name: use lower-case Latin letters, digits and "
              "'_', e.g. sms"},
    "pattern.name": {
        "ru": "'{found}' — не годится как имя: латинские буквы, цифры, '_' или '-', в "
              "начале буква",
        "en": "'{found}' is not a valid name: use Latin letters, digits, '_' or '-', "
              "starting with a letter"},
    "type.text": {"ru": "текст", "en": "text"},
    "type.int": {"ru": "целое число", "en": "a whole number"},
    "type.number": {"ru": "число", "en": "a number"},
    "type.bool": {"ru": "true или false", "en": "true or false"},
    "type.list": {"ru": "список", "en": "a list"},
    "type.mapping": {"ru": "набор ключ: значение", "en": "a mapping (key: value)"},
}

CATALOGUE: Mapping[str, Mapping[str, str]] = {
    **_FILES, **STEPS, **TESTS, **CLI, **HOURS, **CHAT, **BROADCAST,
    **INVITE, **DATA, **SETTINGS}

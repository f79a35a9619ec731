"""Messages about working hours, time lists and reminders whose time has passed
(``flows.catalogue`` merges them)."""

from __future__ import annotations

from collections.abc import Mapping

HOURS: Mapping[str, Mapping[str, str]] = {
    "pattern.weekday": {
        "ru": "'{found}' — не день недели: пишите пн, вт, ср, чт, пт, сб, вс или промежуток, "
              "например пн-пт",
        "en": "'{found}' is not a day of the week: write пн, вт, ср, чт, пт, сб, вс or a "
              "range such as пн-пт"},
    "pattern.hours": {
        "ru": "'{found}' — не часы работы: напишите, например, 10:00-20:00",
        "en": "'{found}' are not working hours: write e.g. 10:00-20:00"},
    "pattern.holiday": {
        "ru": "'{found}' — не дата: напишите 2026-01-01 (один день) или 08.03 (каждый год)",
        "en": "'{found}' is not a date: write 2026-01-01 (one day) or 08.03 (every year)"},
    "pattern.no_such_day": {
        "ru": "'{found}' — такого дня не бывает; проверьте число и месяц",
        "en": "'{found}' is no real day; check the day and the month"},
    "hours.days_input": {
        "ru": "{where}'days' работает только с 'input: date', 'time' или 'datetime' "
              "(здесь '{kind}')",
        "en": "{where}'days' works only with 'input: date', 'time' or 'datetime' "
              "(here '{kind}')"},
    "hours.closed_needs_days": {
        "ru": "{where}'closed' — текст для нерабочего дня; он нужен только вместе с "
              "'days: working'",
        "en": "{where}'closed' is the text for a closed day; it goes only with "
              "'days: working'"},
    "hours.for_day_input": {
        "ru": "{where}'for_day' работает только с кнопками времени или 'input: time' "
              "(здесь '{kind}')",
        "en": "{where}'for_day' works only with time buttons or 'input: time' "
              "(here '{kind}')"},
    "hours.when_empty_input": {
        "ru": "{where}'when_empty' работает только с кнопками (choice, choice_from)",
        "en": "{where}'when_empty' works only with buttons (choice, choice_from)"},
    "hours.may_be_empty": {
        "ru": "{where}все времена могут оказаться прошедшими или нерабочими; добавьте "
              "'when_empty: шаг', куда вести клиента, когда выбрать не из чего",
        "en": "{where}every time may turn out past or outside hours; add 'when_empty: step' "
              "for where the customer goes when there is nothing to choose"},
    "hours.not_declared": {
        "ru": "шаг '{step}': 'days: working', но в {file} не указаны рабочие дни — сейчас "
              "подходит любой день; добавьте туда, например, "
              "'working: {{days: [пн-пт], hours: \"10:00-20:00\"}}'",
        "en": "step '{step}': 'days: working', but {file} declares no working days, so any "
              "day fits; add e.g. 'working: {{days: [пн-пт], hours: \"10:00-20:00\"}}' there"},
    "remind.may_pass": {
        "ru": "{where}если до '{at}' останется меньше, чем '{before}', это напоминание не будет "
              "отправлено; добавьте 'if_past:' — шаг, куда перейти, или текст для клиента, — "
              "чтобы бот не обещал того, чего не сделает",
        "en": "{where}with less than '{before}' left before '{at}', this reminder is not sent; "
              "add 'if_past:' (a step to go to, or a text for the customer) so the bot does "
              "not promise what it will not do"},
}

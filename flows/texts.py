"""Every default text the engine says to a customer, in one place for a review or a translation.

Two kinds: the defaults an owner may change in ``_bot.yaml`` (``flows.schema.Texts`` takes its
defaults from here; the ``DEFAULT_`` names), and the fixed reasons an answer is asked again
(``flows.inputs``, ``flows.ru_dates``), some with ``{placeholders}`` their module fills.
The runtime's texts are in ``bots.texts``, the channels' in ``connectors.texts``.
Plain constants: no logic.
"""

from __future__ import annotations

from typing import Final

# ----------------------------------------------------------------- overridable (schema.Texts)

DEFAULT_FALLBACK: Final = "Извините, не удалось понять. Выберите, пожалуйста, что вас интересует:"
DEFAULT_CANCELLED: Final = "Хорошо, отменили."
DEFAULT_HELP: Final = (
    "Я бот-помощник. Отвечайте на вопросы или нажимайте кнопки. "
    "Команды: «меню», «отмена», «помощь»."
)
DEFAULT_LOST: Final = (
    "Извините, сценарий разговора изменился, и место, где мы остановились, потерялось. "
    "Начнём заново:"
)
DEFAULT_WAITING: Final = "Минутку, уточняю…"
DEFAULT_CALL_FAILED: Final = "Не получилось связаться с системой. Попробуйте позже."
DEFAULT_FAILED: Final = (
    "Извините, что-то пошло не так. Попробуйте ещё раз чуть позже или напишите «меню»."
)
DEFAULT_STOPPED: Final = "Извините, не получилось довести дело до конца. Попробуйте позже."
DEFAULT_HANDOFF_UNHEARD: Final = (
    "Извините, сейчас здесь некому ответить: передать ваше сообщение администратору не "
    "получилось. Чтобы вернуться к боту, напишите «меню»."
)
DEFAULT_NOTHING_TO_CHOOSE: Final = "Извините, сейчас выбрать не из чего."
DEFAULT_RETRY: Final = "Не удалось понять ответ. Попробуйте ещё раз."
DEFAULT_YES: Final = "Да"
DEFAULT_NO: Final = "Нет"
DEFAULT_UNSUBSCRIBED: Final = (
    "Вы отписались от рекламных рассылок. На вопросы и записи мы по-прежнему ответим."
)
# An imported customer's invitation by SMS and e-mail (``svyaz invite send``): templates with
# {{ name }} (may be empty), {{ links }} (one line per messenger: «MAX: https://…»), the
# channels' own links ({{ vk }}, {{ max }}, {{ web }}) and the ``vars:`` of ``_bot.yaml``. A
# service message, not advertising: no offers here (those need the ads consent).
DEFAULT_INVITE_SMS: Final = (
    "Здравствуйте{% if name %}, {{ name }}{% endif %}! Пишите нам в мессенджере по личной "
    "ссылке:\n{{ links }}"
)
DEFAULT_INVITE_SUBJECT: Final = "Теперь нам можно написать в мессенджере"
DEFAULT_INVITE_EMAIL: Final = (
    "Здравствуйте{% if name %}, {{ name }}{% endif %}!\n\n"
    "Теперь нам можно написать в мессенджере. Откройте вашу личную ссылку — переписка "
    "сразу будет связана с вашей карточкой клиента:\n\n{{ links }}\n\n"
    "Ссылка личная, не пересылайте её. Если вы не наш клиент, просто удалите это письмо."
)
UNSUBSCRIBE_BUTTON: Final = "Отписаться"  # every advertising broadcast carries it (not a setting)
DEFAULT_POLICY_LINK: Final = "Политика обработки данных"  # the consent question's link label

# ----------------------------------------------------------------- why an answer is asked again

NOT_UNDERSTOOD: Final = "Не удалось понять ответ."
PHOTO_NEEDED: Final = "Пришлите, пожалуйста, фотографию (картинкой, не текстом)."
FILE_NEEDED: Final = "Пришлите, пожалуйста, файл или фотографию."
TEXT_NEEDED: Final = "Напишите, пожалуйста, ответ текстом."
TEXT_TOO_LONG: Final = "Слишком длинный ответ: не больше {limit} символов, пожалуйста."
NUMBER_NEEDED: Final = "Нужно число, например: 3 или 1 200."
NUMBER_BETWEEN: Final = "Нужно число от {low} до {high}."
NUMBER_AT_LEAST: Final = "Нужно число не меньше {low}."
NUMBER_AT_MOST: Final = "Нужно число не больше {high}."
CHOOSE_OPTION: Final = "Выберите вариант кнопкой или напишите его номер: {listed}."
YES_OR_NO: Final = "Ответьте, пожалуйста, «да» или «нет»."
PHONE_NEEDED: Final = "Не похоже на номер телефона. Напишите, например: +7 999 123-45-67."
EMAIL_NEEDED: Final = "Не похоже на адрес почты. Напишите, например: name@example.ru."
DATE_HELP: Final = "Не удалось понять дату. Напишите, например: «завтра», «25.12» или «в пятницу»."
TIME_HELP: Final = "Не удалось понять время. Напишите, например: «15:30» или «в 3 часа дня»."
DATETIME_HELP: Final = (
    "Не удалось понять дату и время. Напишите, например: «завтра в 15:30» или «25.12 в 10:00»."
)
NO_SUCH_DAY: Final = "В {month} нет {day}-го числа. Проверьте дату."
NO_SUCH_TIME: Final = (
    "Такого времени нет: часы от 0 до 23, минуты от 0 до 59. Например: «15:30»."
)
CLOSED_DAY: Final = "В этот день мы не работаем. Ближайший рабочий день — {day}."
CLOSED_TIME: Final = "В это время мы не работаем. Часы работы: {hours}."
TIME_NEEDED_TOO: Final = "Укажите ещё и время, например: «завтра в 15:30»."

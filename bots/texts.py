"""The fixed texts the runtime's side says: to customers (link offers and confirmations, the
phone-match code, the apology after a failed turn) and to the business owner (notes).

One home, so a review of what the bot says or a translation finds every runtime text here.
The texts an owner may change live in the flows (``flows.schema.Texts``, set in
``_bot.yaml``); the channels' own (the web chat's error messages, the MAX phone button) in
``connectors.texts``. Plain constants: no logic, no imports of ours.
"""

from __future__ import annotations

from typing import Final, Literal

# ----------------------------------------------------------------- customer: a failed turn

SORRY: Final = "Что-то пошло не так, попробуйте ещё раз."

# ----------------------------------------------------------------- customer: linking channels

LINK_YES_LABEL: Final = "Объединить"
LINK_NO_LABEL: Final = "Не объединять"
LINK_EXPIRED: Final = "Ссылка для продолжения устарела или уже использована. Начнём заново."
LINK_CONFIRM: Final = (
    "Это ссылка или код для продолжения переписки {where}. Если нажать «Объединить», этот "
    "чат и та переписка станут одним разговором: бот продолжит его здесь, а то, что вы "
    "напишете дальше, будет видно и там. Прежние сообщения другой стороне показаны не будут. "
    "Если ссылку или код вам прислал кто-то другой — нажмите «Не объединять»."
)
# Where the link came from, in LINK_CONFIRM's {where}: the channel's ``came_from``
# (``connectors.channel``), or this for a channel the registry does not know.
LINK_FROM_ELSEWHERE: Final = "из другого канала"
# A critical notice whose reminder never told its text (the process died between the two):
# after NOTICE_TEXT_WAIT (bots.ladder) its SMS or e-mail carries this instead of nothing.
NOTICE_FALLBACK: Final = "Важное напоминание от нас: пожалуйста, свяжитесь с нами."
LINK_JOINED: Final = "Готово: переписки объединены."
LINK_KEPT_APART: Final = "Хорошо, не объединяем. Ссылка и код больше не действуют."
LINK_CONFIRM_EXPIRED: Final = "Объединять нечего: ссылка устарела. Попросите новую в том чате."
LINK_ALREADY: Final = "Этот чат уже связан с той перепиской."
LINK_NO_OTHER_CHANNEL: Final = "Сейчас продолжить разговор можно только здесь."
LINK_OFFER: Final = (
    "Чтобы продолжить разговор в другом канале, откройте ссылку или напишите там код {code}. "
    "Код и ссылка действуют 15 минут; там вас спросят, объединить ли переписку."
)
# An imported customer's invitation (``bots.invites``): joined; spent or of a customer who
# already has a messenger; opened from an account that already writes here.
INVITE_JOINED: Final = (
    "Здравствуйте! Этот чат подключён к вашей карточке клиента — напишите, чем можем помочь."
)
INVITE_USED: Final = (
    "Эта ссылка-приглашение уже использована или больше не действует. Просто напишите нам здесь."
)
INVITE_NOT_HERE: Final = (
    "Вы уже переписываетесь с нами здесь, поэтому ссылка-приглашение этот чат не объединяет. "
    "Продолжаем разговор."
)
# (The button of a link offer is the channel's ``continue_label``: ``connectors.channel``.)
PHONE_MATCH_THERE: Final = (
    "Этот номер телефона только что указали в другом канале. Если это вы и хотите "
    "объединить переписку, напишите здесь код {code}. Если это не вы — просто не отвечайте."
)

# The global command «продолжить в …» (``bots.events.continue_command``): the pattern (its
# second group names the place: a channel's aliases, ``connectors.channel``, or one of
# CONTINUE_ANYWHERE for any other channel).
CONTINUE_PATTERN: Final = r"^\s*продолжить\s+(в|во|на)\s+(.+?)\s*[.!]?\s*$"
CONTINUE_ANYWHERE: Final = ("другом мессенджере", "другом канале")

# ----------------------------------------------------------------- history labels

HISTORY_CONTACT: Final = "[контакт]"  # a shared contact, as the history shows it

# ----------------------------------------------------------------- owner: notes

OwnerNoteKind = Literal["handoff", "undeliverable", "missed", "incident", "resolved"]
OWNER_NOTE_TITLES: Final[dict[OwnerNoteKind, str]] = {
    "handoff": "Клиент просит оператора",
    "undeliverable": "Напоминание не доставлено ни в один канал",
    "missed": "Напоминание пропущено (бот был выключен)",
    "incident": "Неполадка",
    "resolved": "Снова работает",
}
# Bot-wide troubles (``bots.incidents``), by kind; ``{detail}`` is what the part reported.
INCIDENT_TEXTS: Final[dict[str, str]] = {
    "channel": "{title}: канал не работает ({detail}). Проверьте токен в настройках.",
    "sms:balance": "SMS не отправляются: на счёте SMS-сервиса закончились деньги.",
    "sms:budget": "SMS не отправляются: исчерпан месячный бюджет (SVYAZ_SMS_MONTHLY_BUDGET).",
    "redis:memory": "База почти заполнена: {detail}. Увеличьте SVYAZ_REDIS_MAXMEMORY или "
                    "сократите хранение истории.",
    "reminders:unreached": "Напоминания не дошли до клиентов ни по одному каналу. Кому — "
                           "в сообщениях владельцу и в истории этих клиентов.",
}
OWNER_NOTE_CUSTOMER: Final = "Клиент: {customer}"
HANDOFF_DETAIL: Final = "Канал: {channel}. {reason}"
OWNER_NOTE_ANSWER: Final = ("Ответить клиенту: ответьте на это сообщение или напишите здесь "
                            "«{number} ваш текст». Вернуть боту: «/бот {number}».")
OWNER_NOTE_NAME: Final = "Имя: {name}"
OWNER_NOTE_LAST: Final = "Последние сообщения:"
OWNER_NOTE_SAID: Final[dict[str, str]] = {"in": "— клиент: {text}", "out": "— бот: {text}"}

# ----------------------------------------------------------------- the desk, to a customer

DESK_UNCLAIMED: Final = ("Извините, никто из сотрудников пока не ответил. Бот снова с вами — "
                         "напишите «меню», чтобы продолжить.")
# Honest waiting (``bots.desk.waiting``): closed now, or nobody took the conversation in time.
DESK_WAIT_CLOSED: Final = "Сейчас мы не работаем. Сотрудник ответит, когда мы откроемся: {when}."
DESK_WAIT_CLOSED_LONG: Final = "Сейчас мы не работаем, и ближайший рабочий день пока неизвестен."
DESK_WAIT_BUSY_TODAY: Final = "Сотрудники пока заняты. Мы ответим сегодня до {until}."
DESK_WAIT_BUSY: Final = "Сотрудники пока заняты. Мы ответим в течение {within}."
DESK_WAIT_BACK: Final = ("Если не хотите ждать, нажмите «Вернуться к боту» или напишите "
                         "«меню».")
DESK_BACK_LABEL: Final = "Вернуться к боту"

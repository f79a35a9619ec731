"""Messages of ``svyaz invite send``: sending imported customers their invitations by SMS or
e-mail (``bots.invite_send``), and of ``svyaz invite links``: new links in place of the old
ones (``bots.invite_links``); ``flows.catalogue`` merges them."""

from __future__ import annotations

from collections.abc import Mapping

INVITE: Mapping[str, Mapping[str, str]] = {
    "cli.invite": {
        "ru": "разослать клиентам из импорта их личные ссылки-приглашения по SMS или e-mail "
              "(из CSV, который записал svyaz import --invite) или сделать им новые ссылки "
              "вместо старых; без --yes только показывает, кому что уйдёт",
        "en": "send imported customers their personal invitation links by SMS or e-mail (the "
              "CSV svyaz import --invite wrote), or make them new links in place of the old "
              "ones; without --yes only shows who gets what"},
    "cli.invite.action": {
        "ru": "send — разослать ссылки из CSV; links — новые ссылки (старые перестанут "
              "работать) тем, кто ещё не пишет в мессенджере, записать в тот же CSV",
        "en": "send: send the CSV's links; links: new links (the old ones stop working) for "
              "those not yet in a messenger, written over the same CSV"},
    "cli.invite.again": {
        "ru": "send: отправить и тем, кому приглашение этим способом уже уходило, если ссылки "
              "в CSV новые (после svyaz invite links); те же ссылки дважды не уходят",
        "en": "send: also to those sent an invitation this way before, if the CSV's links are "
              "new (after svyaz invite links); the same links never go twice"},
    "invite.no_by": {"ru": "svyaz invite send: укажите --by sms или --by email",
                     "en": "svyaz invite send: say --by sms or --by email"},
    "invite.links.none": {"ru": "в {file} нет ни одного клиента (нужна колонка customer)",
                          "en": "{file} names no customer (it needs the column customer)"},
    "invite.links.days": {"ru": "--days: ссылки должны жить хотя бы 1 день",
                          "en": "--days: links must live at least 1 day"},
    "invite.links.row": {"ru": "{who}: новые ссылки ({channels})",
                         "en": "{who}: new links ({channels})"},
    "invite.links.skipped": {"ru": "{who}: новых ссылок не будет — {reason}",
                             "en": "{who}: no new links — {reason}"},
    "invite.links.dry": {
        "ru": "проверка: новые ссылки получат {count}, их старые ссылки перестанут работать. "
              "Ничего не записано; чтобы сделать, добавьте --yes",
        "en": "dry run: {count} would get new links, and their old links would stop working. "
              "Nothing was written; add --yes to make them"},
    "invite.links.done": {
        "ru": "новые ссылки: {count} клиентов ({channels}), записаны в {file}; старые ссылки "
              "этих клиентов больше не действуют. Разослать: svyaz invite send {file} --by sms "
              "--again",
        "en": "new links: {count} customer(s) ({channels}), written to {file}; their old links "
              "no longer work. To send them: svyaz invite send {file} --by sms --again"},
    "invite.same_links": {
        "ru": "эти ссылки ({channel}) уже отправлялись; новые: svyaz invite links",
        "en": "these links ({channel}) were sent before; new ones: svyaz invite links"},
    "cli.invite.file": {"ru": "CSV с приглашениями (его записал svyaz import --invite)",
                        "en": "the CSV of invitations (svyaz import --invite wrote it)"},
    "cli.invite.by": {"ru": "send: чем отправить, sms или email",
                      "en": "send: how to send, sms or email"},
    "cli.invite.only": {
        "ru": "только ссылки этих каналов, через запятую (например max,vk): SMS короче и "
              "дешевле",
        "en": "only these channels' links, comma-separated (e.g. max,vk): a shorter, cheaper "
              "SMS"},
    "cli.invite.yes": {"ru": "действительно отправить (send) или сделать ссылки (links)",
                       "en": "really send them (send) or make the links (links)"},
    "invite.empty": {"ru": "в {file} нет ни одной ссылки (нужны колонки customer, channel, link)",
                     "en": "{file} has no links (it needs the columns customer, channel, link)"},
    "invite.bad_text": {"ru": "_bot.yaml, texts.{key}: ошибка в тексте: {error}",
                        "en": "_bot.yaml, texts.{key}: the text is wrong: {error}"},
    "texts.invite_syntax": {"ru": "texts.{key}: ошибка в шаблоне приглашения: {why}",
                            "en": "texts.{key}: the invitation's template is wrong: {why}"},
    "texts.invite_unknown": {
        "ru": "texts.{key}: в тексте приглашения нет переменной '{name}'{hint}; есть: {names}",
        "en": "texts.{key}: an invitation's text has no variable '{name}'{hint}; there are: "
              "{names}"},
    "invite.no_sender.sms": {
        "ru": "SMS не настроены: нужен SVYAZ_SMS_PROVIDER (smsru или smsc) с ключом",
        "en": "SMS is not set up: SVYAZ_SMS_PROVIDER (smsru or smsc) and its key are needed"},
    "invite.no_sender.email": {
        "ru": "e-mail не настроен: нужны SVYAZ_SMTP_URL и SVYAZ_MAIL_FROM",
        "en": "e-mail is not set up: SVYAZ_SMTP_URL and SVYAZ_MAIL_FROM are needed"},
    "invite.no_customer": {"ru": "такого клиента нет (удалён?)",
                           "en": "no such customer (erased?)"},
    "invite.no_sms": {"ru": "нет телефона", "en": "no phone"},
    "invite.no_email": {"ru": "нет e-mail", "en": "no e-mail"},
    "invite.no_consent": {
        "ru": "нет действующего согласия на обработку персональных данных",
        "en": "no live consent to personal data processing"},
    "invite.already": {
        "ru": "приглашение ({channel}) уже отправлялось, второго не будет (новые ссылки: "
              "svyaz invite links, затем send --again)",
        "en": "an invitation ({channel}) was sent before; never a second (new links: svyaz "
              "invite links, then send --again)"},
    "invite.maybe": {
        "ru": "приглашение ({channel}) могло уйти: прошлая отправка не дождалась ответа; "
              "второго не будет",
        "en": "an invitation ({channel}) may have left: the last send heard no answer; never "
              "a second"},
    "invite.in_messenger": {"ru": "клиент уже пишет нам в мессенджере",
                            "en": "the customer already writes in a messenger"},
    "invite.spent": {"ru": "ссылки уже использованы или истекли",
                     "en": "the links are used or expired"},
    "invite.letter": {"ru": "{who} → {to}{cost}", "en": "{who} → {to}{cost}"},
    "invite.cost": {"ru": ": частей SMS: {parts}", "en": ": {parts} SMS part(s)"},
    "invite.skipped": {"ru": "{who}: не отправляем — {reason}",
                       "en": "{who}: not sent — {reason}"},
    "invite.sample": {"ru": "текст первому из них:", "en": "the text for the first of them:"},
    "invite.dry.sms": {
        "ru": "проверка: SMS {count}, частей всего {parts} (в одном сообщении {per}); лимиты: "
              "{daily} SMS в день на клиента, в месяц {budget}. Ничего не отправлено; чтобы "
              "отправить, добавьте --yes",
        "en": "dry run: {count} SMS, {parts} parts in all ({per} per message); limits: {daily} "
              "SMS a day per customer, {budget} a month. Nothing was sent; add --yes to send"},
    "invite.budget.none": {"ru": "без лимита", "en": "no limit"},
    "invite.budget.parts": {"ru": "{parts} частей", "en": "{parts} parts"},
    "invite.dry.email": {
        "ru": "проверка: писем {count}. Ничего не отправлено; чтобы отправить, добавьте --yes",
        "en": "dry run: {count} e-mail(s). Nothing was sent; add --yes to send"},
    "invite.night": {
        "ru": "сейчас тихие часы (21:00–09:00 по времени бизнеса): SMS не отправляем, "
              "запустите снова после {time}",
        "en": "it is the quiet night (21:00–09:00 business time): no SMS now; run it again "
              "after {time}"},
    "invite.done": {"ru": "итог: {outcomes}", "en": "done: {outcomes}"},
    "invite.outcome.sent": {"ru": "отправлено", "en": "sent"},
    "invite.outcome.already": {"ru": "уже отправлялось", "en": "sent before"},
    "invite.outcome.unknown": {"ru": "ответа не дождались (повторно не шлём)",
                               "en": "no answer came (never sent again)"},
    "invite.outcome.limit_daily": {"ru": "дневной лимит SMS клиента",
                                   "en": "the customer's daily SMS limit"},
    "invite.outcome.limit_monthly": {"ru": "месячный бюджет SMS исчерпан",
                                     "en": "the monthly SMS budget is spent"},
    "invite.outcome.balance": {"ru": "на счёте SMS нет денег",
                               "en": "the SMS account balance is empty"},
    "invite.outcome.not_tried": {"ru": "не пробовали (остановились)",
                                 "en": "not tried (stopped)"},
    "invite.outcome.unavailable": {"ru": "сервис недоступен, попробуйте позже",
                                   "en": "the service is unavailable; try later"},
}

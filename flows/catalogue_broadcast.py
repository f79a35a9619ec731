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
    "broadcast.segment_unknown": {
        "ru": "сегмента '{segment}' нет в _segments.yaml{hint}; сегменты: {segments}",
        "en": "no segment '{segment}' in _segments.yaml{hint}; segments: {segments}"},
    "cli.broadcast": {
        "ru": "рассылки: create ФАЙЛ (создать из broadcasts/*.yaml), dry-run ФАЙЛ (сколько "
              "получат, по каналам), start|pause|cancel|status ID; отправляет работающий бот",
        "en": "broadcasts: create FILE (from broadcasts/*.yaml), dry-run FILE (how many would "
              "get it, per channel), start|pause|cancel|status ID; the running bot sends"},
    "cli.broadcast.target": {"ru": "файл рассылки (create, dry-run) или её ID",
                             "en": "a broadcast file (create, dry-run) or its ID"},
    "cli.broadcast.id": {"ru": "ID новой рассылки (create; по умолчанию — придумать)",
                         "en": "the new broadcast's ID (create; default: generated)"},
    "broadcast.created": {"ru": "рассылка {id} создана; запуск: svyaz broadcast start {id}",
                          "en": "broadcast {id} created; start it: svyaz broadcast start {id}"},
    "broadcast.started": {
        "ru": "рассылка {id} запущена: в очереди {queued}; отправляет работающий бот "
              "(svyaz run)",
        "en": "broadcast {id} started: {queued} queued; the running bot (svyaz run) sends it"},
    "broadcast.status_set": {"ru": "рассылка {id}: {status}", "en": "broadcast {id}: {status}"},
    "broadcast.status": {"ru": "рассылка {id}: {status}", "en": "broadcast {id}: {status}"},
    "cli.import": {
        "ru": "импорт клиентов из CSV (name, phone, email, consent_personal_data, consent_ads, "
              "source, tags); без --yes только показывает, что будет создано и какие строки "
              "отклонены",
        "en": "import customers from CSV (name, phone, email, consent_personal_data, "
              "consent_ads, source, tags); without --yes only shows what would be created "
              "and which rows are refused"},
    "cli.import.yes": {"ru": "действительно создать клиентов", "en": "really create them"},
    "cli.import.invite": {
        "ru": "с --yes: записать в этот CSV личные ссылки-приглашения каждого нового клиента "
              "(customer, name, channel, link) во ВКонтакте, MAX и веб-чат — разошлите их "
              "по SMS или e-mail: svyaz invite send; первое открытие ссылки привязывает "
              "мессенджер к клиенту",
        "en": "with --yes: write each new customer's personal invitation links (customer, "
              "name, channel, link) to VK, MAX and the web chat to this CSV, to send by SMS or "
              "e-mail with svyaz invite send; a link's first opening joins the messenger to "
              "the customer"},
    "cli.import.days": {"ru": "сколько дней действуют приглашения (по умолчанию 30)",
                        "en": "how many days the invitations live (default 30)"},
    "import.invited": {
        "ru": "приглашений: {count} ({channels}), записаны в {file}; разослать: svyaz invite "
              "send {file} --by sms (или --by email)",
        "en": "{count} invitation(s) ({channels}) written to {file}; to send them: svyaz "
              "invite send {file} --by sms (or --by email)"},
    "import.no_invite_channel": {
        "ru": "приглашать некуда: не включён ни один мессенджер со ссылкой (для MAX нужен "
              "SVYAZ_MAX_BOT_USERNAME)",
        "en": "nowhere to invite to: no messenger with a link is on (MAX needs "
              "SVYAZ_MAX_BOT_USERNAME)"},
    "import.row": {"ru": "строка {line}: будет клиент {who}; метки: {tags}",
                   "en": "line {line}: customer {who}; tags: {tags}"},
    "import.refused": {"ru": "строка {line}: отклонена — {reason}",
                       "en": "line {line}: refused — {reason}"},
    "import.no_columns": {"ru": "в заголовке нет колонок phone и email",
                          "en": "the header has neither a phone nor an email column"},
    "import.no_contact": {"ru": "нет ни телефона, ни e-mail",
                          "en": "neither a phone nor an e-mail"},
    "import.bad_phone": {"ru": "телефон «{value}» не похож на номер",
                         "en": "phone «{value}» does not look like a number"},
    "import.bad_email": {"ru": "e-mail «{value}» не похож на адрес",
                         "en": "e-mail «{value}» does not look like an address"},
    "import.bad_date": {"ru": "дата «{value}» не читается: пишите 2026-05-31 или 31.05.2026",
                        "en": "date «{value}» cannot be read: write 2026-05-31 or 31.05.2026"},
    "import.no_consent": {
        "ru": "нет даты согласия на обработку персональных данных: без него телефон и e-mail "
              "хранить нельзя (152-ФЗ)",
        "en": "no date of the consent to personal data processing: without it a phone and an "
              "e-mail may not be kept (152-FZ)"},
    "import.no_source": {"ru": "не указан source: где клиент дал согласие",
                         "en": "no source: where the customer gave the consent"},
    "import.bad_tag": {"ru": "метка «{tag}» не годится: строчные буквы, цифры, '_' или '-'",
                       "en": "tag «{tag}» will not do: lower-case letters, digits, '_' or '-'"},
    "import.duplicate": {"ru": "{value} уже есть в строке {line}",
                         "en": "{value} is already in line {line}"},
    "import.known_phone": {"ru": "телефон {phone} уже у клиента в базе",
                           "en": "phone {phone} already belongs to a customer"},
    "import.dry": {
        "ru": "проверка: создать {created}, отклонить {refused}; чтобы создать, добавьте --yes",
        "en": "dry run: {created} to create, {refused} refused; add --yes to create them"},
    "import.done": {"ru": "создано клиентов: {created}, отклонено строк: {refused}",
                    "en": "{created} customer(s) created, {refused} row(s) refused"},
    "broadcast.ads_flow": {
        "ru": "рекламная рассылка уходит текстом: к нему всегда добавляется кнопка "
              "«Отписаться»; сценарий запустит кнопка (buttons: [{{text: …, button: …}}])",
        "en": "an advertising broadcast is a text, which always gets the «Отписаться» button; "
              "a button can start the flow (buttons: [{{text: …, button: …}}])"},
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
    "pattern.step_ref": {
        "ru": "'{found}' — не сценарий и не шаг: пишите сценарий.шаг, например booking.booked, "
              "или только сценарий, например booking",
        "en": "'{found}' names no flow or step: write flow.step, e.g. booking.booked, or a "
              "flow alone, e.g. booking"},
    "step_ref.flow_unknown": {
        "ru": "'{ref}': сценария '{flow}' нет{hint}; сценарии: {flows}",
        "en": "'{ref}': there is no flow '{flow}'{hint}; flows: {flows}"},
    "step_ref.step_unknown": {
        "ru": "'{ref}': в сценарии '{flow}' нет шага '{step}'{hint}; шаги: {steps}",
        "en": "'{ref}': the flow '{flow}' has no step '{step}'{hint}; steps: {steps}"},
    "segment.step_unknown": {"ru": "сегмент '{segment}': {why}",
                             "en": "segment '{segment}': {why}"},
    "broadcast.converts_at_unknown": {
        "ru": "converts_at (шаг, на котором получатель считается «записался после рассылки»): "
              "{why}",
        "en": "converts_at (the step that counts a recipient as converted): {why}"},
    "broadcast.converted_both": {
        "ru": "у рассылки одно из двух: converts_at (шаг, например booking.booked) или "
              "converted (метка); лучше шаг",
        "en": "a broadcast has one of converts_at (a step, e.g. booking.booked) or converted "
              "(a tag); prefer the step"},
}

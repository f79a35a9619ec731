"""Why ``svyaz run``, ``svyaz reminders`` and the other commands refuse to start: a setting that
is missing, malformed or contradicts another (``flows.catalogue`` merges them). Setting names
and values stay as written; the sentence around them is the owner's language."""

from __future__ import annotations

from collections.abc import Mapping

SETTINGS: Mapping[str, Mapping[str, str]] = {
    "settings.refused": {"ru": "svyaz: не могу запуститься, исправьте настройки:",
                         "en": "svyaz: cannot start:"},
    "settings.flows_refused": {"ru": "svyaz: в сценариях в папке {folder} есть ошибки:",
                               "en": "svyaz: flows in {folder} have errors:"},
    "settings.failed": {"ru": "svyaz: не могу запуститься: {detail}", "en": "svyaz: {detail}"},
    "settings.port_taken": {
        "ru": "svyaz: не могу запуститься: порт {port} на {host} уже занят (уже работает другой "
              "svyaz или другая программа). Остановите её или задайте другой SVYAZ_PORT.",
        "en": "svyaz: cannot start: port {port} on {host} is already in use (another svyaz or "
              "another program runs there). Stop it or set another SVYAZ_PORT."},
    "storage.folder_in_use": {
        "ru": "папкой данных {folder} уже пользуется другой процесс svyaz (или его Redis, который "
              "ещё останавливается): остановите тот процесс или дайте каждому боту свою "
              "SVYAZ_DATA_DIR; процессам одного бота нужен сервер Redis и SVYAZ_REDIS_URL",
        "en": "the data folder {folder} is in use by another svyaz process (or by its Redis, "
              "still stopping): stop that process, or give each bot its own SVYAZ_DATA_DIR; "
              "processes that share one bot need a Redis server and SVYAZ_REDIS_URL"},
    "storage.unavailable": {
        "ru": "Redis не отвечает: проверьте, что сервер из SVYAZ_REDIS_URL запущен и адрес "
              "верный (без SVYAZ_REDIS_URL — что бот запускается с этой папкой данных)",
        "en": "Redis does not answer: check that the server of SVYAZ_REDIS_URL runs and the "
              "address is right (without SVYAZ_REDIS_URL: that the bot runs with this data "
              "folder)"},
    # ------------------------------------------------------------------ general
    "settings.timezone": {
        "ru": "SVYAZ_TIMEZONE {value} — неизвестный часовой пояс (пример: Europe/Moscow).",
        "en": "SVYAZ_TIMEZONE {value} is not a known time zone (for example Europe/Moscow)."},
    "settings.no_flows": {
        "ru": "SVYAZ_FLOWS: папки {folder} нет (укажите папку со сценариями).",
        "en": "SVYAZ_FLOWS folder {folder} does not exist."},
    "settings.url": {
        "ru": "{name} должен быть адресом http(s), например https://example.ru, а задан {value}.",
        "en": "{name} must be an http(s) address, got {value}."},
    "settings.redis_url": {
        "ru": "SVYAZ_REDIS_URL должен начинаться с одного из {allowed}, а начинается с {scheme}.",
        "en": "SVYAZ_REDIS_URL must start with one of {allowed}, not {scheme}."},
    "settings.secret_short": {
        "ru": "SVYAZ_SECRET_KEY должен быть не короче {least} символов (например, вывод "
              "команды: openssl rand -hex 32).",
        "en": "SVYAZ_SECRET_KEY must be at least {least} characters long (for example the "
              "output of: openssl rand -hex 32)."},
    "settings.key_file_short": {
        "ru": "В файле {path} ключ из {length} символов, меньше {least}. Удалите файл — при "
              "следующем запуске появится новый ключ (открытые веб-чаты начнут новый сеанс).",
        "en": "{path} holds a key of {length} characters, fewer than {least}. Delete the file "
              "and a new key is made at the next start (open web chats then start a new "
              "session)."},
    "settings.network": {
        "ru": "{name}: {value} — не IP-адрес и не сеть (пишите так: 10.0.0.1, 10.0.0.0/8, ::1).",
        "en": "{name}: {value} is not an IP address or network (10.0.0.1, 10.0.0.0/8, ::1)."},
    "settings.origin": {
        "ru": "SVYAZ_WEBCHAT_ORIGINS: {value} должен выглядеть как https://example.ru.",
        "en": "SVYAZ_WEBCHAT_ORIGINS entry {value} must look like https://example.ru."},
    "settings.color": {
        "ru": "SVYAZ_WEBCHAT_COLOR должен быть цветом вида #2f6fde (# и шесть шестнадцатеричных "
              "цифр), а задан {value}; читаемый цвет текста на нём виджет подберёт сам.",
        "en": "SVYAZ_WEBCHAT_COLOR must be a colour like #2f6fde (# and six hex digits), got "
              "{value}; the widget picks a readable text colour on it itself."},
    "settings.avatar": {
        "ru": "SVYAZ_WEBCHAT_AVATAR должен быть адресом картинки (https://example.ru/logo.png "
              "или /путь на этом сервере), а задан {value}.",
        "en": "SVYAZ_WEBCHAT_AVATAR must be an image address (https://example.ru/logo.png, or "
              "/path on this server), got {value}."},
    # ------------------------------------------------------------------ a value's form
    "settings.choice": {
        "ru": "{name}: можно только {allowed}, а задано {value}.",
        "en": "{name}: must be one of {allowed}, got {value}."},
    "settings.integer": {
        "ru": "{name}: нужно целое число, а задано {value}.",
        "en": "{name}: must be a whole number, got {value}."},
    "settings.number": {
        "ru": "{name}: нужно число, а задано {value}.",
        "en": "{name}: must be a number, got {value}."},
    "settings.at_least": {
        "ru": "{name}: нужно не меньше {limit}, а задано {value}.",
        "en": "{name}: must be at least {limit}, got {value}."},
    "settings.above": {
        "ru": "{name}: нужно больше {limit}, а задано {value}.",
        "en": "{name}: must be greater than {limit}, got {value}."},
    "settings.at_most": {
        "ru": "{name}: нужно не больше {limit}, а задано {value}.",
        "en": "{name}: must be at most {limit}, got {value}."},
    "settings.too_long": {
        "ru": "{name}: не длиннее {limit} символов, а задано {value}.",
        "en": "{name}: at most {limit} characters, got {value}."},
    "settings.form": {
        "ru": "{name}: значение {value} не подходит (должно подходить под {pattern}).",
        "en": "{name}: {value} does not match {pattern}."},
    "settings.invalid": {
        "ru": "{name}: значение {value} не подходит ({detail}).",
        "en": "{name}: {detail} (got {value})."},
    # ------------------------------------------------------------------ channels
    "settings.max_secret_needed": {
        "ru": "SVYAZ_MAX_MODE=webhook требует SVYAZ_MAX_WEBHOOK_SECRET, иначе бот примет "
              "вебхуки не только от MAX.",
        "en": "SVYAZ_MAX_MODE=webhook needs SVYAZ_MAX_WEBHOOK_SECRET, so webhooks from anyone "
              "but MAX are refused."},
    "settings.max_secret_alone": {
        "ru": "SVYAZ_MAX_WEBHOOK_SECRET задан, а SVYAZ_MAX_TOKEN — нет: MAX выключен.",
        "en": "SVYAZ_MAX_WEBHOOK_SECRET is set but SVYAZ_MAX_TOKEN is not; MAX is off."},
    "settings.max_owner_alone": {
        "ru": "SVYAZ_OWNER_MAX_CHAT задан, а MAX выключен (задайте SVYAZ_MAX_TOKEN).",
        "en": "SVYAZ_OWNER_MAX_CHAT is set but MAX is off (set SVYAZ_MAX_TOKEN)."},
    "settings.vk_half": {
        "ru": "{have} задан, а {missing} — нет; VK нужны оба (или ни одного).",
        "en": "{have} is set but {missing} is not; VK needs both (or neither)."},
    "settings.vk_confirmation_needed": {
        "ru": "SVYAZ_VK_MODE=callback требует SVYAZ_VK_CONFIRMATION — строку, которую VK "
              "показывает в настройках Callback API сообщества.",
        "en": "SVYAZ_VK_MODE=callback needs SVYAZ_VK_CONFIRMATION, the string VK shows in the "
              "community's Callback API settings."},
    "settings.vk_secret_needed": {
        "ru": "SVYAZ_VK_MODE=callback требует SVYAZ_VK_SECRET (секретный ключ Callback API), "
              "чтобы поддельные запросы отклонялись.",
        "en": "SVYAZ_VK_MODE=callback needs SVYAZ_VK_SECRET (the Callback API secret key), so "
              "forged callbacks are refused."},
    "settings.vk_owner_alone": {
        "ru": "SVYAZ_OWNER_VK_PEER задан, а VK выключен (задайте SVYAZ_VK_TOKEN и "
              "SVYAZ_VK_GROUP_ID).",
        "en": "SVYAZ_OWNER_VK_PEER is set but VK is off (set SVYAZ_VK_TOKEN and "
              "SVYAZ_VK_GROUP_ID)."},
    "settings.smsru_needs_id": {
        "ru": "SVYAZ_SMS_PROVIDER=smsru требует SVYAZ_SMS_API_ID (api_id со страницы аккаунта "
              "sms.ru).",
        "en": "SVYAZ_SMS_PROVIDER=smsru needs SVYAZ_SMS_API_ID (the api_id from the sms.ru "
              "account page)."},
    "settings.smsc_needs_login": {
        "ru": "SVYAZ_SMS_PROVIDER=smsc требует SVYAZ_SMSC_LOGIN и SVYAZ_SMSC_PASSWORD.",
        "en": "SVYAZ_SMS_PROVIDER=smsc needs SVYAZ_SMSC_LOGIN and SVYAZ_SMSC_PASSWORD."},
    "settings.sms_no_provider": {
        "ru": "{name} задан, а SVYAZ_SMS_PROVIDER (smsru или smsc) — нет: SMS отправляться "
              "не будут.",
        "en": "{name} is set but SVYAZ_SMS_PROVIDER is not (smsru or smsc); no SMS would be "
              "sent."},
    "settings.mail_no_smtp": {
        "ru": "SVYAZ_MAIL_FROM задан, а SVYAZ_SMTP_URL — нет: письма отправляться не будут.",
        "en": "SVYAZ_MAIL_FROM is set but SVYAZ_SMTP_URL is not; no e-mail would be sent."},
    "settings.smtp_no_mail": {
        "ru": "SVYAZ_SMTP_URL задан, значит, нужен и SVYAZ_MAIL_FROM — адрес, от которого "
              "придёт письмо, например Салон «Ромашка» <noreply@romashka.ru>.",
        "en": "SVYAZ_SMTP_URL is set, so SVYAZ_MAIL_FROM is needed too: the address the mail "
              "is from, e.g. Салон «Ромашка» <noreply@romashka.ru>."},
    "email.smtp_url": {
        "ru": "SVYAZ_SMTP_URL: {what}; пишите так: smtp://user:password@host:587, "
              "smtps://user:password@host:465 или smtp://host:25",
        "en": "SVYAZ_SMTP_URL: {what}; expected smtp://user:password@host:587, "
              "smtps://user:password@host:465 or smtp://host:25"},
    "email.url.not_url": {"ru": "это не адрес", "en": "this is not a URL"},
    "email.url.scheme": {"ru": "адрес должен начинаться с smtp:// или smtps://",
                         "en": "the URL must start with smtp:// or smtps://"},
    "email.url.tail": {
        "ru": "после host:port ничего не пишется (если в пароле есть / ? или #, пишите их как "
              "%2F %3F %23)",
        "en": "nothing may follow host:port (if the password holds / ? or #, write them as "
              "%2F %3F %23)"},
    "email.url.host": {"ru": "не указано имя почтового сервера",
                       "en": "the server's host name is missing"},
    "email.url.port": {"ru": "порт должен быть числом от 1 до 65535",
                       "en": "the port must be a number from 1 to 65535"},
    "email.url.user": {"ru": "имя пользователя перед ':' пустое",
                       "en": "the user name before ':' is empty"},
    "email.url.no_password": {
        "ru": "пользователю нужен пароль: user:password@host (':' в имени пользователя "
              "пишется как %3A)",
        "en": "a user needs a password: user:password@host (':' in the user name is written "
              "%3A)"},
    "email.url.password": {"ru": "пароль после ':' пустой",
                           "en": "the password after ':' is empty"},
    "email.mail_from": {"ru": "SVYAZ_MAIL_FROM: {what}", "en": "SVYAZ_MAIL_FROM: {what}"},
    "email.address.form": {"ru": "адрес почты выглядит так: name@example.ru",
                           "en": "an e-mail address looks like name@example.ru"},
    "email.address.local": {
        "ru": "до @ можно писать только латинские буквы, цифры, точки (не две подряд и не по "
              "краям) и !#$%&'*+/=?^_`{{|}}~- , не больше {most} символов",
        "en": "the part before @ may hold only Latin letters, digits, dots (not two in a row, "
              "not at either end) and !#$%&'*+/=?^_`{{|}}~- , at most {most} characters"},
    "email.address.domain": {"ru": "после @ должен быть домен, например example.ru",
                             "en": "the part after @ must be a domain such as example.ru"},
    "email.address.one_line": {"ru": "адрес пишется в одну строку",
                               "en": "an address must be on one line"},
    "email.address.one": {
        "ru": "нужен один адрес: name@example.ru или Имя <name@example.ru>",
        "en": "expected one address: name@example.ru or Name <name@example.ru>"},
    "settings.email": {
        "ru": "Настройки почты не подходят: {detail}.",
        "en": "{detail}."},
}

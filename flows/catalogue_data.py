"""The owner's data commands: ``svyaz export``, ``forget``, ``backup``, ``restore`` and
``operator`` — their ``--help`` and what they print (``flows.catalogue`` merges it)."""

from __future__ import annotations

from collections.abc import Mapping

DATA: Mapping[str, Mapping[str, str]] = {
    # ------------------------------------------------------------------ --help
    "cli.export": {"ru": "выгрузить переписку (JSONL или CSV)",
                   "en": "export conversation history (JSONL or CSV)"},
    "cli.export.about": {
        "ru": "Записать переписку всех клиентов или одного в JSONL или CSV (например, по "
              "запросу клиента по 152-ФЗ). Работает, не останавливая бота.",
        "en": "Write the history of every customer, or of one, as JSONL or CSV. Works while "
              "the bot runs."},
    "cli.export.customer": {
        "ru": "номер клиента или его аккаунт (vk:123, sms:+79161234567); по умолчанию все. "
              "Номер, который начинается с '-', пишется так: --customer=-abc",
        "en": "customer id or account (vk:123, sms:+79161234567); default: all. An id that "
              "starts with '-' is written --customer=-abc"},
    "cli.export.format": {"ru": "по умолчанию — по расширению файла --out, иначе jsonl",
                          "en": "default: from --out's suffix, else jsonl"},
    "cli.export.out": {"ru": "файл для записи (по умолчанию стандартный вывод)",
                       "en": "output file (default: standard output)"},
    "cli.forget": {"ru": "удалить клиента и всё, что о нём известно (152-ФЗ)",
                   "en": "erase a customer and everything about them (152-FZ)"},
    "cli.forget.about": {
        "ru": "Стереть состояние диалога клиента, переписку, профиль, согласия, аккаунты, "
              "ссылки, неотправленные сообщения и напоминания и переписать файлы встроенного "
              "Redis, чтобы ни один файл в папке данных их не хранил. Работает, не "
              "останавливая бота. Отменить нельзя.",
        "en": "Erase a customer's state, history, profile, consents, accounts, links, pending "
              "messages and reminders, and rewrite the embedded Redis's files so that no file "
              "in the data folder keeps them. Works while the bot runs. Cannot be undone."},
    "cli.forget.customer": {
        "ru": "номер клиента или его аккаунт (vk:123). Номер, который начинается с '-', "
              "пишется после '--': svyaz forget --yes -- -abc",
        "en": "customer id or account (vk:123). An id that starts with '-' goes after '--': "
              "svyaz forget --yes -- -abc"},
    "cli.forget.yes": {"ru": "действительно удалить (без него команда только покажет, кого)",
                       "en": "really erase (without it the command only shows whom)"},
    "cli.backup": {"ru": "записать копию базы из папки данных в FILE (бот может работать)",
                   "en": "copy the data folder's Redis into FILE (while the bot runs)"},
    "cli.backup.about": {
        "ru": "Записать согласованный снимок (RDB) встроенного Redis в FILE, не останавливая "
              "бота. Храните его вне папки данных, на другом диске или компьютере.",
        "en": "Write a consistent snapshot (RDB) of the embedded Redis to FILE, while the bot "
              "runs. Keep it outside the data folder, on another disk or machine."},
    "cli.backup.file": {"ru": "куда записать копию", "en": "where to write the snapshot"},
    "cli.restore": {"ru": "вернуть резервную копию в папку данных (бот остановлен)",
                    "en": "bring a backup back into the data folder (the bot stopped)"},
    "cli.restore.about": {
        "ru": "Заменить данные в папке данных копией FILE, сделанной svyaz backup. Сначала "
              "остановите бота.",
        "en": "Replace the data folder's Redis data with the snapshot FILE made by svyaz "
              "backup. Stop the bot first."},
    "cli.restore.file": {"ru": "копия, сделанная svyaz backup",
                         "en": "a snapshot made by svyaz backup"},
    "cli.restore.replace": {"ru": "заменить данные, которые уже есть в папке (тогда обязательно)",
                            "en": "replace the data the folder already holds (required then)"},
    # ------------------------------------------------------------------ what they print
    "data.bad_settings": {"ru": "ошибка в настройках: {error}", "en": "bad settings: {error}"},
    "data.no_customer": {
        "ru": "нет клиента {name}: напишите его номер или аккаунт (vk:123, max:456, "
              "sms:+79161234567)",
        "en": "no customer {name}: give their id or an account (vk:123, max:456, "
              "sms:+79161234567)"},
    "data.exported": {"ru": "выгружено сообщений: {count}", "en": "exported {count} messages"},
    "data.profile": {"ru": "профиль клиента: имя {name}; телефон {phone}; e-mail {email}",
                     "en": "the customer's profile: name {name}; phone {phone}; e-mail {email}"},
    "data.files_kept": {
        "ru": "сохранённых файлов: {count} (их номера — во вложениях сообщений):",
        "en": "{count} files kept (their ids are in the messages' attachments):"},
    "data.would_erase": {
        "ru": "будет удалён клиент {customer} (аккаунты: {accounts}); чтобы удалить, "
              "выполните команду ещё раз с --yes",
        "en": "would erase customer {customer} (accounts: {accounts}); run again with --yes "
              "to erase"},
    "data.no_accounts": {"ru": "нет", "en": "none"},
    "data.erased": {
        "ru": "клиент {customer} удалён: аккаунтов {accounts}, напоминаний {reminders}",
        "en": "erased customer {customer}: {accounts} accounts, {reminders} reminders"},
    "data.rewritten": {
        "ru": "файлы Redis в {folder} переписаны: ни в одном из них этого клиента больше нет",
        "en": "the Redis files in {folder} were rewritten: none of them holds this customer "
              "any more"},
    "data.external": {
        "ru": "внимание: у сервера Redis из SVYAZ_REDIS_URL свои файлы: пока его "
              "администратор не перепишет их (BGREWRITEAOF для журнала AOF, BGSAVE для снимка "
              "RDB; на каждой реплике тоже) и не удалит старые копии, в них остаются удалённые "
              "данные",
        "en": "note: the Redis server at SVYAZ_REDIS_URL keeps its own files: until its "
              "operator rewrites them (BGREWRITEAOF for the append-only file, BGSAVE for the "
              "RDB snapshot; on every replica too) and deletes older backups of it, those "
              "still hold the erased data"},
    "data.old_backups": {
        "ru": "в резервных копиях, сделанных раньше (svyaz backup), эти данные остаются, пока "
              "вы их не удалите",
        "en": "backups made before now (svyaz backup) still hold them until you delete those"},
    "data.redis_server": {
        "ru": "задан SVYAZ_REDIS_URL: копии этого сервера Redis делайте и возвращайте его "
              "собственными средствами (снимок RDB, резервные копии у вашего провайдера)",
        "en": "SVYAZ_REDIS_URL is set: back up and restore that Redis server with its own "
              "tools (its RDB snapshot, your provider's backups)"},
    "data.backup_inside": {
        "ru": "{file} лежит внутри папки данных {folder}: храните копии в другом месте (на "
              "другом диске или компьютере), чтобы с потерей папки не пропали и они, а "
              "удаление клиента переписывало папку полностью",
        "en": "{file} is inside the data folder {folder}: keep backups elsewhere (another "
              "disk or machine), so that losing the folder does not lose them and an "
              "erasure's rewrite of the folder is complete"},
    "data.backup_written": {"ru": "копия записана в {file}: ключей {keys}, байт {size}",
                            "en": "backup written to {file}: {keys} keys, {size} bytes"},
    "data.bot_running": {"ru": "бот работает с этой папкой данных: сначала остановите его",
                         "en": "the bot is running on this data folder: stop it first"},
    "data.holds_data": {
        "ru": "в {folder} уже есть данные, восстановление их заменит: выполните команду ещё "
              "раз с --replace (если они могут понадобиться, сначала сделайте svyaz backup)",
        "en": "{folder} already holds data; restoring replaces it: run again with --replace "
              "(svyaz backup it first if you may need it)"},
    "data.restored": {"ru": "в {folder} восстановлено ключей: {keys}; запустите бота: svyaz run",
                      "en": "restored {keys} keys into {folder}; start the bot with: svyaz run"},
    "data.unreadable": {"ru": "не удаётся прочитать {file}: {error}",
                        "en": "cannot read {file}: {error}"},
    "data.not_backup": {"ru": "{file} — не копия, сделанная svyaz backup",
                        "en": "{file} is not a backup made by svyaz backup"},
    # ------------------------------------------------------------------ svyaz operator
    "cli.operator": {"ru": "люди, которые отвечают клиентам в операторской /desk",
                     "en": "manage the people who answer customers at /desk"},
    "cli.operator.about": {
        "ru": "Завести, показать, отключить, включить и удалить операторов операторской.",
        "en": "Add, list, disable, enable and remove desk operators."},
    "cli.operator.add": {
        "ru": "завести оператора (пароль спросит дважды; если ввод не с клавиатуры — прочитает "
              "его одной строкой со стандартного ввода)",
        "en": "add an operator (asks for the password twice; reads it from standard input "
              "when that is no terminal)"},
    "cli.operator.name": {"ru": "имя для входа, его же видят клиенты (буквы, цифры, . _ -)",
                          "en": "login and the name customers see (letters, digits, . _ -)"},
    "cli.operator.owner": {
        "ru": "владелец: ещё видит журнал доступа, выгружает данные и заводит операторов",
        "en": "an owner: also reads the audit log, exports and manages operators"},
    "cli.operator.list": {"ru": "показать операторов", "en": "list operators"},
    "cli.operator.disable": {"ru": "отключить оператора (все его входы сразу закрываются)",
                             "en": "disable an operator (ends their sessions)"},
    "cli.operator.enable": {"ru": "включить отключённого оператора",
                            "en": "enable a disabled operator"},
    "cli.operator.remove": {"ru": "удалить оператора", "en": "remove an operator"},
    "operator.password": {"ru": "Пароль: ", "en": "Password: "},
    "operator.again": {"ru": "Ещё раз: ", "en": "Again: "},
    "operator.differ": {"ru": "пароли не совпали", "en": "the two passwords differ"},
    "operator.short": {"ru": "пароль должен быть не короче {least} символов",
                       "en": "the password must be at least {least} characters long"},
    "operator.bad_name": {
        "ru": "{name} не годится как имя оператора: буквы, цифры, '.', '_', '-', не длиннее 40",
        "en": "invalid operator name {name}: letters, digits, '.', '_', '-'; at most 40"},
    "operator.exists": {"ru": "оператор {name} уже есть", "en": "{name} exists"},
    "operator.no_operator": {"ru": "нет оператора {name}", "en": "no operator {name}"},
    "operator.owner": {"ru": "владелец", "en": "owner"},
    "operator.operator": {"ru": "оператор", "en": "operator"},
    "operator.active": {"ru": "работает", "en": "active"},
    "operator.disabled": {"ru": "отключён", "en": "disabled"},
    "operator.added": {"ru": "заведён {role} {name}", "en": "added {role} {name}"},
    "operator.done_disable": {"ru": "отключён {name}", "en": "disabled {name}"},
    "operator.done_enable": {"ru": "включён {name}", "en": "enabled {name}"},
    "operator.done_remove": {"ru": "удалён {name}", "en": "removed {name}"},
}

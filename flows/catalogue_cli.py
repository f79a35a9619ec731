"""The owner's command line: ``--help`` of svyaz's commands (``flows.catalogue`` merges it)."""

from __future__ import annotations

from collections.abc import Mapping

CLI: Mapping[str, Mapping[str, str]] = {
    "cli.description": {
        "ru": "svyaz: один разговор с клиентом во ВКонтакте, MAX и веб-чате.",
        "en": "svyaz: one customer dialogue across VK, MAX and a web chat."},
    "cli.usage": {"ru": "использование: ", "en": "usage: "},
    "cli.commands": {"ru": "команды", "en": "commands"},
    "cli.positionals": {"ru": "аргументы", "en": "positional arguments"},
    "cli.options": {"ru": "параметры", "en": "options"},
    "cli.help": {"ru": "показать эту справку и выйти", "en": "show this help message and exit"},
    "cli.folder": {
        "ru": "папка со сценариями *.yaml (по умолчанию $SVYAZ_FLOWS или flows_examples)",
        "en": "folder of flow *.yaml files (default: $SVYAZ_FLOWS or flows_examples)"},
    "cli.check": {
        "ru": "проверить сценарии и тесты разговоров в папке (код выхода 1 при ошибках)",
        "en": "validate a folder of flows and its conversation tests (exit 1 on errors)"},
    "cli.chat": {"ru": "поговорить со сценариями в терминале, как клиент",
                 "en": "talk to the flows in the terminal as a customer"},
    "cli.chat.flow": {"ru": "начать с этого сценария, а не с кнопки «Начать»",
                      "en": "start this flow instead of the platform's start"},
    "cli.chat.now": {"ru": "запустить часы с этого времени, например '2026-12-23 10:00'",
                     "en": "start the fake clock here, e.g. '2026-12-23 10:00'"},
    "cli.chat.http_fail": {"ru": "отвечать на HTTP-запросы сценариев ошибкой",
                           "en": "answer HTTP calls with a failure"},
    "cli.test": {"ru": "запустить тесты разговоров (*.test.yaml) из папки",
                 "en": "run the conversation tests (*.test.yaml) of a folder"},
    "cli.graph": {"ru": "схема сценария (Mermaid; SVG/PNG с Graphviz)",
                  "en": "a picture of a flow (Mermaid; SVG/PNG with Graphviz)"},
    "cli.graph.flow": {"ru": "имя сценария", "en": "name of the flow"},
    "cli.graph.out": {
        "ru": "записать в файл; для .svg/.png нужна программа 'dot' из Graphviz, .dot даёт DOT",
        "en": "write here; .svg/.png need Graphviz 'dot', .dot gives DOT"},
    "cli.schema": {"ru": "записать JSON Schema файлов сценариев (для редакторов)",
                   "en": "write the JSON Schema of flow files (for editors)"},
    "cli.schema.out": {"ru": "файл для записи (по умолчанию стандартный вывод)",
                       "en": "file to write (default: standard output)"},
    "cli.schema.settings": {"ru": "схему _bot.yaml вместо сценариев",
                            "en": "the schema of _bot.yaml instead"},
    "cli.reminders": {"ru": "показать запланированные напоминания: когда, о чём, кому "
                            "(читает папку данных SVYAZ_DATA_DIR или SVYAZ_REDIS_URL и "
                            "говорит, какую)",
                      "en": "list scheduled reminders: when, what about, to whom (reads "
                            "the data folder SVYAZ_DATA_DIR or SVYAZ_REDIS_URL, and says which)"},
    "cli.run": {"ru": "запустить бота (без настроек — демо веб-чата на 127.0.0.1:8080)",
                "en": "start the bot (with no settings: the web chat demo on 127.0.0.1:8080)"},
    "cli.run.about": {
        "ru": "Запустить svyaz: HTTP-сервер, все настроенные каналы, напоминания. Настройки "
              "берутся из переменных окружения SVYAZ_* или файла .env.",
        "en": "Start svyaz: HTTP server, every configured channel, reminders. Settings come "
              "from SVYAZ_* environment variables or .env."},
    "cli.run.host": {"ru": "адрес, на котором слушать (SVYAZ_HOST)",
                     "en": "listen address (SVYAZ_HOST)"},
    "cli.run.port": {"ru": "порт (SVYAZ_PORT)", "en": "listen port (SVYAZ_PORT)"},
    "cli.run.flows": {"ru": "папка сценариев (SVYAZ_FLOWS)", "en": "flows folder (SVYAZ_FLOWS)"},
    "cli.run.verbose": {"ru": "подробный журнал (debug)", "en": "debug logging"},
    "cli.sms_url": {"ru": "адрес, который дать SMS-сервису для отчётов о доставке",
                    "en": "the address to give the SMS provider for delivery reports"},
    "desk.unreadable": {"ru": "файл не читается: {error}", "en": "cannot read the file: {error}"},
    "desk.title_twice": {
        "ru": "название {title} встречается дважды; дайте каждой заготовке своё",
        "en": "the title {title} is used twice; give each canned reply its own"},
    "desk.duration": {
        "ru": "'{found}' — не промежуток времени; пишите, например: {examples}",
        "en": "'{found}' is not a duration; write e.g. {examples}"},
    "desk.waiting_order": {
        "ru": "answer_within ({within}) должно быть короче release_after ({after}): клиенту "
              "говорят, когда ждать ответа, до того как разговор вернётся боту",
        "en": "answer_within ({within}) must be shorter than release_after ({after}): the "
              "customer hears when to expect an answer before the bot takes over again"},
}

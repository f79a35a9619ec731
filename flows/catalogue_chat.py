"""What ``svyaz chat``, ``svyaz graph`` and ``svyaz reminders`` say themselves: prompts,
notes about what the bot did, help, lists and errors (``flows.catalogue`` merges them). The
flow's own texts are never here: the bot's words are printed as the owner wrote them.
"""

from __future__ import annotations

from collections.abc import Mapping

_HELP_RU = """команды:
  1, 2, …                 нажать кнопку с этим номером
  /time +1d | +2h | +30m | +1w | 2026-12-24 09:00   перевести часы: сработают напоминания
  /time                   показать время и ждущие напоминания
  /start [ПАРАМЕТР]       «Начать» в мессенджере (можно с параметром ссылки)
  /flow ИМЯ               бизнес запускает сценарий ИМЯ (как через /api/v1)
  /phone НОМЕР            поделиться телефоном через кнопку контакта
  /state                  состояние диалога, как оно хранится (JSON)
  /quit                   выйти (или Ctrl-D)
всё остальное уходит боту как текст клиента."""

_HELP_EN = """commands:
  1, 2, …                 press the numbered button
  /time +1d | +2h | +30m | +1w | 2026-12-24 09:00   move the clock, fire due reminders
  /time                   show the clock and the pending reminders
  /start [PAYLOAD]        the platform's start (deep-link payload optional)
  /flow NAME              the business starts flow NAME (like /api/v1)
  /phone NUMBER           share a phone through the contact button
  /state                  the stored dialogue state (JSON)
  /quit                   leave (also Ctrl-D)
anything else is sent as the customer's text."""

CHAT: Mapping[str, Mapping[str, str]] = {
    # ------------------------------------------------------------------ svyaz chat
    "chat.banner": {"ru": "svyaz chat: {folder}, {now} {timezone}; /help — справка",
                    "en": "svyaz chat: {folder}, {now} {timezone}; /help for help"},
    "chat.prompt": {"ru": "клиент> ", "en": "you> "},
    "chat.help": {"ru": _HELP_RU, "en": _HELP_EN},
    "chat.bad_now": {"ru": "--now: нужно время вида 2026-12-23 10:00, а не {value}",
                     "en": "--now: expected a time like 2026-12-23 10:00, got {value}"},
    "chat.bot": {"ru": "бот: {text}", "en": "bot: {text}"},
    "chat.image": {"ru": "[картинка] {url}", "en": "[image] {url}"},
    "chat.link": {"ru": "[ссылка] {text} -> {url}", "en": "[link] {text} -> {url}"},
    "chat.share_phone": {"ru": "[телефон] чтобы поделиться, напишите /phone +79991234567",
                         "en": "[share phone] type /phone +79991234567"},
    "chat.time": {"ru": "[время] {now} {weekday} ({timezone})",
                  "en": "[time] {now} {weekday} ({timezone})"},
    "chat.pending": {"ru": "  ждёт {what}", "en": "  pending {what}"},
    "chat.clock_use": {"ru": "  (пишите /time +1d, +2h, +30m, +1w или /time 2026-12-24 09:00)",
                       "en": "  (use /time +1d, +2h, +30m, +1w or /time 2026-12-24 09:00)"},
    "chat.clock_back": {
        "ru": "  (часы идут назад; сработавшие напоминания второй раз не сработают)",
        "en": "  (the clock goes back; reminders already fired stay fired)"},
    "chat.fires": {"ru": "[напоминание] '{key}' срабатывает: сценарий {flow}",
                   "en": "[reminder] '{key}' fires: flow {flow}"},
    "chat.pretend": {"ru": "    (ответ понарошку: HTTP {status}, без тела)",
                     "en": "    (pretend answer: HTTP {status}, no body)"},
    "chat.gave_up": {
        "ru": "  (остановлено: больше {count} HTTP-запросов на одно сообщение; клиент получит "
              "извинение и меню)",
        "en": "  (stopped: more than {count} HTTP calls for one message; the customer gets an "
              "apology and the menu)"},
    "chat.no_flow": {"ru": "  (нет сценария '{flow}'; сценарии: {flows})",
                     "en": "  (no flow '{flow}'; flows: {flows})"},
    # what the bot did (effects), one line each
    "chat.remind": {"ru": "[напомнить] '{key}' в {at} -> сценарий {flow}{extra}",
                    "en": "[remind] '{key}' at {at} -> flow {flow}{extra}"},
    "chat.reminder_passed": {
        "ru": "[напоминание не поставлено] '{key}': его время {at} уже прошло",
        "en": "[reminder not set] '{key}': its time {at} has already passed"},
    "chat.cancel": {"ru": "[отменить напоминание] '{key}'", "en": "[cancel reminder] '{key}'"},
    "chat.http": {"ru": "[http-запрос] {method} {url}{body}", "en": "[http] {method} {url}{body}"},
    "chat.handoff": {"ru": "[оператор] разговор передан человеку{reason}",
                     "en": "[handoff] to a human operator{reason}"},
    "chat.offer": {"ru": "[предложить канал] {target}", "en": "[offer channel] {target}"},
    "chat.any_channel": {"ru": "любой другой канал", "en": "any other channel"},
    "chat.profile": {"ru": "[профиль] {field} = {value}", "en": "[profile] {field} = {value}"},
    "chat.consent": {"ru": "[согласие] {answer} (версия текста {version})",
                     "en": "[consent] {answer} (text version {version})"},
    "chat.consent_ads": {"ru": "[согласие на рекламу] {answer} (версия текста {version})",
                         "en": "[consent to advertising] {answer} (text version {version})"},
    "chat.tags": {"ru": "[метки] {tags}", "en": "[tag] {tags}"},
    "chat.granted": {"ru": "дано", "en": "granted"},
    "chat.refused": {"ru": "не дано", "en": "refused"},
    # a critical reminder's urgency: [critical; escalate: messenger → sms until answered ...]
    "chat.critical": {"ru": "важное", "en": "critical"},
    "chat.escalate": {"ru": "лестница: {rungs} {until}, шаг {within}",
                      "en": "escalate: {rungs} {until} within {within}"},
    "chat.until_answered": {"ru": "пока клиент не ответит", "en": "until answered"},
    "chat.until_delivered": {"ru": "пока не доставлено", "en": "until delivered"},
    "chat.urgent": {"ru": "срочное: и ночью", "en": "urgent: also at night"},
    # the pretend climb of a critical notice (bots.chatladder)
    "ladder.delivered": {"ru": "[уведомление] '{key}': доставлено в этот чат — лестница окончена",
                         "en": "[notice] '{key}': delivered to this chat — the ladder ends"},
    "ladder.fired": {"ru": "[уведомление] '{key}': если клиент не ответит за {span}: {rest}",
                     "en": "[notice] '{key}': if the customer does not answer within {span}: "
                           "{rest}"},
    "ladder.then": {"ru": ", затем ", "en": ", then "},
    "ladder.nowhere": {"ru": "больше некуда", "en": "nowhere else"},
    "ladder.hours": {"ru": "{count} ч", "en": "{count} h"},
    "ladder.minutes": {"ru": "{count} мин", "en": "{count} min"},
    "ladder.answered": {"ru": "[уведомление] '{key}': клиент ответил — лестница остановлена",
                        "en": "[notice] '{key}': the customer answered — the ladder stops"},
    "ladder.climbs": {
        "ru": "[уведомление] '{key}': ответа нет — {at} уведомление: {rung} "
              "(в чате не отправляется)",
        "en": "[notice] '{key}': no answer — {at} notice: {rung} (not sent from the chat)"},
    "ladder.done": {"ru": "[уведомление] '{key}': ответа нет, лестница пройдена до конца",
                    "en": "[notice] '{key}': no answer, the ladder is climbed to the end"},
    # ------------------------------------------------------------------ svyaz reminders
    "reminders.source_redis": {"ru": "данные: сервер Redis из SVYAZ_REDIS_URL (бот '{bot}')",
                               "en": "data: the Redis server at SVYAZ_REDIS_URL (bot '{bot}')"},
    "reminders.source_folder": {"ru": "данные: {folder} (бот '{bot}')",
                                "en": "data: {folder} (bot '{bot}')"},
    "reminders.no_folder": {
        "ru": "нет папки данных {folder}: бот здесь не запускался; выполните команду там, где "
              "работает 'svyaz run', или задайте SVYAZ_DATA_DIR (или SVYAZ_REDIS_URL), как у него",
        "en": "no data folder {folder}: the bot has not run here; run this command where "
              "'svyaz run' runs, or set SVYAZ_DATA_DIR (or SVYAZ_REDIS_URL) as it has them"},
    "reminders.paused": {"ru": "на паузе", "en": "paused"},
    "reminders.about": {"ru": "визит {at}", "en": "about {at}"},
    "reminders.no_name": {"ru": "(без имени)", "en": "(no name)"},
    "reminders.who": {"ru": "{name}, {channel}, клиент {customer}",
                      "en": "{name}, {channel}, customer {customer}"},
    "reminders.none": {"ru": "напоминаний нет", "en": "no reminders scheduled"},
    # ------------------------------------------------------------------ svyaz chat / graph
    "cli.no_flow": {"ru": "нет сценария '{flow}'; сценарии: {flows}",
                    "en": "no flow '{flow}'; flows: {flows}"},
    "cli.wrote": {"ru": "записан файл {path}", "en": "wrote {path}"},
    "graph.no_dot": {
        "ru": "программа 'dot' из Graphviz не установлена: напишите --out ФАЙЛ.mmd (Mermaid) "
              "или установите graphviz",
        "en": "Graphviz 'dot' is not installed; use --out FILE.mmd (Mermaid) or install "
              "graphviz"},
    "graph.dot_failed": {"ru": "программа 'dot' из Graphviz не нарисовала схему: {error}",
                         "en": "Graphviz 'dot' failed: {error}"},
}

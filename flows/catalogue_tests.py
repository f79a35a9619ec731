"""Messages about conversation test files, ``*.test.yaml`` (``flows.catalogue`` merges them)."""

from __future__ import annotations

from collections.abc import Mapping

TESTS: Mapping[str, Mapping[str, str]] = {
    "test.pass": {"ru": "ПРОЙДЕН", "en": "PASS"},
    "test.fail": {"ru": "НЕ ПРОЙДЕН", "en": "FAIL"},
    "test.none": {"ru": "{folder}: нет тестов разговоров (*.test.yaml)",
                  "en": "{folder}: no conversation tests (*.test.yaml)"},
    "test.summary": {"ru": "{folder}: пройдено: {passed}, не пройдено: {failed}",
                     "en": "{folder}: {passed} passed, {failed} failed"},
    "convtest.turn": {"ru": "ход {number} ({event}):", "en": "turn {number} ({event}):"},
    "convtest.says": {"ru": "клиент пишет \"{text}\"", "en": "customer says \"{text}\""},
    "convtest.presses": {"ru": "клиент нажимает '{button}'",
                         "en": "customer presses '{button}'"},
    "convtest.differ": {"ru": "не совпадают {what}:", "en": "{what} differ:"},
    "convtest.replies": {"ru": "ответы бота", "en": "bot replies"},
    "convtest.buttons": {"ru": "кнопки последнего ответа", "en": "buttons of the last reply"},
    "convtest.effects": {"ru": "действия", "en": "effects"},
    "convtest.expected": {"ru": "ожидалось", "en": "expected"},
    "convtest.got": {"ru": "получено", "en": "got"},
    "convtest.nothing": {"ru": "ничего", "en": "nothing"},
    "convtest.phone": {"ru": "запрос телефона: ожидалось {wanted}, получено {got}",
                       "en": "phone request: expected {wanted}, got {got}"},
    "convtest.variable": {"ru": "переменная '{name}': ожидалось {wanted}, получено {got}",
                          "en": "variable '{name}': expected {wanted}, got {got}"},
    "convtest.position": {"ru": "место в разговоре: ожидалось {wanted}, получено {got}",
                          "en": "position: expected {wanted}, got {got}"},
    "convtest.no_buttons": {
        "ru": "тест нажимает кнопку '{button}', но в последнем ответе бота нет кнопок; "
              "напишите 'say: …' или проверьте шаги перед этим",
        "en": "the test presses '{button}', but the bot's last reply has no buttons; write "
              "'say: …' or check the turns before it"},
    "convtest.no_such_button": {
        "ru": "тест нажимает кнопку '{button}', которой бот не предлагал{hint}; кнопки: "
              "{buttons}",
        "en": "the test presses '{button}', a button the bot did not offer{hint}; buttons: "
              "{buttons}"},
    "convtest.no_flow": {
        "ru": "сценария '{flow}' нет{hint}; сценарии: {flows}",
        "en": "the flow '{flow}' does not exist{hint}; flows are: {flows}"},
    "convtest.no_step": {
        "ru": "в сценарии '{flow}' нет шага '{step}'{hint}; шаги: {steps}",
        "en": "the flow '{flow}' has no step '{step}'{hint}; steps are: {steps}"},
    "convtest.at_form": {
        "ru": "'at: {found}' — пишите 'at: сценарий/шаг' или 'at: end'",
        "en": "'at: {found}' — write 'at: flow/step' or 'at: end'"},
    "convtest.bad_now": {
        "ru": "'now: {found}' — не дата и время; пишите, например, '2026-01-12 10:00'",
        "en": "'now: {found}' is not a date and time; write e.g. '2026-01-12 10:00'"},
}

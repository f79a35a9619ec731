"""Messages about conversation test files, ``*.test.yaml`` (``flows.catalogue`` merges them)."""

from __future__ import annotations

from collections.abc import Mapping

TESTS: Mapping[str, Mapping[str, str]] = {
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

"""Messages about steps, flows, reminders and durations (``flows.catalogue`` merges them)."""

from __future__ import annotations

from collections.abc import Mapping

STEPS: Mapping[str, Mapping[str, str]] = {
    # ------------------------------------------------------------------ steps
    "trigger.one_kind": {
        "ru": "триггер {number}: напишите ровно один из ключей command, text, button, "
              "payload, timer (написано: {found})",
        "en": "trigger {number}: write exactly one of command, text, button, payload, "
              "timer (found: {found})"},
    "step.one_stop": {
        "ru": "шаг '{step}': в шаге может быть только одно из ask, http, call (написано "
              "{found}); разделите его на два шага",
        "en": "step '{step}': a step can have only one of ask, http, call (found {found}); "
              "split it into two steps"},
    "step.next_and_goto": {
        "ru": "шаг '{step}': напишите либо 'next', либо 'goto', не оба",
        "en": "step '{step}': write either 'next' or 'goto', not both"},
    "step.end_and_next": {
        "ru": "шаг '{step}': 'end: true' вместе с 'next' — шаг не может и закончить "
              "сценарий, и идти дальше; уберите одно из них",
        "en": "step '{step}': 'end: true' with 'next' — the step cannot both end the flow "
              "and go on; remove one"},
    "step.needs_ask": {
        "ru": "{where}'{key}' имеет смысл только с 'ask' (вопросом клиенту); добавьте "
              "'ask: …' или уберите '{key}'",
        "en": "{where}'{key}' only makes sense with 'ask' (the question to ask); add "
              "'ask: …' or remove '{key}'"},
    "step.min_max": {"ru": "{where}'min'/'max' работают только с 'input: number'",
                     "en": "{where}'min'/'max' work only with 'input: number'"},
    "step.consent_input": {
        "ru": "{where}вопрос согласия — да/нет; уберите 'input: {input}'",
        "en": "{where}a consent question is yes/no; remove 'input: {input}'"},
    "step.choice_input": {
        "ru": "{where}кнопкам 'choice' нужен 'input: choice' (написано 'input: {input}'); "
              "уберите 'input' или 'choice'",
        "en": "{where}'choice' buttons need 'input: choice' (found 'input: {input}'); "
              "remove 'input' or 'choice'"},
    "step.choice_needs_buttons": {
        "ru": "{where}для 'input: choice' нужны кнопки: 'choice: […]' или 'choice_from'",
        "en": "{where}'input: choice' needs 'choice: […]' (the buttons) or 'choice_from'"},
    "step.button_twice": {"ru": "{where}кнопка '{button}' указана дважды",
                          "en": "{where}the button '{button}' is listed twice"},
    "step.unreached": {
        "ru": "до шага '{step}' разговор никогда не дойдёт: ни один шаг не ведёт к нему",
        "en": "step '{step}' is never reached: no step goes to it"},
    "step.silent_loop": {
        "ru": "шаг '{step}' в цикле без единого вопроса: клиента ни о чём не спросят; "
              "добавьте 'ask' или выход из цикла",
        "en": "step '{step}' is in a loop without any question: the customer would never "
              "be asked anything; add an 'ask' or an exit"},
    "target.missing": {
        "ru": "{where}шага '{target}' нет{hint}; шаги: {steps}",
        "en": "{where}'{target}' points to no step{hint}; steps are: {steps}"},
    "next.condition_form": {
        "ru": "{where}условие пишется {{if: …, then: шаг, else: шаг}} (написаны ключи: "
              "{found})",
        "en": "{where}a condition is written {{if: …, then: step, else: step}} (found "
              "keys: {found})"},
    "next.rule_form": {
        "ru": "{where}каждое правило — {{if: условие, then: шаг}} или {{else: шаг}}",
        "en": "{where}each rule is {{if: condition, then: step}} or {{else: step}}"},
    "next.not_an_answer": {
        "ru": "{where}'{answer}' — не один из ответов{hint}; ответы: {answers} (или 'else')",
        "en": "{where}'{answer}' is not one of the answers{hint}; answers are: {answers} "
              "(or 'else')"},
    "next.by_answer_needs_ask": {
        "ru": "{where}'next' по ответу требует вопроса в этом шаге (ask: …); чтобы "
              "ветвиться по переменным, пишите правила {{if: …, then: …}}",
        "en": "{where}'next' by answer needs a question in this step (ask: …); use "
              "{{if: …, then: …}} rules to branch on variables"},
    "template.error": {"ru": "{where}ошибка в шаблоне: {detail}",
                       "en": "{where}template error: {detail}"},
    "template.brace": {
        "ru": "скобки не сходятся: вставка пишется двумя фигурными скобками с каждой "
              "стороны, {{{{ имя }}}}",
        "en": "the braces do not match: a hole is written with two curly braces on each "
              "side, {{{{ name }}}}"},
    "template.cut": {"ru": "выражение оборвано; допишите его до конца",
                     "en": "the expression stops half-way; finish it"},
    "template.empty": {"ru": "пустая вставка {{{{ }}}}: напишите внутри имя переменной",
                       "en": "an empty hole {{{{ }}}}: put a variable's name inside"},
    "template.filter": {
        "ru": "нет фильтра '{name}'{hint}; русские фильтры: {filters}",
        "en": "no filter named '{name}'{hint}; Russian filters: {filters}"},
    "template.block": {
        "ru": "блок '{{% {block} %}}' не закрыт; добавьте '{{% end{block} %}}' в конце",
        "en": "the block '{{% {block} %}}' is not closed; add '{{% end{block} %}}' at its end"},
    "template.tag": {"ru": "неизвестный блок '{{% {tag} %}}'",
                     "en": "unknown tag '{{% {tag} %}}'"},
    "template.private": {
        "ru": "'{name}' недоступно в шаблонах (имена, начинающиеся с '_', закрыты)",
        "en": "'{name}' is not available in templates (names starting with '_' are private)"},
    "variable.unknown": {
        "ru": "{where}переменную '{name}' не сохраняет и не задаёт ни один сценарий{hint} "
              "Если её передаёт система бизнеса при запуске сценария, объявите её: добавьте "
              "'expects: [{name}]' в начало {file}",
        "en": "{where}the variable '{name}' is not saved or set by any flow{hint} If the "
              "business's system passes it when it starts the flow, declare it: add "
              "'expects: [{name}]' at the top of {file}"},
    "hint.period": {"ru": ".", "en": "."},
    "profile.no_consent": {
        "ru": "шаг '{step}': ни один сценарий не спрашивает согласия на обработку "
              "персональных данных, поэтому 'profile: {field}' никогда не сохранится; "
              "добавьте шаг с 'consent:'",
        "en": "step '{step}': no flow asks for consent to process personal data, so "
              "'profile: {field}' will never be stored; add a step with 'consent:'"},
    # ------------------------------------------------------------------ flows
    "flow.name_taken": {
        "ru": "имя сценария '{name}' уже занято файлом {other}; имена сценариев не должны "
              "повторяться",
        "en": "the flow name '{name}' is already used by {other}; flow names must be unique"},
    "flow.call_missing": {
        "ru": "шаг '{step}': сценария '{flow}' нет{hint}; сценарии: {flows}",
        "en": "step '{step}': the flow '{flow}' does not exist{hint}; flows are: {flows}"},
    "flow.reminder_missing": {
        "ru": "шаг '{step}': сценария напоминания '{flow}' нет{hint}; сценарии: {flows}",
        "en": "step '{step}': reminder flow '{flow}' does not exist{hint}; flows are: "
              "{flows}"},
    "flow.menu_missing": {
        "ru": "menu: сценария '{flow}' нет{hint}; сценарии: {flows}",
        "en": "menu: the flow '{flow}' does not exist{hint}; flows are: {flows}"},
    "channel.unknown": {
        "ru": "{where}канала '{name}' здесь нет; напишите один из: {known} или any",
        "en": "{where}no channel '{name}' here; write one of: {known}, or any"},
    "channel.send_only": {
        "ru": "{where}'{name}' только доставляет уведомления: клиент не может продолжить там "
              "разговор; напишите один из: {known} или any",
        "en": "{where}'{name}' only delivers notices: a customer cannot continue the "
              "dialogue there; write one of: {known}, or any"},
    # ------------------------------------------------------------------ reminders
    "duration.bad": {
        "ru": "'{found}' — не длительность; пишите число и единицу, например: {examples}",
        "en": "'{found}' is not a duration; write a number and a unit, e.g. {examples}"},
    "ladder.within_too_long": {
        "ru": "{where}'within: {within}' — слишком долго ждать ответа до следующего канала "
              "(больше недели); напишите, например, 'within: 2h' или 'within: 1 день'",
        "en": "{where}'within: {within}' waits too long before the next rung (more than "
              "a week); write e.g. 'within: 2h' or 'within: 1d'"},
    "remind.at_or_after": {
        "ru": "{where}напоминанию нужно либо 'at' (дата и время, можно с 'before'), либо "
              "'after' (например, 2h от текущего момента)",
        "en": "{where}a reminder needs either 'at' (date and time, with optional "
              "'before') or 'after' (e.g. 2h from now)"},
    "remind.before_needs_at": {
        "ru": "{where}'before' отсчитывается от 'at'; добавьте 'at'",
        "en": "{where}'before' counts back from 'at'; add 'at'"},
    "ladder.key_without_ladder": {
        "ru": "{where}'{key}' имеет смысл только с лестницей каналов; добавьте 'escalate: "
              "[{messenger}, sms, email]' и 'critical: true' или уберите '{key}'",
        "en": "{where}'{key}' only makes sense on a ladder; add 'escalate: [{messenger}, "
              "sms, email]' with 'critical: true', or remove '{key}'"},
    "ladder.not_critical": {
        "ru": "{where}'escalate' перебирает каналы только для важного уведомления; добавьте "
              "'critical: true' или уберите 'escalate'",
        "en": "{where}'escalate' climbs channels only for a critical notice; add "
              "'critical: true' or remove 'escalate'"},
    "ladder.within_zero": {
        "ru": "{where}'within: {within}' не оставляет времени ответить до следующего канала; "
              "напишите, например, 'within: 2h'",
        "en": "{where}'within: {within}' leaves no time to answer before the next rung; "
              "write e.g. 'within: 2h'"},
    "ladder.no_rungs": {
        "ru": "{where}в 'escalate' нужен хотя бы один канал, например [{messenger}, sms, email]",
        "en": "{where}'escalate' needs at least one rung, e.g. [{messenger}, sms, email]"},
    "ladder.rung_twice": {
        "ru": "{where}канал '{name}' указан дважды; лестница проходит каждый канал один раз",
        "en": "{where}the rung '{name}' is listed twice; a ladder climbs each channel once"},
    "ladder.unknown_rung": {
        "ru": "{where}канала '{name}' здесь нет; напишите {messenger} (мессенджеры клиента) "
              "или один из: {known}",
        "en": "{where}no channel '{name}' to climb here; write {messenger} (the customer's "
              "messengers) or one of: {known}"},
}

"""The published JSON Schema agrees with the vocabularies the loader and engine use."""

from __future__ import annotations

import json
from typing import Any, get_args

from flows import schema
from flows.inputs import INPUT_KINDS


def definition(name: str) -> dict[str, Any]:
    defs: dict[str, Any] = schema.json_schema()["$defs"]  # type: ignore[assignment]
    return dict(defs[name])


def enum_of(prop: dict[str, Any]) -> list[str]:
    for option in prop.get("anyOf", [prop]):
        if "enum" in option:
            return list(option["enum"])
    raise AssertionError(f"no enum in {prop}")


def test_schema_is_json_and_names_the_language() -> None:
    data = schema.json_schema()
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data
    assert data["title"] == "svyaz flow"
    assert data["additionalProperties"] is False
    assert set(data["properties"]) == set(schema.FLOW_KEYS)  # type: ignore[arg-type]


def test_step_keys_agree() -> None:
    step = definition("Step")
    assert step["additionalProperties"] is False
    assert set(step["properties"]) == set(schema.STEP_KEYS)
    assert {
        "say",
        "ask",
        "input",
        "choice",
        "check",
        "retry",
        "max_tries",
        "on_fail",
        "save",
        "set",
        "next",
        "goto",
        "call",
        "end",
        "remind",
        "cancel_reminder",
        "http",
        "handoff",
        "link_channel",
        "consent",
        "profile",
    } <= set(schema.STEP_KEYS)


def test_input_kinds_agree_with_the_parser() -> None:
    assert enum_of(definition("Step")["properties"]["input"]) == list(INPUT_KINDS)
    assert get_args(schema.InputKind) == INPUT_KINDS


def test_trigger_kinds_agree() -> None:
    trigger = definition("Trigger")
    assert set(trigger["properties"]) - {"step"} == set(schema.TRIGGER_KINDS)


def test_settings_schema_lists_global_commands() -> None:
    settings = schema.settings_json_schema()
    commands = settings["$defs"]["Commands"]  # type: ignore[index]
    assert set(commands["properties"]) == set(schema.COMMAND_NAMES)


def test_next_accepts_all_three_forms() -> None:
    forms = definition("Step")["properties"]["next"]["anyOf"]
    kinds = {f.get("type") for f in forms}
    assert {"string", "array", "object"} <= kinds


def test_issue16_keys_are_published() -> None:
    """``svyaz schema`` shows editors the keys of the two failure texts, working days,
    lists of times, past reminders, button synonyms and conditions, and the bot's values."""
    step = definition("Step")["properties"]
    assert {"unreadable", "days", "closed", "for_day", "when_empty"} <= set(step)
    assert enum_of(step["days"]) == ["any", "working"]
    assert "if_past" in definition("Remind")["properties"]
    assert {"also", "if"} <= set(definition("ChoiceItem")["properties"])
    settings: Any = schema.settings_json_schema()
    assert {"vars", "working"} <= set(settings["properties"])
    working = settings["$defs"]["Working"]["properties"]
    assert set(working) == {"days", "hours", "holidays"}
    assert "nothing_to_choose" in settings["$defs"]["Texts"]["properties"]

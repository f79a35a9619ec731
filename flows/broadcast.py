"""A broadcast as the owner writes it (``svyaz broadcast create``, ``POST /api/v1/broadcasts``,
the desk, or a ``broadcasts/*.yaml`` file beside the flows), and the pure rules of sending it:
the message each customer gets, and when advertising may go (quiet hours in the business's
time zone).

An advertising broadcast (``kind: ads``) goes only to customers with a live advertising
consent and always carries the «Отписаться» button; a service notice (``kind: service``) goes
to every customer of its segment. The owner must say which it is. ``converts_at:
booking.booked`` names the step whose entry, after the copy reached the recipient, counts
them as converted (``bots.broadcasts``). Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic.config import JsonDict

from flows.messages import Msg, msg
from flows.problems import Problem, did_you_mean, listing
from flows.schema import Name, StepRef, TagName
from flows.segments import step_problem
from flows.texts import UNSUBSCRIBE_BUTTON
from flows.types import UNSUBSCRIBE_BUTTON_ID, Button, Reply
from flows.validation import validate
from flows.yamlload import YamlProblem, parse

Kind = Literal["ads", "service"]
QUIET_PATTERN = r"^([01]?\d|2[0-3]):([0-5]\d)-([01]?\d|2[0-3]):([0-5]\d)$"
DEFAULT_QUIET = "21:00-09:00"
MAX_TEXT = 4000
_STRING: JsonDict = {"type": "string"}  # (the oneOf of the published JSON Schema)
_NULL: JsonDict = {"type": "null"}


def _quiet(value: str) -> str:
    if re.fullmatch(QUIET_PATTERN, value.replace(" ", "")) is None:
        raise ValueError(msg("broadcast.quiet", found=value))
    return value.replace(" ", "")


class ButtonSpec(BaseModel):
    """A link (``url``) or a button that starts a flow by its ``{button: …}`` trigger."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"oneOf": [
        {"required": ["url"], "properties": {"url": _STRING, "button": _NULL}},
        {"required": ["button"], "properties": {"button": _STRING, "url": _NULL}}]})

    text: str = Field(min_length=1, max_length=40)
    url: str | None = Field(default=None, pattern=r"^https?://[!-~]+$")  # printable ASCII
    button: Name | None = None

    @model_validator(mode="after")
    def _one(self) -> ButtonSpec:
        if (self.url is None) == (self.button is None):
            raise ValueError(msg("broadcast.button_one"))
        return self


class BroadcastSpec(BaseModel):
    """What is sent, to whom and when."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"oneOf": [
        {"required": ["text"], "properties": {"text": _STRING, "flow": _NULL}},
        {"required": ["flow"], "properties": {"flow": _STRING, "text": _NULL,
                                              "buttons": {"maxItems": 0},
                                              "kind": {"const": "service"}}}],
        # converts_at or converted, not both (``_content``)
        "not": {"required": ["converts_at", "converted"],
                "properties": {"converts_at": _STRING, "converted": _STRING}}})

    title: str = Field(min_length=1, max_length=120)
    kind: Kind = Field(description="'ads': advertising (needs consent); 'service': a notice")
    segment: Name = Field(description="a segment of _segments.yaml")
    text: str | None = Field(default=None, max_length=MAX_TEXT)
    buttons: list[ButtonSpec] = Field(default_factory=list, max_length=5)
    flow: Name | None = Field(default=None, description="a flow to start instead of a text")
    at: datetime | None = Field(default=None, description="when to start (default: now)")
    quiet: Annotated[str, AfterValidator(_quiet),
                     WithJsonSchema({"type": "string", "pattern": QUIET_PATTERN})] | None = Field(
        default=None, description="hours it must not go, business time (ads: 21:00-09:00)")
    converts_at: StepRef | None = Field(
        default=None, description="the step (flow.step) whose entry after the broadcast counts "
        "a recipient as converted, e.g. booking.booked")
    converted: TagName | None = Field(
        default=None, description="(older form) the tag that counts a recipient as converted")

    @model_validator(mode="after")
    def _content(self) -> BroadcastSpec:
        if (self.text is None) == (self.flow is None):
            raise ValueError(msg("broadcast.content"))
        if self.flow is not None and self.buttons:
            raise ValueError(msg("broadcast.flow_buttons"))
        if self.flow is not None and self.kind == "ads":  # its replies carry no «Отписаться»
            raise ValueError(msg("broadcast.ads_flow"))
        if self.converts_at is not None and self.converted is not None:
            raise ValueError(msg("broadcast.converted_both"))
        return self

    @property
    def quiet_hours(self) -> str | None:
        return self.quiet if self.quiet is not None else (
            DEFAULT_QUIET if self.kind == "ads" else None)


def reply_of(spec: BroadcastSpec) -> Reply:
    """The message of a text broadcast; advertising always ends with «Отписаться»."""
    buttons = tuple(Button(f"link{i}" if b.url else b.button or "", b.text, b.url)
                    for i, b in enumerate(spec.buttons))
    if spec.kind == "ads":
        buttons += (Button(UNSUBSCRIBE_BUTTON_ID, UNSUBSCRIBE_BUTTON),)
    return Reply(spec.text or "", buttons)


def _at(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def opens_at(quiet: str | None, now: datetime) -> datetime | None:
    """None when ``now`` (business time) is outside ``quiet`` ("21:00-09:00"); else when
    the quiet hours end."""
    if quiet is None:
        return None
    start_text, end_text = quiet.split("-")
    start, end = _at(start_text), _at(end_text)
    here = now.timetz().replace(tzinfo=None)
    overnight = start > end
    inside = (here >= start or here < end) if overnight else (start <= here < end)
    if not inside:
        return None
    day = now.date() + timedelta(days=1) if overnight and here >= start else now.date()
    return datetime.combine(day, end, tzinfo=now.tzinfo)


BROADCASTS_FOLDER = "broadcasts"  # beside the flows: one broadcast per *.yaml file


def conversion_problem(spec: BroadcastSpec, steps: Collection[str]) -> Msg | None:
    """Why ``spec.converts_at`` names no flow or step of ``steps`` (``flows.segments.
    reachable``); None when it does or is not given."""
    if spec.converts_at is None:
        return None
    why = step_problem(spec.converts_at, steps)
    return None if why is None else msg("broadcast.converts_at_unknown", why=why)


def read_file(path: Path, segments: Collection[str] | None = None,
              steps: Collection[str] | None = None,
              ) -> tuple[BroadcastSpec | None, list[Problem]]:
    """A broadcast file and its problems (``segments``: the names it may choose from;
    ``steps``: the flows and steps its ``converts_at`` may name)."""
    try:
        doc = parse(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        return None, [Problem(str(path), 1, 1, msg("file.not_utf8", reason=exc.reason))]
    except YamlProblem as exc:
        return None, [Problem(str(path), exc.line, exc.column, exc.message)]
    spec, problems = validate(BroadcastSpec, doc, str(path))
    if spec is not None and segments is not None and spec.segment not in segments:
        where = doc.value_at(("segment",))
        problems.append(Problem(str(path), where.line, where.column, msg(
            "broadcast.segment_unknown", segment=spec.segment,
            hint=did_you_mean(spec.segment, list(segments)),
            segments=listing(sorted(segments)))))
    if spec is not None and steps is not None \
            and (why := conversion_problem(spec, steps)) is not None:
        where = doc.value_at(("converts_at",))
        problems.append(Problem(str(path), where.line, where.column, why))
    return (spec if not problems else None), problems


def check_folder(folder: str | Path, segments: Collection[str] | None,
                 steps: Collection[str] | None = None) -> list[Problem]:
    """The problems of every broadcast file in ``<folder>/broadcasts`` (``svyaz check``)."""
    return [p for path in sorted((Path(folder) / BROADCASTS_FOLDER).glob("*.yaml"))
            for p in read_file(path, segments, steps)[1]]

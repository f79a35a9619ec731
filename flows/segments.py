"""Named segments of customers in the owner's words (``_segments.yaml`` in the flows folder),
and the pure rule that says whether a customer is in one and which account a message to them
takes.

A segment names any of: the channels (``channel: [max, vk]``), a consent (``consent: ads``: a
live advertising consent), tags (``tags: [vip]``: every one of them; ``without_tags``: none
of them), profile fields the customer gave (``profile: [phone]``) and the last activity
(``active_within: 90d``), and the flows or steps reached (``reached: booking.booked``: every
one of them; ``not_reached``: none of them; a flow alone: it was started), from each
customer's own record (``storage.reached``), so it stays true after the dialogue moved on.
A ``tag:`` the step sets works as well.

The customer's side comes as ``Facts`` (``storage.audience`` reads them in batches). This
module reads the file and checks it (``svyaz check``); it sends nothing and keeps no state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from flows import durations
from flows.messages import Msg, msg
from flows.model import FlowSet
from flows.problems import Problem, did_you_mean, listing
from flows.schema import ChannelTarget, Duration, Name, ProfileField, StepRef, TagName
from flows.types import ConsentPurpose
from flows.validation import validate
from flows.yamlload import Document, YamlProblem, parse

SEGMENTS_FILE = "_segments.yaml"


def _at_most_a_year(text: str) -> str:
    span = durations.parse(text)
    if span is not None and span.days > 3 * 365:
        raise ValueError(msg("segment.too_long", found=text))
    return text


Within = Annotated[Duration, AfterValidator(_at_most_a_year),
                   WithJsonSchema({"type": "string", "examples": ["90d", "30 дней"]})]


class Segment(BaseModel):
    """Who a broadcast goes to; every key given must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str | None = None
    channel: ChannelTarget | list[ChannelTarget] | None = Field(
        default=None, description="only accounts in these channels (default: any)")
    consent: ConsentPurpose | None = Field(
        default=None, description="'ads': a live advertising consent")
    tags: TagName | list[TagName] | None = Field(
        default=None, description="the customer has every one of these tags")
    without_tags: TagName | list[TagName] | None = Field(
        default=None, description="the customer has none of these tags")
    profile: list[ProfileField] | None = Field(
        default=None, description="profile fields the customer gave, e.g. [phone]")
    active_within: Within | None = Field(
        default=None, description="wrote within this time, e.g. 90d")
    reached: StepRef | list[StepRef] | None = Field(
        default=None, description="reached every one of these flows or steps, e.g. "
        "booking.booked")
    not_reached: StepRef | list[StepRef] | None = Field(
        default=None, description="reached none of these flows or steps, e.g. booking.booked")

    def channels(self) -> frozenset[str]:
        return frozenset(_many(self.channel))

    def matches(self, facts: Facts, now: float) -> bool:
        """Is the customer described by ``facts`` in this segment at ``now`` (epoch)?"""
        if self.consent == "ads" and not facts.ads:
            return False
        if self.consent == "personal_data" and not facts.personal_data:
            return False
        if not set(_many(self.tags)) <= facts.tags or facts.tags & set(_many(self.without_tags)):
            return False
        if not set(self.profile or ()) <= facts.fields:
            return False
        if not set(_many(self.reached)) <= facts.reached \
                or facts.reached & set(_many(self.not_reached)):
            return False
        if self.active_within is not None:
            span = durations.parse(self.active_within)
            if span is None or facts.last_active < now - span.total_seconds():
                return False
        return self.route(facts) is not None

    def route(self, facts: Facts) -> str | None:
        """The account a message goes to: the most recently active one in the segment's
        channels (``None``: none)."""
        allowed = self.channels()
        return next((a for a, _ in facts.accounts
                     if not allowed or a.partition(":")[0] in allowed), None)


class SegmentsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    segments: dict[Name, Segment] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Facts:
    """What a segment may ask of one customer."""

    customer: str
    accounts: tuple[tuple[str, float], ...]  # (``vk:1``, last active epoch), latest first
    tags: frozenset[str] = frozenset()
    ads: bool = False  # a live advertising consent
    personal_data: bool = False
    fields: frozenset[str] = frozenset()  # profile fields given
    reached: frozenset[str] = frozenset()  # flows (started) and ``flow.step``s entered

    @property
    def last_active(self) -> float:
        return max((at for _, at in self.accounts), default=0.0)


def tally(segments: Mapping[str, Segment], batch: Iterable[Facts], now: float,
          into: dict[str, Counter[str]]) -> None:
    """Add to ``into`` (segment -> channel -> customers) the customers of ``batch``, each
    counted once per segment, in the channel its message would take."""
    for facts in batch:
        for name, segment in segments.items():
            if segment.matches(facts, now) and (account := segment.route(facts)):
                into.setdefault(name, Counter())[account.partition(":")[0]] += 1


def json_schema() -> dict[str, object]:
    """JSON Schema of ``_segments.yaml`` (``svyaz schema --segments``)."""
    schema = SegmentsFile.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "svyaz segments"
    return schema


def tags_set(flows: FlowSet) -> frozenset[str]:
    """Every tag a step of ``flows`` sets."""
    return frozenset(t for f in flows.flows.values() for st in f.steps.values() for t in st.tags)


def reachable(flows: FlowSet) -> frozenset[str]:
    """Every flow and ``flow.step`` of ``flows``: what ``reached:`` and a broadcast's
    ``converts_at`` may name."""
    return frozenset(name for f in flows.flows.values()
                     for name in (f.name, *(f"{f.name}.{step}" for step in f.steps)))


def step_problem(ref: str, known: Collection[str]) -> Msg | None:
    """Why ``ref`` (``booking.booked``) names no flow or step of ``known`` (None: it does)."""
    if ref in known:
        return None
    flow, _, step = ref.partition(".")
    flows = sorted(k for k in known if "." not in k)
    if flow not in flows:
        return msg("step_ref.flow_unknown", ref=ref, flow=flow, hint=did_you_mean(flow, flows),
                   flows=listing(flows))
    steps = sorted(k.partition(".")[2] for k in known if k.startswith(f"{flow}."))
    return msg("step_ref.step_unknown", ref=ref, flow=flow, step=step,
               hint=did_you_mean(step, steps), steps=listing(steps))


def read(folder: str | Path, *, channels: Collection[str] | None = None,
         tags: Collection[str] | None = None, steps: Collection[str] | None = None,
         ) -> tuple[dict[str, Segment], list[Problem]]:
    """The segments of ``folder`` (none when it has no ``_segments.yaml``) and the problems
    of the file; ``channels``: the bot's channel names; ``tags``: those the flows set (a
    segment naming another tag is warned about: only imported customers may have it);
    ``steps``: ``reachable(flows)`` (a segment naming another flow or step is an error)."""
    path = Path(folder) / SEGMENTS_FILE
    if not path.exists():
        return {}, []
    try:
        doc = parse(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        return {}, [Problem(str(path), 1, 1, msg("file.not_utf8", reason=exc.reason))]
    except YamlProblem as exc:
        return {}, [Problem(str(path), exc.line, exc.column, exc.message)]
    model, problems = validate(SegmentsFile, doc, str(path))
    if model is None:
        return {}, problems
    problems.extend(_meaning(model.segments, doc, str(path), channels, tags))
    if steps is not None:
        problems.extend(_steps_named(model.segments, doc, str(path), steps))
    return dict(model.segments), problems


def _meaning(segments: Mapping[str, Segment], doc: Document, file: str,
             channels: Collection[str] | None, tags: Collection[str] | None) -> list[Problem]:
    found: list[Problem] = []
    for name, segment in segments.items():
        for i, channel in enumerate(_many(segment.channel)):
            if channels is not None and channel not in channels:
                where = doc.value_at(_item(("segments", name, "channel"), segment.channel, i))
                found.append(Problem(file, where.line, where.column, msg(
                    "segment.channel_unknown", segment=name, channel=channel,
                    hint=did_you_mean(channel, list(channels)),
                    channels=listing(sorted(channels)))))
        for key in ("tags", "without_tags"):
            raw = getattr(segment, key)
            for i, tag in enumerate(_many(raw)):
                if tags is not None and tag not in tags:
                    where = doc.value_at(_item(("segments", name, key), raw, i))
                    found.append(Problem(file, where.line, where.column, msg(
                        "segment.tag_unset", segment=name, tag=tag), "warning"))
    return found


def _steps_named(segments: Mapping[str, Segment], doc: Document, file: str,
                 steps: Collection[str]) -> list[Problem]:
    found: list[Problem] = []
    for name, segment in segments.items():
        for key in ("reached", "not_reached"):
            raw = getattr(segment, key)
            for i, ref in enumerate(_many(raw)):
                if (why := step_problem(ref, steps)) is not None:
                    where = doc.value_at(_item(("segments", name, key), raw, i))
                    found.append(Problem(file, where.line, where.column, msg(
                        "segment.step_unknown", segment=name, why=why)))
    return found


def _item(path: tuple[str, ...], raw: object, index: int) -> tuple[str | int, ...]:
    return (*path, index) if isinstance(raw, list) else path


def _many(raw: str | list[str] | None) -> list[str]:
    if raw is None:
        return []
    return list(raw) if isinstance(raw, list) else [raw]

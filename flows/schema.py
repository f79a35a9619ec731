"""The flow language as pydantic models, and its vocabularies in one place.

This module owns the *shape* of a flow file (``*.yaml``) and of the optional bot settings
file (``_bot.yaml``): which keys exist, their types, the closed vocabularies (step keys,
input kinds, trigger kinds, global commands) and the published JSON Schema that editors use
to validate flows while the owner types (``svyaz schema``).

It must not check meaning across keys or files (targets exist, templates compile — that is
``flows.compiler``) and does no I/O. Models are frozen and forbid unknown keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from flows import durations, texts
from flows.inputs import INPUT_KINDS, InputKind  # the one list of input kinds
from flows.messages import msg
from flows.schema_hours import Working
from flows.types import JSON, MESSENGER, ConsentPurpose, LadderUntil
from flows.words import normalize

__all__ = ["INPUT_KINDS", "InputKind"]

ProfileField = Literal["name", "phone", "email"]
# A channel's name, or "any"; ``flows.loader.check(channels=...)`` checks it against the channels
# the bot has (``connectors.registry``): the flow language names no channel itself.
CHANNEL_PATTERN = r"^[a-z][a-z0-9_]*$"
ChannelTarget = Annotated[str, StringConstraints(pattern=CHANNEL_PATTERN)]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
CommandName = Literal["cancel", "menu", "help", "restart", "unsubscribe"]
COMMAND_NAMES: tuple[str, ...] = get_args(CommandName)
TRIGGER_KINDS: tuple[str, ...] = ("command", "text", "button", "payload", "timer")

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$", max_length=64)]
# A customer's tag (``tag: vip``), as segments name it: lower-case letters, digits, '_', '-'.
TAG_PATTERN = r"^[0-9a-zа-яё_-]{1,40}$"
TagName = Annotated[str, StringConstraints(pattern=TAG_PATTERN)]
# A flow reached (``booking``) or a step of it (``booking.booked``), as segments and a
# broadcast's ``converts_at`` name it.
STEP_REF_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}(\.[A-Za-z_][A-Za-z0-9_-]{0,63})?$"
StepRef = Annotated[str, StringConstraints(pattern=STEP_REF_PATTERN)]

VarName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)]


def _duration(text: str) -> str:
    if durations.parse(text) is None:
        raise ValueError(msg("duration.bad", found=text, examples=durations.EXAMPLES))
    return text


# '24h', '1h30m', '90 минут', '2 дня' (``flows.durations`` reads them).
Duration = Annotated[str, AfterValidator(_duration),
                     WithJsonSchema({"type": "string", "examples": ["24h", "1h30m", "2 дня"]})]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Trigger(_Strict):
    """What starts a flow. Exactly one of the keys; ``step`` picks a non-default entry."""

    command: Literal["start"] | None = Field(
        default=None, description="'start': /start and the platform's start button"
    )
    text: str | list[str] | None = Field(
        default=None, description="words or phrases that start the flow"
    )
    button: str | None = Field(default=None, description="a button id that starts the flow")
    payload: str | None = Field(default=None, description="a deep-link payload")
    timer: bool | None = Field(default=None, description="the flow may be started by a reminder")
    step: Name | None = Field(default=None, description="step to start at (default: first)")


class ChoiceItem(_Strict):
    id: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1)
    also: list[str] = Field(
        default_factory=list, description="other words the customer may type for this button"
    )
    if_: str | None = Field(
        default=None, alias="if",
        description="show the button only when this holds, e.g. 'order_id is defined'",
    )


# ``{id: text}`` or ``{id: [text, synonym, …]}``: the first word is the button's text.
ChoiceMap = dict[str, str | Annotated[list[str], Field(min_length=1)]]


class NextRule(_Strict):
    """One rule of a conditional ``next``: ``{if: cond, then: step}`` or ``{else: step}``."""

    if_: str | None = Field(default=None, alias="if")
    then: Name | None = None
    else_: Name | None = Field(default=None, alias="else")


Next = Name | list[NextRule] | dict[str, Name]


class Http(_Strict):
    """Call the business's system; the flow continues when the answer comes back."""

    method: HttpMethod = "POST"
    url: str = Field(description="address, may use templates, e.g. '{{ env.CRM_URL }}/orders'")
    json_body: JSON = Field(default=None, alias="json")
    headers: dict[str, str] = Field(default_factory=dict)
    save: VarName | None = Field(default=None, description="variable for the answer's JSON")
    on_error: Name | None = Field(default=None, description="step to go to when the call fails")
    timeout: float = Field(default=10.0, gt=0, le=60)


class Remind(_Strict):
    """Schedule a reminder: run ``flow`` at ``at`` (minus ``before``) or ``after`` from now."""

    flow: Name
    at: str | None = Field(default=None, description="date and time, e.g. '{{ day }} {{ time }}'")
    before: Duration | None = Field(default=None, description="e.g. 24h, 2h, 30m, 1d")
    after: Duration | None = Field(default=None, description="from now, e.g. 2h")
    key: str | None = Field(default=None, description="a name to cancel or replace it later")
    vars: dict[str, JSON] | None = None
    if_past: str | None = Field(
        default=None,
        description="when the reminder's time has already passed as it is scheduled: a step "
        "of this flow to go to instead, or a text to say",
    )
    critical: bool = Field(
        default=False, description="a notice that must reach the customer (a visit, an order)"
    )
    escalate: list[ChannelTarget] | None = Field(
        default=None,
        description=f"with critical: channels to climb until the customer acts, e.g. "
        f"[{MESSENGER}, sms, email]; '{MESSENGER}': the last active one, then the others",
    )
    until: LadderUntil = Field(
        default="answered",
        description="with escalate: stop climbing when the customer answered (default) "
        "or when the notice was delivered",
    )
    within: Duration | None = Field(
        default=None,
        description="with escalate: go to the next rung when 'until' is not reached within "
        "this (default 2h)",
    )
    urgent: bool = Field(
        default=False,
        description="with escalate: SMS and e-mail may go at night too (21:00-09:00 business "
        "time)",
    )


class Consent(_Strict):
    """A consent question: yes/no with the policy link; personal data (152-FZ) by default,
    or advertising (``purpose: ads``, 38-FZ art. 18), recorded separately."""

    policy: str = Field(description="link to the personal-data policy (or the mailing terms)")
    version: str = Field(min_length=1, description="version of the consent text")
    purpose: ConsentPurpose = Field(
        default="personal_data",
        description="'ads': consent to advertising broadcasts, separate from personal data",
    )
    policy_text: str = texts.DEFAULT_POLICY_LINK


class Link(_Strict):
    text: str
    url: str


class Step(_Strict):
    """One step. Runs in order: set, effects, say, then http / call / ask / end / next."""

    say: str | None = None
    image: str | None = None
    links: list[Link] | None = None
    markdown: bool = False
    ask: str | None = None
    input: InputKind | None = None
    choice: list[str | ChoiceItem] | ChoiceMap | None = None
    choice_from: str | None = Field(
        default=None, description="expression giving a list of options, e.g. 'slots'"
    )
    for_day: str | None = Field(
        default=None,
        description="the day (YYYY-MM-DD) the times of this question are on, e.g. 'day': "
        "times already past and outside working hours are not offered",
    )
    when_empty: Name | None = Field(
        default=None, description="step to go to when no button is left to offer"
    )
    days: Literal["any", "working"] | None = Field(
        default=None, description="'working': only the working days of _bot.yaml fit"
    )
    closed: str | None = Field(
        default=None, description="text when the day or time is not a working one"
    )
    min: float | None = None
    max: float | None = None
    check: str | None = Field(default=None, description="condition on 'value', e.g. value > 0")
    retry: str | None = Field(
        default=None, description="text when the answer was read but 'check' refused it"
    )
    unreadable: str | None = Field(
        default=None, description="text when the answer cannot be read (e.g. 'абв' for a date)"
    )
    max_tries: int | None = Field(default=None, ge=1, le=20)
    on_fail: Name | None = Field(default=None, description="step after max_tries wrong answers")
    save: VarName | None = None
    profile: ProfileField | None = Field(
        default=None, description="also store the answer in the customer's profile"
    )
    consent: Consent | None = None
    tag: TagName | list[TagName] | None = Field(
        default=None, description="tags to set on the customer's profile, e.g. vip"
    )
    set: dict[VarName, JSON] | None = None
    remind: Remind | list[Remind] | None = None
    cancel_reminder: str | list[str] | None = None
    http: Http | None = None
    call: Name | None = Field(default=None, description="run another flow, then come back")
    handoff: str | bool | None = None
    link_channel: ChannelTarget | None = None
    next: Next | None = None
    goto: Name | None = None
    end: bool = False


class Flow(_Strict):
    """One flow file."""

    flow: Name | None = Field(default=None, description="the flow's name (default: file name)")
    title: str | None = None
    description: str | None = None
    start: Name | None = Field(default=None, description="first step (default: the first one)")
    triggers: list[Trigger] = Field(default_factory=list)
    vars: dict[VarName, JSON] = Field(default_factory=dict)
    expects: list[VarName] = Field(
        default_factory=list,
        description="variables the business's system passes when it starts this flow "
                    "(/api/v1), e.g. [order_id, items]",
    )
    steps: dict[Name, Step] = Field(min_length=1)


class Commands(_Strict):
    cancel: list[str] = ["отмена", "отменить", "/cancel", "cancel"]
    menu: list[str] = ["меню", "/menu", "menu", "в меню", "главное меню"]
    help: list[str] = ["помощь", "/help", "help", "справка"]
    restart: list[str] = ["/start", "start", "начать", "заново", "restart", "сначала"]
    # withdraws the advertising consent (and stops the dialogue, as «стоп» always did)
    unsubscribe: list[str] = ["стоп", "отписаться", "/stop", "stop", "unsubscribe"]

    @model_validator(mode="after")
    def _each_word_once(self) -> Commands:
        # A word the owner gives a command leaves the defaults of the others: «стоп» under
        # ``cancel`` in a _bot.yaml written before ``unsubscribe`` existed keeps meaning cancel.
        owned = {normalize(w) for name in self.model_fields_set for w in getattr(self, name)}
        for name in set(get_args(CommandName)) - self.model_fields_set:
            kept = [w for w in getattr(self, name) if normalize(w) not in owned]
            object.__setattr__(self, name, kept)  # (frozen: set once, while validating)
        seen: dict[str, str] = {}
        for name in get_args(CommandName):
            for word in getattr(self, name):
                first = seen.setdefault(normalize(word), name)
                if first != name:
                    raise ValueError(msg("commands.same_word", word=word, first=first,
                                         second=name))
        return self

    def by_word(self) -> dict[str, CommandName]:
        """Each word (normalised as the engine compares them) -> the command it gives."""
        return {
            normalize(word): name
            for name in get_args(CommandName)
            for word in getattr(self, name)
        }


INVITE_HELP = ("an imported customer's invitation (svyaz invite send): {{ name }}, {{ links }} "
               "(one line per messenger), {{ vk }}, {{ max }}, {{ web }} and the vars")


# What the engine says that an owner may change; the defaults are ``flows.texts``'s. (No
# docstring: it would become a description in the published JSON Schema.)
class Texts(_Strict):
    fallback: str = texts.DEFAULT_FALLBACK
    cancelled: str = texts.DEFAULT_CANCELLED
    help: str = texts.DEFAULT_HELP
    lost: str = texts.DEFAULT_LOST
    waiting: str = texts.DEFAULT_WAITING
    call_failed: str = texts.DEFAULT_CALL_FAILED
    stopped: str = texts.DEFAULT_STOPPED
    failed: str = texts.DEFAULT_FAILED
    handoff_unheard: str = texts.DEFAULT_HANDOFF_UNHEARD
    nothing_to_choose: str = texts.DEFAULT_NOTHING_TO_CHOOSE
    retry: str = texts.DEFAULT_RETRY
    yes: str = texts.DEFAULT_YES
    no: str = texts.DEFAULT_NO
    unsubscribed: str = texts.DEFAULT_UNSUBSCRIBED
    invite_sms: str = Field(default=texts.DEFAULT_INVITE_SMS, description=INVITE_HELP)
    invite_email: str = Field(default=texts.DEFAULT_INVITE_EMAIL, description=INVITE_HELP)
    invite_subject: str = Field(default=texts.DEFAULT_INVITE_SUBJECT,
                                description="the subject of the invitation e-mail")


class Settings(_Strict):
    """The optional ``_bot.yaml``: menu flow, global command words, texts, env defaults."""

    menu: Name | None = Field(default=None, description="flow shown by 'меню' and fallbacks")
    commands: Commands = Commands()
    texts: Texts = Texts()
    env: dict[str, str] = Field(default_factory=dict)
    vars: dict[VarName, JSON] = Field(
        default_factory=dict,
        description="values every flow may use (prices, address, phone), e.g. "
        "{phone: '+7 495 000-00-00'}; a flow's own variables win",
    )
    working: Working | None = Field(
        default=None, description="working days, hours and holidays of the business; texts "
        "may say them as {{ working_hours }} (10:00–20:00) and {{ working_days }} (пн-сб; "
        "ежедневно without days)"
    )

    def constants(self) -> dict[str, JSON]:
        """The values every flow sees: ``vars``, and the working hours and days in the owner's
        words when ``working:`` declares them (a var of the same name wins)."""
        derived: dict[str, JSON] = {}
        if self.working is not None:
            derived["working_hours"] = self.working.value().describe()
            derived["working_days"] = ", ".join(self.working.days) or "ежедневно"
        return {**derived, **self.vars}


STEP_KEYS: tuple[str, ...] = tuple((f.alias or name) for name, f in Step.model_fields.items())
FLOW_KEYS: tuple[str, ...] = tuple((f.alias or name) for name, f in Flow.model_fields.items())
SETTINGS_FILE = "_bot.yaml"


def json_schema(channels: Sequence[str] = ()) -> dict[str, object]:
    """JSON Schema of a flow file, for editors (``svyaz schema``); ``channels``: the names an
    editor may offer for ``link_channel`` (besides "any") and ``escalate`` (besides
    "messenger")."""
    schema = Flow.model_json_schema(by_alias=True, mode="validation")
    if channels:
        step: Any = schema["$defs"]["Step"]
        for option in step["properties"]["link_channel"]["anyOf"]:
            if option.get("type") == "string":
                option["enum"] = [*channels, "any"]
        remind: Any = schema["$defs"]["Remind"]
        for option in remind["properties"]["escalate"]["anyOf"]:
            if option.get("type") == "array":
                option["items"]["enum"] = [MESSENGER, *channels]
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "svyaz flow"
    return schema


def settings_json_schema() -> dict[str, object]:
    """JSON Schema of ``_bot.yaml``."""
    schema = Settings.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "svyaz bot settings"
    return schema

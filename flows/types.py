"""Channel-neutral data that crosses package lines.

This module owns the contract between the parts of svyaz:

* events: what a customer (or a timer, or the business) did — the engine's input;
* ``Inbound``: an event as a connector delivers it, with the channel account it came from;
* ``Reply``: what the bot says, before any channel renders it;
* effects: what the engine asks the runtime to do (as data, never as calls);
* ``DialogState``: the customer's position in the dialogue, stored in Redis as JSON.

It must not import anything of ours and must do no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, TypeAlias, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import TypeAliasType

from flows.attachments import ATTACHMENT_KINDS as ATTACHMENT_KINDS
from flows.attachments import Attachment as Attachment
from flows.attachments import AttachmentEvent as AttachmentEvent
from flows.attachments import AttachmentKind as AttachmentKind
from flows.happened import HAPPENED_KINDS as HAPPENED_KINDS
from flows.happened import Happened as Happened
from flows.happened import HappenedKind as HappenedKind

# A recursive alias pydantic can validate (a plain TypeAlias with string refs recurses forever).
JSON = TypeAliasType(
    "JSON", "None | bool | int | float | str | list[JSON] | dict[str, JSON]"
)

# A channel's name ("vk", "max", "web", ...): the prefix of its accounts. The installed ones
# are listed by ``connectors.registry`` (this package knows none of them by name).
Channel = str


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class TextEvent:
    """The customer typed text."""

    text: str


@dataclass(frozen=True, slots=True)
class ButtonEvent:
    """The customer pressed a button; ``button`` is the ``Button.id`` the engine gave it."""

    button: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class StartEvent:
    """The platform's start: VK «Начать», MAX ``bot_started``, a new web chat session.

    ``payload`` is the deep-link value (VK ``ref``, MAX ``start`` payload, web ``#start=``).
    """

    payload: str | None = None


@dataclass(frozen=True, slots=True)
class ContactEvent:
    """The customer shared a phone through a request-contact button (raw, not normalised)."""

    phone: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class TimerEvent:
    """A scheduled reminder fell due: run ``flow`` with ``vars``."""

    flow: str
    key: str
    vars: Mapping[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallResultEvent:
    """The result of a ``CallHttp`` effect, fed back by the runtime."""

    call_id: str
    ok: bool
    status: int
    data: JSON = None


@dataclass(frozen=True, slots=True)
class StartFlowEvent:
    """The business's own system asked to run ``flow`` for this customer (``/api/v1``)."""

    flow: str
    vars: Mapping[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResumeEvent:
    """The customer continued on another channel: ask the current question again there."""

    channel: Channel


@dataclass(frozen=True, slots=True)
class HandoffUnheardEvent:
    """The runtime's answer to a ``Handoff`` effect that reached no operator (no owner
    destination is set, or every one failed): the customer must hear that nobody will answer."""


@dataclass(frozen=True, slots=True)
class PermissionEvent:
    """The customer allowed (VK ``message_allow``) or denied messages from the bot."""

    allowed: bool


Event: TypeAlias = (
    TextEvent
    | ButtonEvent
    | StartEvent
    | ContactEvent
    | AttachmentEvent
    | TimerEvent
    | CallResultEvent
    | StartFlowEvent
    | ResumeEvent
    | PermissionEvent
    | HandoffUnheardEvent
)


@dataclass(frozen=True, slots=True)
class Inbound:
    """An event as a connector hands it over: who, where, and a platform id for de-duplication.

    ``user_id`` is the platform account (VK user id, MAX user id, web session id) as text;
    ``reply_to`` is where answers go when it is not the user itself (MAX ``chat_id``);
    ``callback_id`` is a platform callback that must be acknowledged (MAX ``callback_id``,
    VK ``message_event`` ``event_id``).
    ``address`` is an opaque digest of the sender's network address where the channel knows
    it (the web chat), so link-code guesses can be limited per address.
    ``replied`` is the platform's id of the message this one replies to (MAX ``link`` of type
    reply, VK ``reply_message``), where the channel tells.
    """

    channel: Channel
    user_id: str
    event_id: str
    event: Event
    reply_to: str | None = None
    callback_id: str | None = None
    name: str | None = None
    address: str | None = None
    replied: str | None = None

    @property
    def account(self) -> str:
        return f"{self.channel}:{self.user_id}"


# --------------------------------------------------------------------------- replies


@dataclass(frozen=True, slots=True)
class Button:
    """A button: ``id`` comes back in ``ButtonEvent.button``; with ``url`` it is a link."""

    id: str
    text: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """One message from the bot, before a channel renders it."""

    text: str
    buttons: tuple[Button, ...] = ()
    request_phone: bool = False
    image_url: str | None = None
    markdown: bool = False
    operator: str | None = None  # a person's name when an operator wrote it, not the bot
    file: Attachment | None = None  # a picture or document sent with it (an operator's)


# --------------------------------------------------------------------------- effects


LadderUntil = Literal["answered", "delivered"]
# What a consent is for: personal data (152-FZ) or advertising (38-FZ art. 18), kept apart.
ConsentPurpose = Literal["personal_data", "ads"]
"""When a ladder stops climbing: the customer ``answered`` on any channel, or the notice was
``delivered`` (the platform confirmed it)."""
LADDER_UNTIL: tuple[str, ...] = get_args(LadderUntil)
MESSENGER = "messenger"
"""The rung "the last active messenger, then the customer's other messengers"; any other rung
is a channel's name."""
LADDER_WITHIN = timedelta(hours=2)  # how long a rung waits when the flow does not say


@dataclass(frozen=True, slots=True, kw_only=True)
class Ladder:
    """How a critical notice climbs: send on ``rungs[0]``; when it is not ``until`` within
    ``within``, go on with the next rung. ``urgent``: send-only rungs (SMS, e-mail) may go at
    night too. The runtime does the climbing; this is only what the flow asked for."""

    rungs: tuple[str, ...]
    until: LadderUntil = "answered"
    within: timedelta = LADDER_WITHIN
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class ScheduleReminder:
    """Run ``flow`` with ``vars`` for this customer at ``at``; replaces a reminder with ``key``.

    ``critical``: a notice that must reach the customer; ``ladder``: the channels it climbs
    (only with ``critical``; None: the usual delivery to messengers). ``about``: the moment
    the reminder is about (its ``at`` before ``before``: the visit), for the owner's list;
    None for one set ``after`` a while.
    """

    key: str
    at: datetime
    flow: str
    vars: Mapping[str, JSON] = field(default_factory=dict)
    critical: bool = False
    ladder: Ladder | None = None
    about: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReminderPassed:
    """A reminder the flow asked for was not scheduled: its time ``at`` had already passed
    when the step ran (a visit today at 18:00 with ``before: 24h``). Nothing is scheduled;
    the flow went to its ``if_past`` step or said its text, and the owner's tools show it."""

    key: str
    at: datetime
    flow: str


@dataclass(frozen=True, slots=True)
class CancelReminder:
    key: str


@dataclass(frozen=True, slots=True)
class CallHttp:
    """Call the business's endpoint; the runtime answers with a ``CallResultEvent``."""

    call_id: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    url: str
    json: JSON = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class Handoff:
    """Hand the customer to a human operator (``DialogState.handoff``); the runtime answers
    with ``HandoffUnheardEvent`` when no operator could be told."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class LinkChannel:
    """Offer to continue in ``target`` (None: every other configured channel)."""

    target: Channel | None = None


@dataclass(frozen=True, slots=True)
class SaveProfile:
    """Store personal data in the customer's profile (only emitted after consent)."""

    field: Literal["name", "phone", "email"]
    value: str


@dataclass(frozen=True, slots=True)
class RecordConsent:
    """The customer's answer to a consent question: personal data (152-FZ) or advertising
    (``purpose="ads"``, 38-FZ art. 18; «стоп» / «Отписаться» withdraw it)."""

    granted: bool
    text_version: str
    at: datetime
    purpose: ConsentPurpose = "personal_data"


# The text version of a withdrawal by «стоп» / «отписаться» / the «Отписаться» button, whose
# id is a global command's (``flows.engine``): it works in every step of every channel.
UNSUBSCRIBED_VERSION = "unsubscribe"
UNSUBSCRIBE_BUTTON_ID = "cmd:unsubscribe"


@dataclass(frozen=True, slots=True)
class SetTags:
    """Tags to add to the customer's profile (``tag: vip``), for segments of broadcasts."""

    tags: tuple[str, ...]


Effect: TypeAlias = (
    ScheduleReminder
    | ReminderPassed
    | CancelReminder
    | CallHttp
    | Handoff
    | LinkChannel
    | SaveProfile
    | RecordConsent
    | SetTags
)
# Every kind of effect, from the union above (its one list). Each consumer dispatches with a
# ``match`` ending in ``assert_never``, so mypy names the consumer a new kind is missing from;
# tests run every consumer over one effect of each kind here.
EFFECT_KINDS: tuple[type[Effect], ...] = get_args(Effect)


# --------------------------------------------------------------------------- state


class Frame(BaseModel):
    """One entry of the flow stack: a flow and the step the customer is at."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    flow: str = Field(alias="f")
    step: str = Field(alias="s")
    retries: int = Field(default=0, alias="r")
    # When the customer was asked this step's question (epoch seconds; 0: not a question, or
    # a state stored before it was kept): the funnel's time on a step (``flows.funnel``).
    asked: int = Field(default=0, alias="t")
    # (A stored frame may carry "n", a field no version used: ignored, as any unknown one.)


HandoffStage = Literal["waiting", "unheard", "taken"]
"""Where a hand-off stands: ``waiting`` — an operator was told, nobody has taken it yet;
``unheard`` — no operator could be told; ``taken`` — an operator answers (the bot stays quiet
until released). In the first two the customer's global commands bring the bot back."""


class DialogState(BaseModel):
    """A customer's dialogue: small, JSON; old stored states keep loading (unknown fields
    are ignored).

    Serialise with ``model_dump_json(by_alias=True, exclude_defaults=True)``.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    # (A stored state may carry "v", a schema version no version read: ignored, as any
    # unknown field; a change of shape adds a validator, as ``_flag`` below.)
    stack: tuple[Frame, ...] = Field(default=(), alias="k")
    vars: dict[str, JSON] = Field(default_factory=dict, alias="x")
    # Pending CallHttp id the flow waits for, if any.
    waiting: str | None = Field(default=None, alias="w")
    consent: bool | None = Field(default=None, alias="c")
    handoff: HandoffStage | None = Field(default=None, alias="h")

    @field_validator("handoff", mode="before")
    @classmethod
    def _flag(cls, value: object) -> object:
        """States stored before the stages kept a flag: true was a hand-off nobody took."""
        if value is True:
            return "waiting"
        return None if value is False else value


@dataclass(frozen=True, slots=True)
class Turn:
    """The engine's answer to one event."""

    state: DialogState
    replies: tuple[Reply, ...] = ()
    effects: tuple[Effect, ...] = ()
    # What went wrong in the owner's flow, for the log (the customer heard an apology and the
    # dialogue stayed where it was): "template error in booking.yaml:12 (flow 'booking',
    # step 'date'): ..."; None when nothing did.
    failure: str | None = None
    # From this reply on the bot re-asks a question a reminder interrupted: the reminder's own
    # message is what comes before (a critical notice's SMS carries only that); None: all.
    resumed: int | None = None
    # What the turn did to flows, for the funnel's counts (``flows.funnel``).
    happened: tuple[Happened, ...] = ()

"""Every Redis key name svyaz uses, and the TTLs and limits that go with them.

Layout (``<bot>`` is the per-bot namespace so several bots share one Redis):

* per customer, all with the hash tag ``{c:<id>}`` so they share one Redis Cluster slot:
  ``svyaz:<bot>:{c:<id>}:state`` (hash v/d), ``:lock``, ``:accounts`` (zset account ->
  last active), ``:profile`` (hash), ``:consents`` (list of JSON), ``:tags`` (set), ``:history``,
  ``:inbox`` (stream of pending Inbound), ``:reminders`` (set of reminder keys),
  ``:links`` (set of this customer's live link token/code keys, so erasure finds them),
  ``:invites`` (set of the customer's live invitation token keys, ``storage.invites``),
  ``:invited`` (hash ``sms``/``email``, and ``sms:<links>`` for new links sent again, -> the
  invitation sent there, ``storage.invites``),
  ``:routes`` (hash account -> the one-to-one chat a platform needs besides the user id),
  ``:merged`` (set of customer ids merged into this one), ``:tmp`` (merge scratch), ``:files``
  (hash attachment id -> a sent file's copy), ``:visible`` (hash account -> the time from
  which its history is replayed to it: a linked account never sees the other side's past).
* global, one small key per item so a cluster spreads them: ``acct:<account>`` -> customer,
  ``phone:<e164>`` -> customer, ``lt:<sha256(token)>`` and ``lc:<code>`` -> link target,
  ``iv:<sha256(token)>`` -> the invited customer,
  ``lf:<account>`` / ``la:<address digest>`` failed code guesses, ``lp:<account>`` the link
  waiting for that account's confirmation, ``lx:<account>`` (the account was told to type a
  code), ``pm:<e164>`` phone-match codes sent for a number, ``dd:<event key>`` de-duplication.
* global single keys: ``customers`` (set, for export of all), ``pending`` (set of customers
  with unprocessed inbox entries, for the sweeper), ``files:pending`` (zset of customers with
  a file copy still to make; per customer ``{c:<id>}:fcopy:<file id>`` claims one download),
  and the outbox, spread over ``OUTBOX_SHARDS`` key sets ``{outbox:<n>}:data`` / ``:lease`` /
  ``:tries`` (each one slot, updated by Lua; ``{outbox}:…`` is the one set older versions
  wrote, still swept).
* reminders: APScheduler's job store ``{sched}:jobs`` / ``:run_times`` (``bots.jobs``) and
  the leader lock ``{sched}:leader`` (``storage.leader``); per customer ``{c:<id>}:remdata``
  (hash of reminder records, ``storage.reminders``) and ``{c:<id>}:fired:<key>:<due>`` (the
  claim of one tick, ``SET NX``: ``storage.ticks``).
* polling (``storage.leader``): ``{poll:<platform>}:leader`` (the one process that polls) and
  ``:cursor`` (VK Long Poll's ``ts`` or MAX's marker, where the next leader goes on).
* platform rate limits (``storage.ratelimit``): ``{rl:<platform>}:slots`` (zset: request
  slot -> when it frees) and ``:peers`` (zset: process -> its last take), one slot per platform.
* web chat relay (``bots.webrelay``): pub/sub ``{web}:bus``, delivered ``{web}:sent:<key>``.
* notices (``storage.notices``): per customer ``{c:<id>}:notice:<notice id>`` (hash: the
  ladder's record), ``{c:<id>}:notices`` (set of the customer's notice ids, for erasure) and
  ``{c:<id>}:climbing`` (set of those still climbing, for ``answered``); global, in one slot
  ``{notices}``: ``:due`` (zset "<customer> <notice id>" -> next check), ``:sms:<provider>:<id>``
  (a sent SMS -> its notice, for delivery reports), ``:day:<day>:<customer>`` (SMS sent to a
  customer that day), ``:month:<month>`` (SMS parts sent that month) and ``:take:<id>`` (a
  quota take that can still be given back).
* broadcasts: ``{bc:<id>}:…`` (``keyparts.broadcast_keys``); the claim of a customer's copy
  ``{outbox:<n>}:bc:<id>:<customer>``, in its outbox shard so it is written with the entry;
  the members of a VK batch ``{bc:<id>}:batch:<batch key>`` (hash: customer -> peer).
* the operator desk (``storage.desk``), global in one slot ``{desk}``: ``:ops`` (set of operator
  names), ``:op:<name>`` (hash: password hash, role, disabled, session generation),
  ``:lf:<name>`` / ``:la:<address digest>`` (failed logins in the window), ``:audit`` (stream:
  who opened whose card, by internal customer id only), ``:seen:<operator>:<action>:<customer>``
  (a recent look, so a self-refreshing page is audited once), ``:waiting`` (zset customer ->
  hand-off began), ``:active`` (zset customer -> last wrote), ``:shortseq`` / ``:short:<n>``
  (a hand-off's number -> customer), ``:note:<channel>:<id>`` (a note in the owner's chat ->
  its number); per customer ``:claim`` (its operator), ``:short`` (its number) and
  ``:told:<since ms>`` (told when to expect an answer).

This module does no I/O and must not build keys anywhere else: other modules ask ``Keys``.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.keyparts import (
    TAGS,
    BroadcastKeys,
    OutboxKeys,
    _part,
    broadcast_keys,
    check_bot,
    check_customer_id,
    check_notice_id,
    check_operator,
    customer_tag,
    token_digest,
)

# The TTLs and limits live in ``storage.limits``, re-exported here beside the keys they govern.
from storage.limits import *  # noqa: F403

ROOT = "svyaz"

# The parts of a key name that come from outside are checked there (``storage.keyparts``).
_CUSTOMER_PARTS = ("state", "lock", "accounts", "profile", "consents", "tags", "history", "inbox",
                   "reminders", "links", "invites", "invited", "routes", "merged", "tmp", "visible",
                   "files", "reached")


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names of one bot's namespace."""

    bot: str = "main"

    def __post_init__(self) -> None:
        check_bot(self.bot)

    @property
    def prefix(self) -> str:
        return f"{ROOT}:{self.bot}:"

    # ------------------------------------------------------------------ per customer

    def tag(self, customer: str) -> str:
        return TAGS.get((self.bot, customer)) or customer_tag(self.prefix, self.bot, customer)

    @property
    def history_pattern(self) -> str:
        """SCAN pattern of every customer's history stream."""
        return f"{self.prefix}{{c:*}}:history"

    @property
    def lock_pattern(self) -> str:
        """SCAN pattern of every customer's lock."""
        return f"{self.prefix}{{c:*}}:lock"

    def customer_of_key(self, key: str) -> str:
        """The customer id in a per-customer key name ("" when it is not one)."""
        start = key.find("{c:", len(self.prefix) - 1)
        end = key.find("}", start)
        return key[start + 3 : end] if key.startswith(self.prefix) and 0 <= start < end else ""

    def state(self, customer: str) -> str:
        return f"{self.tag(customer)}:state"

    def lock(self, customer: str) -> str:
        return f"{self.tag(customer)}:lock"

    def accounts(self, customer: str) -> str:
        return f"{self.tag(customer)}:accounts"

    def profile(self, customer: str) -> str:
        return f"{self.tag(customer)}:profile"

    def consents(self, customer: str) -> str:
        return f"{self.tag(customer)}:consents"

    def tags(self, customer: str) -> str:
        return f"{self.tag(customer)}:tags"

    def reached(self, customer: str) -> str:
        """The flows and steps the customer reached (``storage.reached``)."""
        return f"{self.tag(customer)}:reached"

    def history(self, customer: str) -> str:
        return f"{self.tag(customer)}:history"

    def inbox(self, customer: str) -> str:
        return f"{self.tag(customer)}:inbox"

    def reminders(self, customer: str) -> str:
        return f"{self.tag(customer)}:reminders"

    def links(self, customer: str) -> str:
        return f"{self.tag(customer)}:links"

    def invites(self, customer: str) -> str:
        return f"{self.tag(customer)}:invites"

    def invited(self, customer: str) -> str:
        return f"{self.tag(customer)}:invited"

    def routes(self, customer: str) -> str:
        return f"{self.tag(customer)}:routes"

    def merged(self, customer: str) -> str:
        return f"{self.tag(customer)}:merged"

    def visible(self, customer: str) -> str:
        return f"{self.tag(customer)}:visible"

    def scratch(self, customer: str) -> str:
        return f"{self.tag(customer)}:tmp"

    def files(self, customer: str) -> str:  # hash: attachment id -> its copy (storage.files)
        return f"{self.tag(customer)}:files"

    def file_claim(self, customer: str, file_id: str) -> str:
        """One process downloads the pending copy ``file_id`` (``SET NX``, expires)."""
        return f"{self.tag(customer)}:fcopy:{file_id}"

    def seen(self, customer: str, event: str) -> str:
        """De-duplication of one platform event of the customer (expires by itself)."""
        return f"{self.tag(customer)}:dd:{event}"

    def customer_keys(self, customer: str) -> tuple[str, ...]:
        """Every per-customer key (all in the customer's slot; a test checks each is here)."""
        tag = self.tag(customer)
        return tuple(f"{tag}:{part}" for part in _CUSTOMER_PARTS)

    def mentioning(self, customer: str) -> str:
        """SCAN pattern of every key of this bot whose name contains the customer id (ids are
        12+ random characters, so only keys about this customer match)."""
        return f"{self.prefix}*{check_customer_id(customer)}*"

    # ------------------------------------------------------------------ global

    def account(self, account: str) -> str:
        return f"{self.prefix}acct:{account}"

    def phone(self, e164: str) -> str:
        return f"{self.prefix}phone:{e164}"

    def link_token(self, token: str) -> str:
        return f"{self.prefix}lt:{token_digest(token)}"

    def invite_token(self, token: str) -> str:
        return f"{self.prefix}iv:{token_digest(token)}"

    def link_code(self, code: str) -> str:
        return f"{self.prefix}lc:{code}"

    def link_account_failures(self, account: str) -> str:
        return f"{self.prefix}lf:{account}"

    def link_address_failures(self, address: str) -> str:
        return f"{self.prefix}la:{address}"

    def link_pending(self, account: str) -> str:
        return f"{self.prefix}lp:{account}"

    def link_expected(self, account: str) -> str:
        return f"{self.prefix}lx:{account}"

    def phone_matches(self, e164: str) -> str:
        return f"{self.prefix}pm:{e164}"

    def dedupe(self, key: str) -> str:
        return f"{self.prefix}dd:{key}"

    @property
    def customers(self) -> str:
        return f"{self.prefix}customers"

    @property
    def pending(self) -> str:
        return f"{self.prefix}pending"

    @property
    def files_pending(self) -> str:
        """Zset: customers with a file copy still to make -> when marked (``storage.files``)."""
        return f"{self.prefix}files:pending"

    @property
    def incidents(self) -> str:
        """Bot-wide troubles open now (``storage.incidents``): kind -> what and since when."""
        return f"{self.prefix}incidents"

    @property
    def health(self) -> str:
        """Written by /healthz: a Redis that refuses writes still answers PING."""
        return f"{self.prefix}health"

    def outbox(self, shard: int | None) -> OutboxKeys:
        """Shard ``shard``'s keys; None: the single set older versions wrote."""
        tag = f"{self.prefix}{{outbox}}" if shard is None else f"{self.prefix}{{outbox:{shard}}}"
        return OutboxKeys(f"{tag}:data", f"{tag}:lease", f"{tag}:tries")

    def broadcast(self, broadcast: str) -> BroadcastKeys:
        return broadcast_keys(self.prefix, broadcast)

    # ------------------------------------------------------------------ reminders

    @property
    def sched_jobs(self) -> str:
        return f"{self.prefix}{{sched}}:jobs"

    @property
    def sched_run_times(self) -> str:
        return f"{self.prefix}{{sched}}:run_times"

    @property
    def sched_leader(self) -> str:
        return f"{self.prefix}{{sched}}:leader"

    def reminder_records(self, customer: str) -> str:
        return f"{self.tag(customer)}:remdata"

    @property
    def reminder_records_pattern(self) -> str:
        """SCAN pattern of every customer's reminder records."""
        return f"{self.prefix}{{c:*}}:remdata"

    def reminder_claim(self, customer: str, key: str, due: str) -> str:
        return f"{self.tag(customer)}:fired:{key}:{due}"

    # ------------------------------------------------------------------ polling

    def poll_leader(self, platform: str) -> str:
        """Who polls the platform (``storage.leader``): one consumer per bot."""
        return f"{self.prefix}{{poll:{_part(platform)}}}:leader"

    def poll_cursor(self, platform: str) -> str:
        """Where polling stands (VK's ``ts``, MAX's marker), for the next leader."""
        return f"{self.prefix}{{poll:{_part(platform)}}}:cursor"

    # ------------------------------------------------------------------ platform rate limits

    def rate_slots(self, platform: str) -> str:
        """The platform's shared request slots (``storage.ratelimit``)."""
        return f"{self.prefix}{{rl:{_part(platform)}}}:slots"

    def rate_peers(self, platform: str) -> str:
        """The processes that took a slot of the platform's limit lately."""
        return f"{self.prefix}{{rl:{_part(platform)}}}:peers"

    # ------------------------------------------------------------------ web chat relay

    @property
    def web_bus(self) -> str:
        return f"{self.prefix}{{web}}:bus"

    def web_delivered(self, message_key: str) -> str:
        return f"{self.prefix}{{web}}:sent:{message_key}"

    # ------------------------------------------------------------------ notices

    def notice(self, customer: str, notice_id: str) -> str:
        return f"{self.tag(customer)}:notice:{check_notice_id(notice_id)}"

    def notices_pattern(self, customer: str) -> str:
        """SCAN pattern of the customer's notice records."""
        return f"{self.tag(customer)}:notice:*"

    def notice_ids(self, customer: str) -> str:
        return f"{self.tag(customer)}:notices"

    def climbing(self, customer: str) -> str:
        return f"{self.tag(customer)}:climbing"

    @property
    def notices_due(self) -> str:
        return f"{self.prefix}{{notices}}:due"

    def sms_sent(self, provider: str, message_id: str) -> str:
        return f"{self.prefix}{{notices}}:sms:{_part(provider)}:{_part(message_id)}"

    def sms_day(self, day: str, customer: str) -> str:
        return f"{self.prefix}{{notices}}:day:{_part(day)}:{check_customer_id(customer)}"

    def sms_days_pattern(self, customer: str) -> str:
        """SCAN pattern of a customer's daily SMS counters (ids hold no ``:``)."""
        return f"{self.prefix}{{notices}}:day:*:{check_customer_id(customer)}"

    def sms_month(self, month: str) -> str:
        return f"{self.prefix}{{notices}}:month:{_part(month)}"

    def sms_take(self, take_id: str) -> str:
        return f"{self.prefix}{{notices}}:take:{_part(take_id)}"

    # ------------------------------------------------------------------ operator desk

    @property
    def desk_operators(self) -> str:
        return f"{self.prefix}{{desk}}:ops"

    def desk_operator(self, name: str) -> str:
        return f"{self.prefix}{{desk}}:op:{check_operator(name)}"

    def desk_login_account(self, name: str) -> str:
        return f"{self.prefix}{{desk}}:lf:{check_operator(name)}"

    def desk_login_address(self, address: str) -> str:
        return f"{self.prefix}{{desk}}:la:{token_digest(address)}"

    @property
    def desk_audit(self) -> str:
        return f"{self.prefix}{{desk}}:audit"

    def desk_audit_mark(self, operator: str, action: str, customer: str) -> str:
        return (f"{self.prefix}{{desk}}:seen:{check_operator(operator)}:{_part(action)}:"
                f"{check_customer_id(customer)}")

    @property
    def desk_waiting(self) -> str:
        return f"{self.prefix}{{desk}}:waiting"

    @property
    def desk_active(self) -> str:
        return f"{self.prefix}{{desk}}:active"

    def desk_claim(self, customer: str) -> str:
        return f"{self.tag(customer)}:claim"

    def desk_told(self, customer: str, since: float) -> str:
        return f"{self.tag(customer)}:told:{int(since * 1000)}"

    @property
    def desk_short_seq(self) -> str:
        return f"{self.prefix}{{desk}}:shortseq"

    def desk_short(self, number: int) -> str:
        return f"{self.prefix}{{desk}}:short:{int(number)}"

    def desk_note(self, channel: str, message_id: str) -> str:
        return f"{self.prefix}{{desk}}:note:{_part(channel)}:{_part(message_id)}"

    def desk_short_of(self, customer: str) -> str:
        return f"{self.tag(customer)}:short"

"""``svyaz import customers.csv``: the customers a business brings from elsewhere (a phone
book, WhatsApp), with their consents and tags; a dry run lists what would be created and
every refused row with its reason.

Columns (a header row, any order; ``;`` or ``,`` separated, UTF-8): ``name``, ``phone``,
``email``, ``consent_personal_data`` and ``consent_ads`` (the date the customer agreed:
``2026-05-31`` or ``31.05.2026``; empty: not given), ``source`` (where the consent was given,
kept as the consent's text version: ``import:<source>``), ``tags`` (``vip; постоянный``).
A row needs a phone or an e-mail; a phone already known (with consent) is refused rather than
joined: joining happens when the customer proves it (a link or a code; an imported customer's
invitation: ``bots.invites``). A refused row's reason is a catalogue message
(``flows.catalogue_broadcast``, ru and en). Reading and checking is pure (``read_rows``);
``apply`` writes through ``storage``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from flows.messages import Msg, msg
from flows.schema import TAG_PATTERN
from storage.errors import InvalidValue
from storage.profile import normalise
from storage.store import Store

COLUMNS = ("name", "phone", "email", "consent_personal_data", "consent_ads", "source", "tags")


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    name: str | None
    phone: str | None
    email: str | None
    consents: tuple[tuple[str, date], ...]  # (what, when)
    source: str
    tags: tuple[str, ...]


@dataclass(slots=True)
class Plan:
    rows: list[Row] = field(default_factory=list)
    refused: list[tuple[int, Msg]] = field(default_factory=list)  # (line, reason)


class Refused(ValueError):
    """A row that cannot be imported; ``reason`` is a catalogue message (ru and en)."""

    def __init__(self, reason: Msg) -> None:
        super().__init__(reason.render())
        self.reason = reason


def _date(raw: str) -> date:
    raw = raw.strip()
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(raw, pattern).date()
        except ValueError:
            continue
    raise Refused(msg("import.bad_date", value=raw))


def _row(line: int, cells: dict[str, str]) -> Row:
    get = {k: (cells.get(k) or "").strip() for k in COLUMNS}
    if not get["phone"] and not get["email"]:
        raise Refused(msg("import.no_contact"))
    phone = email = None
    try:
        phone = normalise("phone", get["phone"]) if get["phone"] else None
    except InvalidValue:
        raise Refused(msg("import.bad_phone", value=get["phone"])) from None
    try:
        email = normalise("email", get["email"]) if get["email"] else None
    except InvalidValue:
        raise Refused(msg("import.bad_email", value=get["email"])) from None
    consents = tuple((what, _date(get[f"consent_{what}"])) for what in ("personal_data", "ads")
                     if get[f"consent_{what}"])
    if (phone or email) and not any(w == "personal_data" for w, _ in consents):
        raise Refused(msg("import.no_consent"))
    if consents and not get["source"]:
        raise Refused(msg("import.no_source"))
    tags = tuple(t.strip().lower() for t in re.split(r"[;,]", get["tags"]) if t.strip())
    if bad := [t for t in tags if not re.fullmatch(TAG_PATTERN, t)]:
        raise Refused(msg("import.bad_tag", tag=bad[0]))
    return Row(line, get["name"] or None, phone, email, consents, get["source"], tags)


def read_rows(text: str) -> Plan:
    """Every row of the CSV ``text`` checked: the ones to create and the refused ones."""
    dialect = csv.Sniffer().sniff(text.splitlines()[0] if text else ",", delimiters=",;")
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    plan = Plan()
    missing = {"phone", "email"} - set(reader.fieldnames or ())
    if len(missing) == 2:
        plan.refused.append((1, msg("import.no_columns")))
        return plan
    seen: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        try:
            row = _row(line, {k.strip().lower(): v for k, v in cells.items() if k})
        except Refused as exc:
            plan.refused.append((line, exc.reason))
            continue
        for key in filter(None, (row.phone, row.email)):
            if key in seen:
                plan.refused.append((line, msg("import.duplicate", value=key,
                                               line=seen[key])))
                break
        else:
            seen.update({k: line for k in (row.phone, row.email) if k})
            plan.rows.append(row)
    return plan


async def known(store: Store, plan: Plan) -> None:
    """Move rows whose phone a customer already holds to the refused ones."""
    keep = []
    for row in plan.rows:
        if row.phone and await store.profiles.find_by_phone(row.phone) is not None:
            plan.refused.append((row.line, msg("import.known_phone", phone=row.phone)))
        else:
            keep.append(row)
    plan.rows = keep


async def apply(store: Store, plan: Plan) -> list[str]:
    """Create a customer per row; their ids, in order."""
    created = []
    for row in plan.rows:
        customer = await store.audience.add_customer()
        for what, when in row.consents:  # consent first: the phone index needs it
            at = datetime(when.year, when.month, when.day, tzinfo=UTC)
            await store.profiles.record_consent(customer, True, f"import:{row.source}", at,
                                                "import", what=what)
        for name, value in (("name", row.name), ("phone", row.phone), ("email", row.email)):
            if value:
                await store.profiles.set_field(customer, name, value)
        await store.profiles.add_tags(customer, row.tags)
        created.append(customer)
    return created

"""The desk's pages: the conversation list, a conversation with the customer's card, the
claim / answer / hand-back actions, the audit log (owners), and the live-update poll.

Every opening of a customer's card is written to the audit log first. This module must not
check sessions (``bots.desk.gate``'s middleware did) nor send or store anything itself: the
take-over is ``bots.desk.takeover``'s, the records ``storage``'s.
"""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web

from bots.desk import broadcasts_page, funnel_page
from bots.desk.canned import load_canned
from bots.desk.conversations import STATES, Row, arrange, thread
from bots.desk.files import kept_files
from bots.desk.gate import (
    AUDIT_AGAIN,
    DESK,
    PREFIX,
    login,
    login_form,
    logout,
    me,
    owner_only,
    static,
)
from bots.desk.queries import conversation_rows, customer_export, page_rows, waiting_rows
from bots.desk.takeover import NotHolder
from storage.accounts import AccountInfo
from storage.store import Store

HISTORY_SHOWN = 500  # messages of a conversation on its page
LIST_SHOWN = 50  # conversations on a page of the list (hand-offs first)
PAGES_MAX = 100_000
TEXT_MAX = 4000


def _page(request: web.Request) -> int:
    number = request.query.get("page", "1")
    return max(1, min(int(number), PAGES_MAX)) if number.isdigit() else 1


async def conversations(request: web.Request) -> web.StreamResponse:
    desk = request.app[DESK]
    q = request.query
    channel, state, query = q.get("channel", ""), q.get("state", ""), q.get("q", "")
    store, page = desk.edge.parts.store, _page(request)
    if channel or state or query.strip():
        every = arrange(  # the "waiting" filter reads the hand-offs only, others every customer
            await (waiting_rows(store) if state == "waiting" else conversation_rows(store)),
            channel=channel, state=state if state in STATES else "", query=query)
        start = (page - 1) * LIST_SHOWN
        rows, total = every[start:start + LIST_SHOWN], len(every)
        waiting = sum(r.state == "waiting" for r in every)
        stamp = None  # (the poll's stamp is the unfiltered page's: the first poll swaps)
    else:  # hand-offs, then the most recently active, a page at a time
        shown = await page_rows(store, page, LIST_SHOWN)
        rows, total, waiting = shown.rows, shown.total, shown.waiting
        stamp = _list_stamp(rows)
    channels = sorted(desk.edge.parts.connectors)
    return desk.render(request, "list.html", rows=rows, total=total, page=page,
                       pages=max(1, -(-total // LIST_SHOWN)), now=time.time(),
                       channel=channel, state=state, query=query, channels=channels,
                       states=STATES, waiting=waiting, stamp=stamp)


def _list_stamp(rows: list[Row]) -> str:
    """What changes when a page of the list would: its latest message, who waits or is held."""
    return f"{max((r.last_at for r in rows), default=0)}:" + ",".join(
        sorted(f"{r.customer}{r.state}{r.holder}" for r in rows if r.state != "bot"))


async def _known(store: Store, customer: str) -> bool:
    return bool(await _accounts(store, customer))


async def _accounts(store: Store, customer: str) -> list[AccountInfo]:
    try:
        return await store.identities.accounts(customer)
    except ValueError:
        return []


async def conversation(request: web.Request) -> web.StreamResponse:
    desk, customer = request.app[DESK], request.match_info["customer"]
    parts = desk.edge.parts
    store = parts.store
    accounts = await _accounts(store, customer)
    if not accounts:
        raise web.HTTPNotFound(text="Нет такого клиента.")
    await store.desk.audit.record_once(me(request).name, "card", customer, within=AUDIT_AGAIN)
    (state, _), entries, profile, reminders, holder = await asyncio.gather(
        store.states.load(customer), store.history.read(customer, count=HISTORY_SHOWN),
        store.profiles.get(customer), parts.reminders.of_customer(customer),
        store.desk.handoffs.holder(customer))
    return desk.render(
        request, "conversation.html", customer=customer, messages=thread(entries),
        profile=profile, accounts=accounts, reminders=reminders,
        position=state.stack[-1] if state and state.stack else None,
        stage=state.handoff if state else None, holder=holder,
        flows=sorted(parts.flows.current().flows), error=request.query.get("error", ""),
        canned=load_canned(desk.flows)[0], kept=await kept_files(store, customer),
        stamp=entries[-1].ts if entries else 0)


def _back(customer: str, error: str = "") -> web.HTTPSeeOther:
    where = f"{PREFIX}/c/{customer}"
    return web.HTTPSeeOther(f"{where}?error={error}" if error else where)


async def _customer(request: web.Request) -> str:
    """The path's customer; 404 unless it is one (a malformed id included)."""
    customer = request.match_info["customer"]
    if not await _known(request.app[DESK].edge.parts.store, customer):
        raise web.HTTPNotFound(text="Нет такого клиента.")
    return customer


async def claim(request: web.Request) -> web.StreamResponse:
    desk, customer = request.app[DESK], await _customer(request)
    holder = await desk.takeover.claim(customer, me(request).name)
    await desk.edge.parts.store.desk.audit.record(me(request).name, "claim", customer)
    raise _back(customer, "" if holder == me(request).name else "taken")


async def say(request: web.Request) -> web.StreamResponse:
    desk, customer = request.app[DESK], await _customer(request)
    text = str((await request.post()).get("text", "")).strip()
    if not text or len(text) > TEXT_MAX:
        raise _back(customer, "empty")
    try:
        sent = await desk.takeover.say(customer, me(request).name, text)
    except NotHolder:
        raise _back(customer, "not_yours") from None
    raise _back(customer, "" if sent.target is not None else "undelivered")


async def release(request: web.Request) -> web.StreamResponse:
    desk, customer = request.app[DESK], await _customer(request)
    flow = str((await request.post()).get("flow", "")) or None
    if flow is not None and flow not in desk.edge.parts.flows.current().flows:
        raise _back(customer, "flow")
    await desk.takeover.release(customer, me(request).name, flow)
    await desk.edge.parts.store.desk.audit.record(me(request).name, "release", customer)
    raise _back(customer)


async def export(request: web.Request) -> web.StreamResponse:
    """The customer's data as a JSON file (owners only; audited)."""
    owner = owner_only(request)
    desk, customer = request.app[DESK], request.match_info["customer"]
    store = desk.edge.parts.store
    if not await _known(store, customer):
        raise web.HTTPNotFound(text="Нет такого клиента.")
    await store.desk.audit.record(owner.name, "export", customer)
    return web.json_response(await customer_export(store, customer), dumps=_dumps, headers={
        "Content-Disposition": f'attachment; filename="customer-{customer}.json"'})


def _dumps(data: object) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1)


async def audit(request: web.Request) -> web.StreamResponse:
    owner_only(request)
    desk = request.app[DESK]
    records = await desk.edge.parts.store.desk.audit.latest(500)
    return desk.render(request, "audit.html", records=records)


async def live(request: web.Request) -> web.StreamResponse:
    """For the pages' poll: how many wait for a person, and a stamp that changes when the
    page shown would change."""
    desk = request.app[DESK]
    store = desk.edge.parts.store
    customer = request.query.get("customer", "")
    shown = await page_rows(store, _page(request), LIST_SHOWN)
    rows, waiting = shown.rows, shown.waiting
    if customer:
        if not await _known(store, customer):
            raise web.HTTPNotFound()
        entries = await store.history.read(customer, count=1)
        stamp = f"{entries[-1].ts if entries else 0}"
    else:
        stamp = _list_stamp(rows)
    return web.json_response({"waiting": waiting, "stamp": stamp})


def routes() -> list[web.RouteDef]:
    return [
        web.get("/", conversations), web.get("/c/{customer}", conversation),
        web.post("/c/{customer}/claim", claim), web.post("/c/{customer}/say", say),
        web.post("/c/{customer}/release", release), web.get("/audit", audit),
        web.get("/c/{customer}/export", export),
        web.get("/live.json", live), web.get("/login", login_form), web.post("/login", login),
        web.post("/logout", logout), web.get("/static/{name}", static),
        *funnel_page.routes(),
        *broadcasts_page.routes(),
    ]

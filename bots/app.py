"""The one place that wires svyaz together: the aiohttp application of ``svyaz run``.

This module owns assembly and lifecycle: settings -> connectors (``bots.channels``; routes are
fixed before the app starts, so connectors and routes reach the running bot through the
``bots.parts.Edge``) -> Redis (embedded when ``SVYAZ_REDIS_URL`` is unset) -> flows (hot
reload) -> scheduler -> runtime, made once into one ``Parts`` value -> background tasks; and
the reverse on shutdown (close the web chat's sockets before aiohttp waits for its handlers,
stop taking updates, finish turns, flush the outbox, close what was opened, last first). Its
routes are ``bots.health``'s and ``bots.api``'s. It must not hold business logic: every
decision lives in the module that owns it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from bots import api, desk, remote, sms_status
from bots.access import served_url
from bots.audience import SegmentFile
from bots.background import every, finish, pause
from bots.broadcast_send import EVERY as BROADCAST_EVERY
from bots.broadcast_send import Sender, more_to_send
from bots.broadcast_vk import BatchConnector, VkBatches
from bots.broadcasts import Broadcaster
from bots.channels import link_targets, make_connectors, owner_chats, relayed
from bots.config import Settings
from bots.delivery import Delivery
from bots.desk.notes import DeskNotes
from bots.desk.relay import OwnerRelay
from bots.desk.takeover import SWEEP_EVERY as DESK_SWEEP_EVERY
from bots.desk.takeover import Takeover
from bots.desk.upload import upload_room
from bots.effects import Effects
from bots.filecopy import SWEEP_EVERY as COPY_SWEEP_EVERY
from bots.filecopy import FileCopier
from bots.flowsource import POLL_EVERY as FLOWS_POLL_EVERY
from bots.flowsource import FlowSource
from bots.health import Health
from bots.httpguard import body_deadline
from bots.incidents import LOOK_EVERY, Incidents
from bots.ladder import CLIMB_EVERY, Ladder
from bots.linking import can_offer
from bots.naming import Namer
from bots.owner import Owner, unheard_handoffs
from bots.parts import Edge, Parts
from bots.polling import lead_polling
from bots.ratelimits import share_if_shared
from bots.runtime import Runtime
from bots.scheduler import ReminderService
from bots.spare import Spare, make_spare
from bots.webrelay import WebRelay
from connectors.base import Connector
from connectors.registry import INSTALLED
from flows import engine
from flows.backoff import Backoff
from flows.types import Channel
from storage.errors import StorageError
from storage.instance import Instance, InstanceError
from storage.store import Store, connect

if TYPE_CHECKING:
    from storage.embedded import EmbeddedRedis

log = logging.getLogger("svyaz.bots")

SWEEP_EVERY = 30.0  # seconds between crash-recovery sweeps (inbox, stale outbox)
EMBEDDED_CHECK_EVERY = 0.5  # seconds between looks at the embedded Redis's process
EMBEDDED_RESTART_FIRST = 2.0  # the pause after a failed start, doubling
EMBEDDED_RESTART_MAX = 30.0  # the longest pause between attempts to start it again

SETTINGS = web.AppKey("svyaz_settings", Settings)
EDGE = web.AppKey("svyaz_edge", Edge)
CONNECTORS = web.AppKey("svyaz_connectors", dict[Channel, Connector])


def build_app(
    settings: Settings, *, clock: Callable[[], datetime] | None = None
) -> web.Application:
    """The whole bot as an aiohttp application (start it with ``web.run_app`` or a runner)."""
    edge = Edge(clock=clock or (lambda: datetime.now(settings.zone)))
    # Behind nginx & co, the customer's address, not the proxy's: set first, since a request
    # cannot be cloned with it once body_deadline has read its body (every POST was a 500).
    outer = [remote.middleware(settings.proxies)] if settings.trusted_proxies else []
    app = web.Application(client_max_size=1024 * 1024, middlewares=[
        *outer, body_deadline(settings.http_body_timeout, room=upload_room)])
    app[SETTINGS] = settings
    app[EDGE] = edge
    app[CONNECTORS] = connectors = make_connectors(settings, edge)
    for connector in connectors.values():
        app.router.add_routes(connector.routes())
    health = Health(edge, connectors)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/metrics", health.metrics)
    app.router.add_get("/", index)
    if (reports := sms_status.route(settings, edge)) is not None:
        app.router.add_routes([reports])
    api.setup(app, settings, edge)
    desk.setup(app, settings, edge)
    app.on_shutdown.append(_close_web_chat)
    app.cleanup_ctx.append(_lifecycle)
    return app


# ---------------------------------------------------------------------- lifecycle


async def _close_web_chat(app: web.Application) -> None:
    """First on shutdown, before aiohttp waits for its handlers to end: a web chat socket is
    a handler that never ends by itself (the wait would last the whole shutdown timeout while
    the widget still looks connected). Closed with 1012, the widget reconnects once we are
    back; the turns in progress then finish in ``_stop`` (their web replies stay in history)."""
    connectors = app[CONNECTORS]
    for name in relayed(connectors):
        connector = connectors[name]
        local = connector.local if isinstance(connector, WebRelay) else connector
        await local.stop()


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as resources:  # closed last, in reverse order
        try:
            await _start(app, resources)
            yield
        finally:
            await _stop(app)
    log.info("svyaz stopped cleanly")


async def _start(app: web.Application, resources: contextlib.AsyncExitStack) -> None:
    settings, edge, connectors = app[SETTINGS], app[EDGE], app[CONNECTORS]
    instance = _instance(settings.data_dir)
    resources.callback(instance.release)  # (after the Redis: a successor may take the name)
    store, embedded = await connect(settings.redis_url, settings.data_dir, bot=settings.bot,
                                    instance=instance.name, maxmemory=settings.redis_maxmemory)
    if embedded is not None:
        resources.push_async_callback(asyncio.to_thread, embedded.close)
    resources.push_async_callback(store.close)
    http = await resources.enter_async_context(aiohttp.ClientSession())
    spare = make_spare(settings)  # the SMS provider and the e-mail sender, when configured
    resources.push_async_callback(spare.close)
    share_if_shared(settings.redis_url, connectors, store)  # VK's, MAX's limits across processes
    for name in relayed(connectors):  # replies find the process that holds the socket
        connectors[name] = WebRelay(connectors[name], store)
    flows = await _load_flows(settings, connectors)
    parts = _assemble(settings, edge, store=store, embedded=embedded, instance=instance,
                      http=http, flows=flows, connectors=connectors, spare=spare)
    edge.open(parts)
    # The embedded Redis only this process reaches: what it holds, the dead held.
    await parts.runtime.take_over(everything=embedded is not None)
    await parts.reminders.start()
    for connector in connectors.values():
        await connector.start()
    edge.tasks.extend(_background(edge, parts))
    edge.tasks.extend(lead_polling(connectors, store, edge.stop))  # one poller per platform
    log.info("svyaz is running: channels %s, flows %s", ", ".join(sorted(connectors)),
             ", ".join(sorted(flows.current().flows)))


async def _load_flows(settings: Settings, connectors: dict[Channel, Connector]) -> FlowSource:
    links = link_targets(settings, connectors)
    flows = FlowSource(settings.flows, timezone=settings.timezone,
                       can_link=lambda: can_offer(connectors, links()))
    await asyncio.to_thread(flows.load)
    return flows


def _owner(settings: Settings, store: Store, connectors: dict[Channel, Connector],
           http: aiohttp.ClientSession, names: Namer) -> Owner:
    """Where hand-offs and incidents are told: the owner's webhook and chats, the desk (whose
    hand-off note waits a moment for a name ``names`` is looking up)."""
    return Owner(webhook=settings.owner_webhook, chats=owner_chats(settings),
                 connectors=connectors, http=lambda: http,
                 desk=DeskNotes(store, names=names.settled))


def _assemble(
    settings: Settings, edge: Edge, *, store: Store, embedded: EmbeddedRedis | None,
    instance: Instance, http: aiohttp.ClientSession, flows: FlowSource,
    connectors: dict[Channel, Connector], spare: Spare,
) -> Parts:
    """The parts that stand on Redis, the HTTP session and the flows (nothing starts here)."""
    names = Namer.of(store.profiles, connectors)  # VK's names (users.get), beside the turns
    owner = _owner(settings, store, connectors, http, names)
    if (warning := unheard_handoffs(flows.current(), owner)) is not None:
        log.warning(warning)
    delivery = Delivery(store=store, connectors=connectors, metrics=edge.metrics)
    incidents = Incidents(store=store, connectors=connectors, notify=owner.notify)
    notify = incidents.watching(owner.notify)  # (reminders that reached nobody: the banner)
    ladder = Ladder(store=store, delivery=delivery, spare=spare, metrics=edge.metrics,
                    zone=settings.zone, owner_notify=notify, watch=incidents)
    reminders = ReminderService(
        store=store, redis_url=served_url(settings.redis_url, embedded), metrics=edge.metrics,
        inject=edge.inject, zone=settings.zone, grace=settings.reminder_grace,
        owner_notify=notify, ladder_open=ladder.open)
    effects = Effects(store=store, reminders=reminders, owner=owner,
                      links=link_targets(settings, connectors), channels=frozenset(connectors),
                      http=lambda: http, delivery=delivery)
    runtime = Runtime(
        store=store, flows=flows.current, advance=engine.advance, delivery=delivery,
        effects=effects, metrics=edge.metrics, clock=edge.clock, owner_notify=notify,
        notices=ladder, names=names,
        owner_inbox=OwnerRelay(edge, chats=owner_chats(settings), connectors=connectors).take,
        copies=(copies := FileCopier(store.files, allow=settings.files_allowed)),
    )
    segments = SegmentFile(settings.flows, INSTALLED.names(), flows.steps)  # as svyaz check
    vk = connectors.get("vk")
    batches = VkBatches(store=store, connector=vk, delivery=delivery) \
        if isinstance(vk, BatchConnector) else None
    sender = Sender(store=store, delivery=delivery, inject=edge.inject, segments=segments,
                    timezone=settings.timezone, vk_batches=batches)
    sends = Broadcaster(store=store, segments=segments, steps=flows.steps)
    return Parts(store=store, embedded=embedded, instance=instance, http=http, flows=flows,
                 delivery=delivery, reminders=reminders, runtime=runtime, connectors=connectors,
                 spare=spare, ladder=ladder, incidents=incidents, sender=sender,
                 broadcasts=sends, copies=copies)


def _background(edge: Edge, parts: Parts) -> list[asyncio.Task[None]]:
    """The tasks that run beside the turns until ``edge.stop`` is set."""
    stop = edge.stop
    tasks = [
        asyncio.create_task(every(stop, SWEEP_EVERY, parts.runtime.sweep, "sweep"),
                            name="sweeper"),
        asyncio.create_task(every(stop, FLOWS_POLL_EVERY, parts.flows.check_quietly,
                                  "flow reload", first_delay=FLOWS_POLL_EVERY),
                            name="flows-watch"),
        asyncio.create_task(every(stop, CLIMB_EVERY, parts.ladder.climb_due, "notice ladder"),
                            name="ladder"),
        asyncio.create_task(every(stop, LOOK_EVERY, parts.incidents.look, "incidents",
                                  first_delay=LOOK_EVERY), name="incidents"),
        asyncio.create_task(every(stop, DESK_SWEEP_EVERY, Takeover(edge).sweep,
                                  "unclaimed hand-offs"), name="desk"),
        asyncio.create_task(every(stop, BROADCAST_EVERY, parts.sender.tick, "broadcasts",
                                  busy=more_to_send), name="broadcasts"),
        asyncio.create_task(every(stop, COPY_SWEEP_EVERY, parts.copies.sweep, "file copies"),
                            name="file-copies"),
    ]
    if parts.embedded is not None:
        tasks.insert(0, asyncio.create_task(keep_running(parts.embedded, stop),
                                            name="embedded-redis"))
    return tasks


def _instance(data_dir: Path) -> Instance:
    """This process's slot in the data folder (see storage.instance); a name of its own when
    the folder cannot be written (a read-only container with SVYAZ_SECRET_KEY set)."""
    try:
        return Instance.claim(data_dir)
    except InstanceError as exc:
        log.warning("%s; a process started again after a crash will wait for what this one "
                    "held to expire", exc)
        return Instance.passing()


async def keep_running(embedded: EmbeddedRedis, stop: asyncio.Event) -> None:
    """Start the embedded Redis again when its process dies (the OOM killer, a crash): until
    then webhooks answer 503 and the platforms re-deliver; nothing else would bring it back."""
    restarts = Backoff(base=EMBEDDED_RESTART_FIRST, cap=EMBEDDED_RESTART_MAX, jitter=False)
    delay = EMBEDDED_CHECK_EVERY
    while not await pause(stop, delay):
        delay = EMBEDDED_CHECK_EVERY
        if embedded.running:
            restarts.reset()
            continue
        log.error("the embedded Redis stopped (exit code %s); starting it again; its log: %s",
                  embedded.returncode, embedded.data_dir / "redis.log")
        try:
            await asyncio.to_thread(embedded.start)
        except Exception as exc:  # keep trying, slower: a broken data file needs a person
            delay = restarts.delay()
            log.error("the embedded Redis did not start: %s; next try in %.0f s", exc, delay)
        else:
            log.warning("the embedded Redis is running again")
            restarts.reset()


async def _stop(app: web.Application) -> None:
    """Everything but the resources (``_lifecycle`` closes those after this)."""
    edge = app[EDGE]
    for connector in app[CONNECTORS].values():  # 1. stop taking updates
        with contextlib.suppress(Exception):
            await connector.stop()
    parts = edge.started
    if parts is not None:
        await parts.reminders.stop()  # 2. no new firings; another process may lead now
        await parts.runtime.close()  # 3. finish the turns in progress
    edge.stop_turns()
    await finish(edge.tasks, edge.stop)
    if parts is not None:  # 4. flush what a crashed turn left in the outbox
        with contextlib.suppress(StorageError):
            await parts.delivery.resend_stale()


# ---------------------------------------------------------------------- routes


async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/chat")

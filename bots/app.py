"""The one place that wires svyaz together: the aiohttp application of ``svyaz run``.

This module owns assembly and lifecycle: settings -> connectors (routes are fixed before the app
starts, so connectors reach the runtime through ``Services``, filled in at start-up) -> Redis
(embedded when ``SVYAZ_REDIS_URL`` is unset) -> flows (hot reload) -> scheduler -> runtime ->
background tasks; and the reverse on shutdown (close the web chat's sockets before aiohttp
waits for its handlers, stop taking updates, finish turns, flush the outbox, close). It serves
``/healthz`` and ``/metrics`` itself. It must not hold business logic: every decision lives in
the module that owns it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from bots import api, remote
from bots.background import every, finish, pause
from bots.config import Settings, secret_key
from bots.delivery import Delivery
from bots.effects import Effects
from bots.flowsource import POLL_EVERY as FLOWS_POLL_EVERY
from bots.flowsource import FlowSource
from bots.httpguard import body_deadline
from bots.linking import LinkTargets, can_offer
from bots.metrics import CONTENT_TYPE, Metrics
from bots.owner import Owner, unheard_handoffs
from bots.runtime import Runtime
from bots.scheduler import ReminderService
from bots.webrelay import WebRelay
from connectors.base import Connector, Unavailable
from flows import engine
from flows.types import Button, Channel, Event, Inbound, Reply, StartEvent
from storage.errors import StorageError
from storage.history import HistoryEntry
from storage.instance import Instance, InstanceError
from storage.store import Store, connect

if TYPE_CHECKING:
    from connectors.webchat import WebHistoryItem
    from storage.embedded import EmbeddedRedis

log = logging.getLogger("svyaz.bots")

WEB_HISTORY = 100
SWEEP_EVERY = 30.0  # seconds between crash-recovery sweeps (inbox, stale outbox)
EMBEDDED_CHECK_EVERY = 0.5  # seconds between looks at the embedded Redis's process
EMBEDDED_RESTART_MAX = 30.0  # the longest pause between attempts to start it again


@dataclass(slots=True)
class Services:
    """What start-up creates; empty until the app runs (connectors see it through methods)."""

    metrics: Metrics = field(default_factory=Metrics)
    store: Store | None = None
    embedded: EmbeddedRedis | None = None
    instance: Instance | None = None
    runtime: Runtime | None = None
    reminders: ReminderService | None = None
    flows: FlowSource | None = None
    delivery: Delivery | None = None
    http: aiohttp.ClientSession | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    async def accept(self, inbound: Inbound) -> None:
        """The ``InboundSink`` handed to every connector."""
        if self.runtime is None:
            raise Unavailable("svyaz is starting or stopping")
        await self.runtime.accept(inbound)

    async def inject(self, customer: str, event: Event, *, event_id: str) -> bool:
        if self.runtime is None:
            raise Unavailable("svyaz is starting or stopping")
        return await self.runtime.inject(customer, event, event_id=event_id)

    async def web_history(self, session_id: str) -> list[WebHistoryItem] | None:
        """The customer's dialogue (every channel) for a web chat session, from the time the
        session may see it (a session joined by a link sees nothing of before: bots.linking);
        None when the session has no customer (its visitor never wrote)."""
        from connectors.webchat import WebHistoryItem

        if self.store is None:
            raise Unavailable("svyaz is starting or stopping")
        try:
            customer = await self.store.identities.customer_of(f"web:{session_id}")
            if customer is None:
                return None
            since = await self.store.identities.visible_from(customer, f"web:{session_id}")
            entries = await self.store.history.read(customer, count=WEB_HISTORY)
        except StorageError as exc:
            raise Unavailable("history unavailable") from exc
        return [
            WebHistoryItem(direction=e.direction, text=e.text, buttons=_history_buttons(e))
            for e in entries if e.ts >= since
            and e.direction in ("in", "out") and e.text and not e.note.startswith("start")
        ]

    def web_greeting(self) -> tuple[Reply, ...]:
        """What the start flow says to a new web chat visitor: the engine's answer to a start
        event on no state, computed and thrown away (nothing is saved, no effect runs; the
        visitor's first message runs the start turn for real)."""
        if self.flows is None:
            return ()
        return engine.advance(self.flows.current(), None, StartEvent(), self.clock()).replies

    def session(self) -> aiohttp.ClientSession:
        assert self.http is not None, "HTTP session used before start-up"
        return self.http


SETTINGS = web.AppKey("svyaz_settings", Settings)
SERVICES = web.AppKey("svyaz_services", Services)
CONNECTORS = web.AppKey("svyaz_connectors", dict[Channel, Connector])
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("svyaz_clock")


def _history_buttons(entry: HistoryEntry) -> tuple[Button, ...]:
    """The buttons of a past message as the widget replays them: the real ones when the
    history kept them, else label-only buttons (empty id), which the widget sends as text."""
    return entry.keyboard or tuple(Button(id="", text=label) for label in entry.buttons)


def make_connectors(settings: Settings, services: Services) -> dict[Channel, Connector]:
    """A connector for every channel whose settings are present; the web chat always."""
    from connectors.webchat import WebChat

    found: dict[Channel, Connector] = {
        "web": WebChat(
            secret_key=secret_key(settings), sink=services.accept,
            history=services.web_history, greeting=services.web_greeting,
            allowed_origins=settings.origins,
            public_url=settings.public_url, max_connections_per_ip=settings.webchat_max_per_ip,
        ),
    }
    if settings.vk_enabled:
        found["vk"] = _vk(settings, services)
    if settings.max_enabled:
        found["max"] = _max(settings, services)
    return found


def _vk(settings: Settings, services: Services) -> Connector:
    from connectors.vk import VkConnector

    assert settings.vk_token is not None
    assert settings.vk_group_id is not None
    return VkConnector(
        token=settings.vk_token.get_secret_value(), group_id=settings.vk_group_id,
        api_url=settings.vk_api_url, mode=settings.vk_mode,
        secret=settings.vk_secret.get_secret_value() if settings.vk_secret else None,
        confirmation=settings.vk_confirmation, sink=services.accept,
    )


def _max(settings: Settings, services: Services) -> Connector:
    from connectors.maxbot import MaxConnector

    assert settings.max_token is not None
    secret = settings.max_webhook_secret
    return MaxConnector(
        token=settings.max_token.get_secret_value(), api_url=settings.max_api_url,
        mode=settings.max_mode, webhook_secret=secret.get_secret_value() if secret else None,
        sink=services.accept, bot_username=settings.max_bot_username,
    )


def link_targets(
    settings: Settings, connectors: Mapping[Channel, Connector]
) -> Callable[[], LinkTargets]:
    """Where deep links point, read at each offer: the MAX bot's username comes from
    ``GET /me`` after start-up (``SVYAZ_MAX_BOT_USERNAME`` overrides it in the connector)."""
    vk_group = None
    if settings.vk_enabled:
        vk_group = settings.vk_group_screen_name or f"club{settings.vk_group_id}"
    max_connector = connectors.get("max")

    def current() -> LinkTargets:
        max_bot: str | None = getattr(max_connector, "bot_username", None)
        return LinkTargets(public_url=settings.public_url, max_bot=max_bot, vk_group=vk_group)

    return current


def owner_chats(settings: Settings) -> dict[Channel, str]:
    chats: dict[Channel, str] = {}
    if settings.owner_vk_peer:
        chats["vk"] = settings.owner_vk_peer
    if settings.owner_max_chat:
        chats["max"] = settings.owner_max_chat
    return chats


def build_app(
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
    connectors: Callable[[Settings, Services], dict[Channel, Connector]] = make_connectors,
) -> web.Application:
    """The whole bot as an aiohttp application (start it with ``web.run_app`` or a runner)."""
    services = Services(clock=clock or (lambda: datetime.now(settings.zone)))
    app = web.Application(client_max_size=1024 * 1024,
                          middlewares=[body_deadline(settings.http_body_timeout)])
    if settings.trusted_proxies:  # behind nginx & co: the customer's address, not the proxy's
        app.middlewares.append(remote.middleware(settings.proxies))
    app[SETTINGS] = settings
    app[SERVICES] = services
    app[CLOCK] = services.clock
    app[CONNECTORS] = connectors(settings, services)
    for connector in app[CONNECTORS].values():
        app.router.add_routes(connector.routes())
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", index)
    api.setup(app, settings, services)
    app.on_shutdown.append(_close_web_chat)
    app.cleanup_ctx.append(_lifecycle)
    return app


# ---------------------------------------------------------------------- lifecycle


async def _close_web_chat(app: web.Application) -> None:
    """First on shutdown, before aiohttp waits for its handlers to end: a web chat socket is
    a handler that never ends by itself (the wait would last the whole shutdown timeout while
    the widget still looks connected). Closed with 1012, the widget reconnects once we are
    back; the turns in progress then finish in ``_stop`` (their web replies stay in history)."""
    connector = app[CONNECTORS].get("web")
    if connector is not None:
        local = connector.local if isinstance(connector, WebRelay) else connector
        await local.stop()


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    try:
        await _start(app)
        yield
    finally:
        await _stop(app)


async def _start(app: web.Application) -> None:
    settings, services, connectors = app[SETTINGS], app[SERVICES], app[CONNECTORS]
    services.instance = _instance(settings.data_dir)
    store, embedded = await connect(settings.redis_url, settings.data_dir, bot=settings.bot,
                                    instance=services.instance.name,
                                    maxmemory=settings.redis_maxmemory)
    services.store, services.embedded = store, embedded
    services.http = aiohttp.ClientSession()
    if "web" in connectors:  # replies find the process that holds the browser's socket
        connectors["web"] = WebRelay(connectors["web"], store)
    links = link_targets(settings, connectors)
    flows = FlowSource(settings.flows, timezone=settings.timezone,
                       can_link=lambda: can_offer(connectors, links()))
    await asyncio.to_thread(flows.load)
    owner = Owner(webhook=settings.owner_webhook, chats=owner_chats(settings),
                  connectors=connectors, http=services.session)
    if (warning := unheard_handoffs(flows.current(), owner)) is not None:
        log.warning(warning)
    delivery = Delivery(store=store, connectors=connectors, metrics=services.metrics)
    redis_url = embedded.url if embedded is not None else settings.redis_url
    assert redis_url is not None
    reminders = ReminderService(
        store=store, redis_url=redis_url, metrics=services.metrics, inject=services.inject,
        zone=settings.zone, grace=settings.reminder_grace, owner_notify=owner.notify,
    )
    effects = Effects(store=store, reminders=reminders, owner=owner,
                      links=links, channels=frozenset(connectors),
                      http=services.session, delivery=delivery)
    services.flows, services.delivery, services.reminders = flows, delivery, reminders
    services.runtime = Runtime(
        store=store, flows=flows.current, advance=engine.advance, delivery=delivery,
        effects=effects, metrics=services.metrics, clock=app[CLOCK], owner_notify=owner.notify,
    )
    # The embedded Redis only this process reaches: what it holds, the dead held.
    await services.runtime.take_over(everything=embedded is not None)
    await reminders.start()
    for connector in connectors.values():
        await connector.start()
    stop = services.stop
    if embedded is not None:
        services.tasks.append(asyncio.create_task(keep_running(embedded, stop),
                                                  name="embedded-redis"))
    services.tasks += [
        asyncio.create_task(every(stop, SWEEP_EVERY, services.runtime.sweep, "sweep"),
                            name="sweeper"),
        asyncio.create_task(every(stop, FLOWS_POLL_EVERY, flows.check_quietly, "flow reload",
                                  first_delay=FLOWS_POLL_EVERY), name="flows-watch"),
    ]
    log.info("svyaz is running: channels %s, flows %s", ", ".join(sorted(connectors)),
             ", ".join(sorted(flows.current().flows)))


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
    delay = EMBEDDED_CHECK_EVERY
    while not await pause(stop, delay):
        if embedded.running:
            delay = EMBEDDED_CHECK_EVERY
            continue
        log.error("the embedded Redis stopped (exit code %s); starting it again; its log: %s",
                  embedded.returncode, embedded.data_dir / "redis.log")
        try:
            await asyncio.to_thread(embedded.start)
        except Exception as exc:  # keep trying, slower: a broken data file needs a person
            delay = min(max(delay, 1.0) * 2, EMBEDDED_RESTART_MAX)
            log.error("the embedded Redis did not start: %s; next try in %.0f s", exc, delay)
        else:
            log.warning("the embedded Redis is running again")
            delay = EMBEDDED_CHECK_EVERY


async def _stop(app: web.Application) -> None:
    services = app[SERVICES]
    for connector in app[CONNECTORS].values():  # 1. stop taking updates
        with contextlib.suppress(Exception):
            await connector.stop()
    if services.reminders is not None:  # 2. no new firings; another process may lead now
        await services.reminders.stop()
    if services.runtime is not None:  # 3. finish the turns in progress
        await services.runtime.close()
    services.runtime = None
    await finish(services.tasks, services.stop)
    if services.delivery is not None:  # 4. flush what a crashed turn left in the outbox
        with contextlib.suppress(StorageError):
            await services.delivery.resend_stale()
    if services.http is not None:
        await services.http.close()
    if services.store is not None:
        await services.store.close()
    if services.embedded is not None:
        await asyncio.to_thread(services.embedded.close)
    if services.instance is not None:  # (after the Redis: a successor may take the name)
        services.instance.release()
    log.info("svyaz stopped cleanly")


# ---------------------------------------------------------------------- routes


async def index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/chat")


async def healthz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    redis: dict[str, object] = {"ok": False, "embedded": services.embedded is not None}
    if services.store is not None:
        try:
            await services.store.probe()
            redis["ok"] = True
        except Exception as exc:  # what the on-call engineer should look at
            redis["error"] = str(exc) if isinstance(exc, StorageError) else repr(exc)
    redis_ok = bool(redis["ok"])
    reminders = services.reminders
    channels = {ch: c.health() for ch, c in request.app[CONNECTORS].items()}
    body = {
        # Red when anything is wrong; 503 only without Redis (a refused VK token should not
        # take the web chat out of a load balancer).
        "ok": redis_ok and all(bool(h.get("ok")) for h in channels.values()),
        "redis": redis,
        "channels": channels,
        "scheduler": {"ok": reminders is not None and reminders.scheduler.running,
                      "leader": bool(reminders and reminders.leader)},
        "flows": {"loaded": sorted(services.flows.current().flows) if services.flows else [],
                  "reloads": services.flows.reloads if services.flows else 0},
        "turns_in_progress": services.runtime.busy if services.runtime else 0,
    }
    return web.json_response(body, status=200 if redis_ok else 503)


async def metrics(request: web.Request) -> web.Response:
    body = request.app[SERVICES].metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

"""The comparison baseline: the booking dialogue hand-written on maxapi's Dispatcher + Redis FSM.

What a developer would write instead of using svyaz: maxapi's ``Dispatcher`` with its
``RedisContext`` FSM storage and ``RedisEventIsolation`` (per-user Redis lock), in webhook mode
(``AiohttpMaxWebhook`` with the secret header check). Same questions and checks as
``flows_examples/booking.yaml`` (service, master, day not in the past, time from the slots,
consent, name, phone parsed with phonenumbers, confirm, two reminders recorded in Redis).
It keeps no history, no de-duplication and no outbox — svyaz does all three.

Vendor Dispatcher/FSM use is allowed ONLY here in bench/peers (it is the thing compared
against). Run: ``python bench/peers/maxapi_bot.py --port P --redis-url URL`` with
``MAX_TOKEN``, ``MAX_API_URL``, ``MAX_WEBHOOK_SECRET`` in the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
import uvloop
from aiohttp import web
from maxapi import Bot, Dispatcher, F
from maxapi.context import RedisContext, RedisEventIsolation, State, StatesGroup
from maxapi.types import CallbackButton, MessageCreated
from maxapi.utils.inline_keyboard import InlineKeyboardBuilder
from maxapi.webhook.aiohttp import AiohttpMaxWebhook
from redis.asyncio import Redis

ZONE = ZoneInfo("Europe/Moscow")
SERVICES = ["Стрижка", "Окрашивание", "Укладка"]
MASTERS = ["Анна", "Ольга", "Любой мастер"]
SLOTS = ["10:00", "12:30", "15:00", "18:00"]
YES = {"да", "ага", "yes", "конечно", "верно", "согласен", "согласна"}
NO = {"нет", "no", "не"}
MONTHS = ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
          "сентября", "октября", "ноября", "декабря"]
WEEKDAYS = ["понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье"]


class Booking(StatesGroup):
    service = State()
    specialist = State()
    day = State()
    time = State()
    consent = State()
    name = State()
    phone = State()
    confirm = State()


def keyboard(options: list[str]) -> list[Any]:
    builder = InlineKeyboardBuilder()
    for option in options:
        builder.row(CallbackButton(text=option, payload=option))
    return [builder.as_markup()]


def pick(text: str, options: list[str]) -> str | None:
    cleaned = text.strip().lower()
    if cleaned.isdigit() and 1 <= int(cleaned) <= len(options):
        return options[int(cleaned) - 1]
    return next((o for o in options if o.lower() == cleaned), None)


def parse_day(text: str, today: date) -> date | None:
    cleaned = text.strip().lower()
    relative = {"сегодня": 0, "завтра": 1, "послезавтра": 2, "вчера": -1}
    if cleaned in relative:
        return today + timedelta(days=relative[cleaned])
    match = re.fullmatch(r"(\d{1,2})\.(\d{1,2})(?:\.(\d{4}))?", cleaned)
    if not match:
        return None
    try:
        return date(int(match[3] or today.year), int(match[2]), int(match[1]))
    except ValueError:
        return None


def day_ru(day: date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]}, {WEEKDAYS[day.weekday()]}"


def parse_phone(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, "RU")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def build(redis: Redis, *, isolate: bool = True) -> Dispatcher:  # noqa: C901 - as written
    """The bot; ``isolate=False`` is the lean peer (``maxapi_lean.py``): no per-user lock."""
    if isolate:
        dp = Dispatcher(storage=RedisContext, redis_client=redis,
                        event_isolation=RedisEventIsolation(redis))
    else:  # as maxapi's README and examples write bots
        dp = Dispatcher(storage=RedisContext, redis_client=redis)

    @dp.message_created(F.message.body.text.lower().in_({"записаться", "запись"}))
    async def start(event: MessageCreated, context: RedisContext) -> None:
        await context.set_data({})
        await context.set_state(Booking.service)
        await event.message.answer("Какую услугу вы хотите?", attachments=keyboard(SERVICES))

    @dp.message_created(Booking.service)
    async def service(event: MessageCreated, context: RedisContext) -> None:
        chosen = pick(event.message.body.text or "", SERVICES)
        if chosen is None:
            await event.message.answer("Выберите услугу кнопкой.", attachments=keyboard(SERVICES))
            return
        await context.update_data(service=chosen)
        await context.set_state(Booking.specialist)
        await event.message.answer("К какому мастеру записать?", attachments=keyboard(MASTERS))

    @dp.message_created(Booking.specialist)
    async def specialist(event: MessageCreated, context: RedisContext) -> None:
        chosen = pick(event.message.body.text or "", MASTERS)
        if chosen is None:
            await event.message.answer("Выберите мастера кнопкой.", attachments=keyboard(MASTERS))
            return
        await context.update_data(specialist=chosen)
        await context.set_state(Booking.day)
        await event.message.answer(
            "На какой день записать? Например, «завтра», «в пятницу» или «25.12».")

    @dp.message_created(Booking.day)
    async def day(event: MessageCreated, context: RedisContext) -> None:
        today = datetime.now(ZONE).date()
        chosen = parse_day(event.message.body.text or "", today)
        if chosen is None:
            await event.message.answer("Не поняла дату. Например, «завтра» или «25.12».")
            return
        if chosen < today:
            await event.message.answer(
                "Этот день уже прошёл. Выберите, пожалуйста, сегодня или позже.")
            return
        await context.update_data(day=chosen.isoformat())
        await context.set_state(Booking.time)
        await event.message.answer(f"Свободное время на {day_ru(chosen)}:",
                                   attachments=keyboard(SLOTS))

    @dp.message_created(Booking.time)
    async def time_(event: MessageCreated, context: RedisContext) -> None:
        chosen = pick(event.message.body.text or "", SLOTS)
        if chosen is None:
            await event.message.answer("Выберите, пожалуйста, время из списка кнопками.",
                                       attachments=keyboard(SLOTS))
            return
        await context.update_data(time=chosen)
        await context.set_state(Booking.consent)
        await event.message.answer(
            "Чтобы записать вас и напомнить о визите, нам нужны ваше имя и телефон. "
            "Вы согласны на обработку персональных данных?", attachments=keyboard(["Да", "Нет"]))

    @dp.message_created(Booking.consent)
    async def consent(event: MessageCreated, context: RedisContext) -> None:
        answer = (event.message.body.text or "").strip().lower()
        if answer not in YES | NO:
            await event.message.answer("Ответьте, пожалуйста, «да» или «нет».")
            return
        await context.update_data(consent=answer in YES, consent_at=datetime.now(ZONE).isoformat())
        if answer in NO:
            await context.set_state(Booking.confirm)
            await event.message.answer(await summary(context))
            return
        await context.set_state(Booking.name)
        await event.message.answer("Как вас зовут?")

    @dp.message_created(Booking.name)
    async def name(event: MessageCreated, context: RedisContext) -> None:
        await context.update_data(name=(event.message.body.text or "").strip()[:100])
        await context.set_state(Booking.phone)
        await event.message.answer(
            "Ваш номер телефона? Можно нажать кнопку «Поделиться номером».")

    @dp.message_created(Booking.phone)
    async def phone(event: MessageCreated, context: RedisContext) -> None:
        parsed = parse_phone(event.message.body.text or "")
        if parsed is None:
            await event.message.answer(
                "Не получилось разобрать номер. Напишите, например, +7 999 123-45-67.")
            return
        await context.update_data(phone=parsed)
        await context.set_state(Booking.confirm)
        await event.message.answer(await summary(context))

    @dp.message_created(Booking.confirm)
    async def confirm(event: MessageCreated, context: RedisContext) -> None:
        answer = (event.message.body.text or "").strip().lower()
        if answer not in YES:
            await context.set_state(Booking.service)
            await event.message.answer("Какую услугу вы хотите?", attachments=keyboard(SERVICES))
            return
        data = await context.get_data()
        visit = datetime.fromisoformat(f"{data['day']}T{data['time']}").replace(tzinfo=ZONE)
        user = event.message.sender.user_id if event.message.sender else 0
        await remind(redis, user, visit)
        await context.set_state(None)
        await event.message.answer(
            f"Готово! Ждём вас {day_ru(visit.date())} в {data['time']}. "
            "Напомним за сутки и за 2 часа.")

    return dp


async def summary(context: RedisContext) -> str:
    data = await context.get_data()
    day = date.fromisoformat(data["day"])
    return (f"Проверьте, пожалуйста:\n{data['service']}, мастер: {data['specialist']}\n"
            f"{day_ru(day)} в {data['time']}\nВсё верно?")


async def remind(redis: Redis, user: int, visit: datetime) -> None:
    """Two reminders as a hand-written bot keeps them: a sorted set polled by a worker."""
    for key, before in (("visit-24h", timedelta(hours=24)), ("visit-2h", timedelta(hours=2))):
        member = json.dumps({"user": user, "key": key})
        await redis.zadd("peer:reminders", {member: (visit - before).timestamp()})


async def serve(port: int, redis_url: str, *, isolate: bool = True) -> None:
    redis = Redis.from_url(redis_url)
    bot = Bot(os.environ["MAX_TOKEN"])
    bot.set_api_url(os.environ["MAX_API_URL"])
    webhook = AiohttpMaxWebhook(dp=build(redis, isolate=isolate), bot=bot,
                                secret=os.environ["MAX_WEBHOOK_SECRET"])
    app = webhook.create_app(path="/max/webhook")
    app.router.add_get("/healthz", lambda _r: _ok())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await redis.aclose()


async def _ok() -> web.Response:
    return web.json_response({"ok": True})


def main(*, isolate: bool = True, doc: str | None = None) -> None:
    parser = argparse.ArgumentParser(description=doc or __doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    run = uvloop.run if args.loop == "uvloop" else asyncio.run
    run(serve(args.port, args.redis_url, isolate=isolate))


if __name__ == "__main__":
    main()

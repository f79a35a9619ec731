"""The production files in deploy/: the systemd unit passes ``systemd-analyze verify`` and runs
``svyaz run``; Debian's nginx with deploy/nginx/svyaz.conf (a test certificate from trustme)
serves ``svyaz run`` over TLS: the web chat's socket, a VK Callback API message and its reply,
and the plain-HTTP redirect."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import trustme
from bots_harness import FLOWS

from tests.bots.test_processes import Bot, clean_env, free_port
from tests.fakes.vk import FakeVk

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NGINX = "/usr/sbin/nginx"
VK_SECRET = "vk-callback-secret"
VK_CONFIRMATION = "c0nf1rm"
pytestmark = pytest.mark.slow


def test_the_systemd_unit_verifies_and_starts_svyaz_run(tmp_path: Path) -> None:
    unit = (DEPLOY / "svyaz.service").read_text(encoding="utf-8")
    assert "\nExecStart=/srv/svyaz/.venv/bin/svyaz run\n" in unit
    assert "\nEnvironmentFile=/etc/svyaz/svyaz.env\n" in unit
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian's systemd package)")
    svyaz = Path(sys.executable).with_name("svyaz")
    env_file = tmp_path / "svyaz.env"
    env_file.write_text((DEPLOY / "svyaz.env.example").read_text(encoding="utf-8"))
    local = tmp_path / "svyaz.service"
    local.write_text(unit.replace("/srv/svyaz/.venv/bin/svyaz", str(svyaz))
                     .replace("/etc/svyaz/svyaz.env", str(env_file)), encoding="utf-8")
    done = subprocess.run([analyze, "verify", str(local)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def nginx_config(folder: Path, *, https: int, http: int, upstream: int,
                 cert: Path, key: Path) -> Path:
    """deploy/nginx/svyaz.conf with only its machine-specific values replaced (each must be
    found, so the test follows the file), inside a main file for an unprivileged run."""
    site = (DEPLOY / "nginx" / "svyaz.conf").read_text(encoding="utf-8")
    for old, new in (
        ("/etc/letsencrypt/live/bot.example.ru/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/bot.example.ru/privkey.pem", str(key)),
        ("    listen [::]:443 ssl http2;\n", ""),
        ("    listen [::]:80;\n", ""),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
        ("listen 80;", f"listen 127.0.0.1:{http};"),
        ("server 127.0.0.1:8080;", f"server 127.0.0.1:{upstream};"),
        ("/var/www/letsencrypt", str(folder)),
        ("bot.example.ru", "localhost"),
    ):
        assert old in site, f"deploy/nginx/svyaz.conf no longer has {old!r}"
        site = site.replace(old, new)
    (folder / "svyaz.conf").write_text(site, encoding="utf-8")
    temp = " ".join(f"{kind}_temp_path {folder / kind};"
                    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main = folder / "nginx.conf"
    main.write_text(
        f"daemon off;\nmaster_process off;\npid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'} info;\nevents {{}}\n"
        f"http {{\n  access_log {folder / 'access.log'};\n  {temp}\n"
        f"  include {folder / 'svyaz.conf'};\n}}\n", encoding="utf-8")
    return main


@pytest.fixture
def nginx_binary() -> str:
    if not os.access(NGINX, os.X_OK):
        pytest.skip(f"Debian's nginx is not installed ({NGINX}): apt-get install nginx")
    return NGINX


@pytest.fixture
async def vk_fake() -> AsyncIterator[FakeVk]:
    async with FakeVk() as fake:
        yield fake


@pytest.fixture
def tls(tmp_path: Path) -> tuple[trustme.CA, Path, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    chain, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(key))
    cert.cert_chain_pems[0].write_to_path(str(chain))
    return ca, chain, key


async def listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text() if log.exists() else "nginx exited"
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    raise AssertionError("nginx did not listen")


async def test_nginx_with_tls_in_front_of_svyaz_run(
    nginx_binary: str, vk_fake: FakeVk, tls: tuple[trustme.CA, Path, Path], tmp_path: Path
) -> None:
    ca, chain, key = tls
    https, http, svyaz_port = free_port(), free_port(), free_port()
    public = f"https://localhost:{https}"
    bot = Bot(clean_env(port=str(svyaz_port), data_dir=str(tmp_path / "data"),
                        flows=str(FLOWS), public_url=public, trusted_proxies="127.0.0.1",
                        vk_token=vk_fake.token, vk_group_id=str(vk_fake.group_id),
                        vk_api_url=vk_fake.api_url, vk_mode="callback", vk_secret=VK_SECRET,
                        vk_confirmation=VK_CONFIRMATION), tmp_path / "svyaz.log")
    folder = tmp_path / "nginx"
    folder.mkdir()
    main = nginx_config(folder, https=https, http=http, upstream=svyaz_port, cert=chain, key=key)
    nginx = subprocess.Popen([nginx_binary, "-c", str(main), "-p", str(folder)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await bot.ready()
        await listening(https, nginx, folder / "error.log")
        context = ssl.create_default_context()
        ca.configure_trust(context)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as web:
            await _through_nginx(web, public, http, vk_fake)
        assert bot.stop() == 0
        assert "Traceback" not in bot.log.read_text()
    finally:
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            nginx.kill()
            nginx.wait()
        if bot.proc.poll() is None:
            bot.stop(signal.SIGKILL)


async def _through_nginx(web: aiohttp.ClientSession, public: str, http: int,
                         vk_fake: FakeVk) -> None:
    async with web.get(f"http://127.0.0.1:{http}/chat", allow_redirects=False,
                       headers={"Host": "localhost"}) as resp:
        assert resp.status == 301
        assert resp.headers["Location"] == "https://localhost/chat"
    async with web.get(f"{public}/healthz") as resp:
        assert resp.status == 200, await resp.text()
    # the web chat: a WebSocket upgraded through nginx, a message and the bot's answer back
    ws = await web.ws_connect(f"{public}/chat/ws", headers={"Origin": public})
    await ws.send_json({"type": "hello", "session": None})
    assert (await ws.receive_json(timeout=15))["type"] == "welcome"
    await ws.send_json({"type": "text", "text": "привет", "id": "m1"})
    frame = await ws.receive_json(timeout=15)
    while frame["type"] == "typing":
        frame = await ws.receive_json(timeout=15)
    assert (frame["type"], frame["text"]) == ("reply", "Как вас зовут?")
    await ws.close()
    # VK's Callback API over https: the confirmation string, then a message and its reply
    async with web.post(f"{public}/vk/callback",
                        json={"type": "confirmation", "group_id": vk_fake.group_id}) as resp:
        assert (resp.status, await resp.text()) == (200, VK_CONFIRMATION)
    envelope = {**vk_fake.message_new(901, "эхо"), "secret": VK_SECRET}
    # as from VK's own servers: nginx appends this machine to the address it was given, and
    # svyaz takes VK's (a POST whose request is cloned with it: it used to be a 500)
    async with web.post(f"{public}/vk/callback", json=envelope,
                        headers={"X-Forwarded-For": "95.142.192.1"}) as resp:
        assert (resp.status, await resp.text()) == (200, "ok")
    deadline = time.monotonic() + 15
    while not [m for m in vk_fake.sent if m.peer_id == 901] and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert [m.message for m in vk_fake.sent if m.peer_id == 901] == ["Говорите."]

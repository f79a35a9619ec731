"""/api/v1 against its own OpenAPI document: schemathesis with every check, on a live app.

Two runs: first without the erasure (so the seeded customer stays for every other operation
to reach its real logic), then every operation. Any failure (an undocumented status, a
schema-valid request refused, a response off its schema, a 5xx, auth ignored...) fails."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from desk_client import desk_app, store_of

from flows.broadcast import BroadcastSpec
from storage.embedded import EmbeddedRedis
from storage.history import HistoryEntry

pytestmark = pytest.mark.slow


@pytest.fixture
def redis_url(embedded_redis: EmbeddedRedis) -> str:
    """The embedded Redis only, for the API's contract: no behaviour of a Redis server is under
    test here (tests/storage tests each on every server), and this file is among the suite's
    slowest: once, not once per server."""
    return embedded_redis.url


ST = Path(sys.executable).parent / "st"
TOKEN = "t0ken-for-schemathesis"


async def _st(url: str, cwd: Path, *extra: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(ST), "run", f"{url}/api/v1/openapi.json", "--checks", "all",
        "-H", f"Authorization: Bearer {TOKEN}", "--max-examples", "25", "--seed", "15",
        "--no-color", *extra, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode(errors="replace")


async def test_schemathesis_finds_nothing(redis_url: str, bot_prefix: str,
                                          tmp_path: Path) -> None:
    async with desk_app(redis_url, bot_prefix, tmp_path, api_token=TOKEN) as (app, client):
        store = store_of(app)
        customer = await store.identities.resolve("web:schemathesis")
        await store.history.append(customer, HistoryEntry(1.0, "web", "in", "Здравствуйте"))
        await store.broadcasts.create("seeded", BroadcastSpec(
            title="t", kind="service", segment="all_who_wrote", text="x").model_dump_json())
        (tmp_path / "schemathesis.toml").write_text(
            f'[parameters]\n"path.customer" = "{customer}"\n"path.broadcast" = "seeded"\n',
            encoding="utf-8")
        url = str(client.make_url("")).rstrip("/")
        code, out = await _st(url, tmp_path, "--exclude-method", "DELETE")
        assert code == 0, out
        assert "passed" in out
        code, out = await _st(url, tmp_path)
        assert code == 0, out

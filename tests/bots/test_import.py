"""``svyaz import customers.csv``: the dry run lists the customers and every refused row with
its reason; ``--yes`` creates them with consents (date, source) and tags, reachable by the
segments; a phone the base already holds is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bots.audience import dry_run
from bots.cli import main
from flows.segments import Segment
from storage.embedded import EmbeddedRedis
from storage.store import Store

CSV = """name;phone;email;consent_personal_data;consent_ads;source;tags
Анна;8 916 123-45-67;;2024-05-01;2024-05-01;анкета в салоне;"vip; постоянный"
Борис;;boris@mail.ru;01.06.2024;;сайт;
Вера;12345;;2024-05-01;;анкета;
Глеб;;;2024-05-01;;анкета;
Дина;+7 916 123 45 67;;2024-05-01;;анкета;
Егор;+7 903 000-00-01;;;;;
Жанна;+7 903 000-00-02;;2024-13-45;;анкета;
Зоя;+7 903 000-00-03;;2024-05-01;;анкета;Не Метка!
"""


@pytest.fixture
def env(embedded_redis: EmbeddedRedis, bot_prefix: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SVYAZ_REDIS_URL", embedded_redis.url)
    monkeypatch.setenv("SVYAZ_BOT", bot_prefix)
    monkeypatch.setenv("SVYAZ_LANG", "ru")
    path = tmp_path / "customers.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


def _profiles(url: str, bot: str) -> list[tuple[str | None, str | None, bool, tuple[str, ...]]]:
    async def read() -> list[tuple[str | None, str | None, bool, tuple[str, ...]]]:
        store = Store.from_url(url, bot=bot)
        try:
            found = []
            async for batch in store.audience.batches():
                for facts in batch:
                    p = await store.profiles.get(facts.customer)
                    found.append((p.name, p.phone, p.ads_consent, p.tags))
            assert await dry_run(store, {"all": Segment()}) == {"all": {}}  # no account yet
            return sorted(found, key=lambda r: r[0] or "")
        finally:
            await store.close()
    return asyncio.run(read())


def test_dry_run_then_import(env: Path, embedded_redis: EmbeddedRedis, bot_prefix: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(env)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "строка 2: будет клиент Анна, +79161234567; метки: vip, постоянный"
    assert out[1] == "строка 3: будет клиент Борис, boris@mail.ru; метки: —"
    refused = "\n".join(out[2:-1])
    assert "строка 4: отклонена — телефон «12345» не похож на номер" in refused
    assert "строка 5: отклонена — нет ни телефона, ни e-mail" in refused
    assert "строка 6: отклонена — +79161234567 уже есть в строке 2" in refused
    assert "строка 7: отклонена — нет даты согласия на обработку персональных данных" in refused
    assert "строка 8: отклонена — дата «2024-13-45» не читается" in refused
    assert "строка 9: отклонена — метка «не метка!» не годится" in refused
    assert out[-1] == "проверка: создать 2, отклонить 6; чтобы создать, добавьте --yes"
    assert _profiles(embedded_redis.url, bot_prefix) == []  # the dry run created nothing
    assert main(["import", str(env), "--yes"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "создано клиентов: 2, отклонено строк: 6")
    assert _profiles(embedded_redis.url, bot_prefix) == [
        ("Анна", "+79161234567", True, ("vip", "постоянный")),
        ("Борис", None, False, ())]
    assert main(["import", str(env)]) == 0  # again: Анна's phone is in the base now
    assert "телефон +79161234567 уже у клиента в базе" in capsys.readouterr().out

"""A process's name in its data folder: a slot each, taken back after a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flows.types import Reply
from storage.instance import Instance, InstanceError
from storage.store import Store
from tests.held import holds


def test_each_process_of_a_folder_gets_its_own_slot_and_a_stable_name(tmp_path: Path) -> None:
    first, second = Instance.claim(tmp_path), Instance.claim(tmp_path)
    assert (first.slot, second.slot) == (0, 1)
    assert first.name != second.name
    first.release()
    again = Instance.claim(tmp_path)  # the lowest free slot, with its name
    assert (again.slot, again.name) == (0, first.name)
    with pytest.raises(InstanceError, match="taken"):
        Instance.claim(tmp_path, slots=2)
    again.release()
    second.release()


def test_a_killed_process_leaves_its_slot_and_name_to_the_next(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import time
        from storage.instance import Instance
        print(Instance.claim({str(tmp_path)!r}).name, flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    name = proc.stdout.readline().strip()
    assert Instance.claim(tmp_path).slot == 1  # slot 0 is the live process's
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    successor = Instance.claim(tmp_path)
    assert (successor.slot, successor.name) == (0, name)


def test_an_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(InstanceError, match="cannot take a slot"):
        Instance.claim(blocker)


async def test_only_locks_and_replies_of_the_name_are_taken_over(redis_url: str,
                                                                 bot_prefix: str) -> None:
    dead, live = "a1a1a1a1a1a1", "b2b2b2b2b2b2"
    stores = {name: Store.from_url(redis_url, bot=bot_prefix, instance=name)
              for name in (dead, live)}
    successor = Store.from_url(redis_url, bot=bot_prefix, instance=dead)
    try:
        for n in range(3):
            await stores[dead].states.locks.acquire(f"d{n}")
        kept = await stores[live].states.locks.acquire("l0")
        left = await stores[dead].outbox.put("d0", "max", "1", Reply("не дошло"))
        handed = await stores[dead].outbox.put("d1", "max", "2", Reply("уже у другого"))
        assert [e.id for e in await stores[live].outbox.claim([handed])] == [handed]
        theirs = await stores[live].outbox.put("l0", "max", "3", Reply("отправляется"))

        assert sorted(await successor.states.breaker.break_mine()) == ["d0", "d1", "d2"]
        assert await holds(successor, kept)
        assert [e.id for e in await successor.outbox.inherit()] == [left]
        assert await successor.outbox.inherit() == []  # (taken: now leased, not again)
        assert await successor.outbox.get(theirs) is not None
        for n in range(3):  # free at once
            locks = successor.states.locks
            await locks.release(await locks.acquire(f"d{n}", wait=0.1))
    finally:
        for store in (*stores.values(), successor):
            await store.close()

"""The embedded Redis keeps its data across restarts and dies with the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import redis

from storage.embedded import EmbeddedRedis, EmbeddedRedisError


def test_data_survives_a_restart(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as server:
        client = redis.Redis(unix_socket_path=server.socket_path)
        client.set("k", "v")
        client.close()
    with EmbeddedRedis(tmp_path) as server:
        client = redis.Redis(unix_socket_path=server.socket_path)
        assert client.get("k") == b"v"
        client.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie waiting for its reaper is as good as gone
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_server_dies_when_its_parent_is_killed(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from storage.embedded import EmbeddedRedis
        server = EmbeddedRedis({str(tmp_path)!r})
        server.start()
        assert server._proc is not None
        print(server._proc.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    assert _alive(child_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child_pid), "embedded redis outlived the svyaz process that started it"


def test_ctrl_c_in_a_terminal_does_not_reach_the_server(tmp_path: Path) -> None:
    """A terminal's Ctrl+C signals svyaz's whole process group: the server must not be in it.

    Before, the server stopped at once, svyaz's supervisor logged an ERROR and started it again
    in the middle of the shutdown, and the drain's writes met a Redis that was not there.
    """
    with EmbeddedRedis(tmp_path) as server:
        assert server._proc is not None
        assert os.getpgid(server._proc.pid) != os.getpgrp()
        client = redis.Redis(unix_socket_path=server.socket_path)
        assert client.ping()
        client.close()


def test_a_second_server_on_one_data_folder_is_refused(tmp_path: Path) -> None:
    """Two servers on one folder split the dialogues and write one append-only file at once."""
    with EmbeddedRedis(tmp_path) as first:
        client = redis.Redis(unix_socket_path=first.socket_path)
        client.set("k", "v")
        second = EmbeddedRedis(tmp_path, folder_wait=0.3)
        with pytest.raises(EmbeddedRedisError, match="in use by another svyaz process") as info:
            second.start()
        assert info.value.said is not None  # `svyaz run` says it to the owner in Russian
        assert info.value.said.render("ru").startswith(
            f"папкой данных {tmp_path} уже пользуется другой процесс svyaz")
        assert client.get("k") == b"v"  # the first one's socket was left alone
        client.close()
    with EmbeddedRedis(tmp_path) as again:  # free once the first has stopped
        assert again.running


def test_the_folder_stays_taken_while_a_dying_servers_redis_lives(tmp_path: Path) -> None:
    """The server inherits the folder lock: an orphan (or one still flushing) keeps it."""
    first = EmbeddedRedis(tmp_path)
    first.start()
    assert first._proc is not None
    orphan = first._proc
    first._folder.release()  # as if the svyaz process that started it had died
    try:
        with pytest.raises(EmbeddedRedisError):
            EmbeddedRedis(tmp_path, folder_wait=0.3).start()
    finally:
        orphan.terminate()
        orphan.wait()
        first._proc = None
    with EmbeddedRedis(tmp_path) as again:
        assert again.running


def test_a_start_racing_the_final_close_leaves_no_server(tmp_path: Path) -> None:
    """The runtime's supervisor may be starting the server again in a thread when shutdown
    closes it: the close waits for that start and stops what it started; a start that comes
    after the close is refused (nobody would stop that server)."""
    server = EmbeddedRedis(tmp_path)
    server.start()
    assert server._proc is not None
    server._proc.kill()  # died: the supervisor starts it again...
    server._proc.wait()
    starting = threading.Thread(target=server.start)
    starting.start()
    time.sleep(0.005)  # ...while svyaz stops
    server.close()
    starting.join(10)
    assert not server.running
    with pytest.raises(EmbeddedRedisError, match="closed"):
        server.start()
    with EmbeddedRedis(tmp_path) as again:  # the folder was let go
        assert again.running

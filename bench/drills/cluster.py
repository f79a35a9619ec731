"""A throw-away 3-master Redis Cluster for drills (Debian's redis-server and redis-cli), bound
to one address, started in a folder and torn down with it. The storage tests' session fixture
(tests/storage/conftest.py) starts its cluster with this too."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SERVER = "/usr/bin/redis-server"
CLI = "/usr/bin/redis-cli"


def _free_port(host: str) -> int:
    """A port free for the node and for its bus port (+10000)."""
    while True:
        with socket.socket() as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if port + 10_000 < 65_536:
            with socket.socket() as bus:
                try:
                    bus.bind((host, port + 10_000))
                except OSError:
                    continue
            return port


def _free_ports(host: str, count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = _free_port(host)
        if port not in ports:
            ports.append(port)
    return ports


def _cli(host: str, port: int, *args: str) -> str:
    done = subprocess.run([CLI, "-h", host, "-p", str(port), *args], capture_output=True,
                          text=True, timeout=30, check=False)
    return done.stdout + done.stderr


def _wait(check: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis cluster: {what} not reached")
        time.sleep(0.05)


@contextmanager
def redis_cluster(folder: Path, host: str = "127.0.0.1", nodes: int = 3,
                  ports: list[int] | None = None) -> Iterator[str]:
    """A running cluster; yields its ``redis+cluster://`` URL (svyaz's SVYAZ_REDIS_URL). Its
    nodes listen on ``ports`` when given (each with ``port + 10000`` free for the bus)."""
    procs: list[subprocess.Popen[bytes]] = []
    ports = list(ports) if ports else _free_ports(host, nodes)
    try:
        for port in ports:
            data = folder / f"node-{port}"
            data.mkdir(parents=True)
            procs.append(subprocess.Popen(
                [SERVER, "--port", str(port), "--bind", host, "--cluster-enabled", "yes",
                 "--cluster-config-file", str(data / "nodes.conf"), "--cluster-node-timeout",
                 "3000", "--save", "", "--appendonly", "no", "--dir", str(data),
                 "--logfile", str(data / "redis.log"), "--protected-mode", "no"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL))
        for port in ports:
            _wait(lambda port=port: "PONG" in _cli(host, port, "ping"), f"node {port} up")
        created = subprocess.run(
            [CLI, "--cluster", "create", *(f"{host}:{p}" for p in ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, text=True, timeout=60, check=False)
        if created.returncode != 0:
            raise RuntimeError(f"redis cluster: create failed: {created.stdout}{created.stderr}")
        for port in ports:
            _wait(lambda port=port: "cluster_state:ok" in _cli(host, port, "cluster", "info"),
                  "state ok")
        yield "redis+cluster://" + ",".join(f"{host}:{p}" for p in ports)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

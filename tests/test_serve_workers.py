"""`chipwatch serve --workers N`: each worker listens on its own socket (SO_REUSEPORT), so a pool
of connections opened together is spread over the workers; a dead worker is replaced on its
socket; a port already in use is refused with a clear error; SIGTERM stops every worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from desk_server import Server, free_port, start

POOL = 32  # connections opened together, as a client's pool would
H100_TO_DE = {"transaction": {"item": "H100 SXM5 80GB", "destination": "DE", "quantity": 8, "date": "2025-03-01"}}


def workers_of(server: Server) -> list[int]:
    """The server's worker processes (children of the `chipwatch serve` process)."""
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == server.proc.pid:
                kids.append(int(entry.name))
    # multiprocessing's resource tracker is a child too; workers are the ones that listen.
    return [pid for pid in kids if _listening_inodes(pid)]


def _socket_inodes(pid: int) -> set[str]:
    out = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(target[len("socket:["):-1])
    return out


def _tcp_table() -> list[list[str]]:
    return [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]


def _listening_inodes(pid: int) -> set[str]:
    mine = _socket_inodes(pid)
    return {row[9] for row in _tcp_table() if row[3] == "0A" and row[9] in mine}


def established_to(port: int, pid: int) -> int:
    """Connections worker `pid` holds to its listening port (state 01 = ESTABLISHED)."""
    mine = _socket_inodes(pid)
    return sum(1 for row in _tcp_table()
               if row[3] == "01" and int(row[1].split(":")[1], 16) == port and row[9] in mine)


@pytest.fixture
def two_workers(tmp_path: Path):
    server = start(tmp_path / "home", workers=2)
    yield server
    server.stop()


def test_each_worker_listens_on_a_socket_of_its_own(two_workers: Server) -> None:
    """The mechanism: under uvicorn's supervisor both workers hold the one listening socket (the
    same inode), and a pool opened together went 80-88 % to one worker under load."""
    deadline = time.monotonic() + 30
    while len(workers_of(two_workers)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    pids = workers_of(two_workers)
    assert len(pids) == 2, pids
    first, second = (_listening_inodes(pid) for pid in pids)
    assert len(first) == len(second) == 1 and first != second, (first, second)


def test_a_pool_of_connections_is_spread_over_the_workers(two_workers: Server) -> None:
    port = int(two_workers.base.rsplit(":", 1)[1])
    deadline = time.monotonic() + 30
    while len(workers_of(two_workers)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    pids = workers_of(two_workers)
    assert len(pids) == 2, pids
    clients = [two_workers.client(two_workers.admin_key) for _ in range(POOL)]
    try:
        for c in clients:  # each client keeps its one connection open
            assert c.post("/v1/determine", json=H100_TO_DE).status_code == 200
        held = {pid: established_to(port, pid) for pid in pids}
    finally:
        for c in clients:
            c.close()
    assert sum(held.values()) == POOL, held
    assert all(n >= POOL // 8 for n in held.values()), held  # spread by the kernel's hash of each connection


def test_a_dead_worker_is_replaced_and_the_server_keeps_answering(two_workers: Server) -> None:
    deadline = time.monotonic() + 30
    while len(workers_of(two_workers)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    victim, survivor = workers_of(two_workers)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = workers_of(two_workers)
        if len(now) == 2 and victim not in now:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"no replacement for worker {victim}: {workers_of(two_workers)}")
    assert survivor in now
    with two_workers.client(two_workers.admin_key) as c:
        for _ in range(20):  # fresh connections: each lands on one of the two sockets
            r = c.post("/v1/determine", json=H100_TO_DE, headers={"Connection": "close"})
            assert r.status_code == 200, r.text


def test_sigterm_stops_every_worker(tmp_path: Path) -> None:
    server = start(tmp_path / "home", workers=2)
    deadline = time.monotonic() + 30
    while len(workers_of(server)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    pids = workers_of(server)
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(30)
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3]


def test_a_port_in_use_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        run = subprocess.run([sys.executable, "-m", "chipwatch", "serve", "--home", str(tmp_path / "home"),
                              "--port", str(port), "--workers", "2"], capture_output=True, text=True, timeout=60,
                             env={**os.environ, "CHIPWATCH_HOME": str(tmp_path / "home")})
    assert run.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in run.stderr, run.stderr[-1500:]
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1)

"""The server's worker processes, each listening on its own socket bound to the same port.

uvicorn's own supervisor binds one socket and shares it: whichever worker wakes first accepts
every connection waiting, so a client that opens its connections together (an ERP's pool, the
load benchmark's 25) lands mostly on one worker. Measured with benchmarks/api_load.py at
500 req/s over 2 workers: one worker served 80-88 % of the requests and ran near a full core while
the other idled. With SO_REUSEPORT each worker has a socket of its own and the kernel spreads new
connections over them. The sockets stay open in this (parent) process, so a worker that dies is
replaced on the same socket and no waiting connection is lost.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from types import FrameType

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Process

log = logging.getLogger("uvicorn.error")
LISTEN_BACKLOG = 2048
CHECK_EVERY_S = 0.5  # how often the parent looks for dead workers


def can_share_port() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def port_is_free(host: str, port: int) -> None:
    """Raise OSError if anything listens on host:port: binding with SO_REUSEPORT would otherwise
    join a server of the same user already there and silently share its connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a port in TIME_WAIT is free
        probe.bind((host, port))


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port that other sockets of this user may bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


class ReusePortWorkers:
    """Run `config` in `workers` processes, one socket each; replace any that dies; stop all on
    SIGINT or SIGTERM. A worker that fails while starting (a broken app or data folder) stops the
    server instead of being restarted for ever."""

    def __init__(self, config: uvicorn.Config, workers: int) -> None:
        self.config = config
        port_is_free(config.host, config.port)
        self.sockets = [reuse_port_socket(config.host, config.port) for _ in range(workers)]
        self.processes: list[Process] = []
        self.should_exit = threading.Event()
        self.failed = False

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self.should_exit.set()

    def run(self) -> bool:
        """Serve until told to stop; False if a worker could not start."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._stop)
        for sock in self.sockets:
            self.processes.append(self._start(sock))
        while not self.should_exit.wait(CHECK_EVERY_S):
            self._replace_dead()
        for p in self.processes:
            p.terminate()
        for p in self.processes:
            p.join()
        for sock in self.sockets:
            sock.close()
        return not self.failed

    def _start(self, sock: socket.socket) -> Process:
        process = Process(self.config, [sock])
        process.start()
        return process

    def _replace_dead(self) -> None:
        for i, p in enumerate(self.processes):
            if p.process.is_alive():
                continue
            p.join()
            if p.exitcode == STARTUP_FAILURE:
                log.error("worker [%s] failed to start; stopping the server", p.pid)
                self.failed = True
                self.should_exit.set()
                return
            log.info("worker [%s] died (exit code %s); starting another on its socket", p.pid, p.exitcode)
            self.processes[i] = self._start(self.sockets[i])
